// МЦУ Hub: «Отписки» — formal answers by organisation with their reasons, the largest templates, and the list of
// formal answers with the override control for curators and coordinators (server/quality).
import './style.css';
import './intake.css';
import { ANSWER_QUALITY_FIELDS, ApiError, gql, type AppealFilter } from './api';
import { append, byId, clear, el } from './dom';
import { formatDateTime, formatNumber } from './labels';
import { mountUserBar, requireSession, type Me } from './auth';
import { answerQualityBlock, type AnswerQuality } from './answerQuality';

let me: Me | undefined;
let organizationId: string | null = null;
let organizationName = '';

const REASON_LABELS: Record<string, string> = {
  NO_ACTION: 'нет действия', NO_DATE: 'нет срока', NO_RESPONSIBLE: 'нет исполнителя', NO_PLACE: 'нет места', BOILERPLATE: 'шаблонные фразы',
  VAGUE_PROMISE: 'обещание без срока', FORWARDED: 'переадресация', LAW_ONLY: 'нормы без действий', TEMPLATE: 'шаблон',
  ADDRESS_MISMATCH: 'другой адрес', TOPIC_MISMATCH: 'не о том', SHORT: 'слишком коротко',
};

interface OrgRow { organization: { id: string; name: string } | null; answered: number; formal: number; formalShare: number; reasons: { code: string; count: number }[] }
interface TemplateRow { fingerprint: string; appeals: number; templateSize: number; formal: number; sampleText: string; organizations: { organization: { name: string } | null; appeals: number }[] }
interface FormalNode {
  id: string; externalId: string | null; receivedAt: string; text: string; address: string | null; answerText: string | null;
  organization: { id: string; name: string } | null; theme: { name: string } | null; answerQuality: AnswerQuality | null;
}

function showError(e: unknown): void {
  const box = byId('error');
  box.hidden = false;
  box.textContent = `Ошибка: ${e instanceof ApiError ? e.message : (e as Error).message}`;
}

function filter(): AppealFilter & Record<string, unknown> {
  const f: Record<string, unknown> = {};
  const from = byId<HTMLInputElement>('q-from').value;
  const to = byId<HTMLInputElement>('q-to').value;
  if (from) f.from = new Date(`${from}T00:00:00+07:00`).toISOString();
  if (to) f.to = new Date(new Date(`${to}T00:00:00+07:00`).getTime() + 86_400_000).toISOString();
  return f as AppealFilter & Record<string, unknown>;
}

async function loadOrganizations(): Promise<void> {
  const data = await gql<{ answerQualityByOrganization: OrgRow[] }>(
    `query($f: AppealFilter) { answerQualityByOrganization(filter: $f) { organization { id name } answered formal formalShare reasons { code count } } }`, { f: filter() });
  const body = byId('q-orgs').querySelector('tbody')!;
  clear(body);
  let answered = 0, formal = 0;
  for (const r of data.answerQualityByOrganization) {
    answered += r.answered; formal += r.formal;
    const name = r.organization?.name ?? 'Исполнитель не назначен';
    const link = el('button', { type: 'button', class: 'q-org-link' }, name);
    link.addEventListener('click', () => {
      organizationId = r.organization?.id ?? null;
      organizationName = name;
      void loadFormal().catch(showError);
    });
    const share = el('td', { class: 'num' }, `${Math.round(r.formalShare * 100)} %`);
    share.style.setProperty('--share', String(r.formalShare));
    share.classList.add('q-share');
    append(body, el('tr', null, el('td', null, link), el('td', { class: 'num' }, formatNumber(r.answered)), el('td', { class: 'num' }, formatNumber(r.formal)), share,
      el('td', { class: 'small' }, r.reasons.slice(0, 3).map((x) => `${REASON_LABELS[x.code] ?? x.code} (${x.count})`).join(', '))));
  }
  byId('q-summary').textContent = answered ? `Ответов: ${formatNumber(answered)}, отписок: ${formatNumber(formal)} (${Math.round((formal / answered) * 100)} %)` : 'Ответов за период нет';
}

async function loadTemplates(): Promise<void> {
  const data = await gql<{ answerTemplates: TemplateRow[] }>(
    `query($f: AppealFilter) { answerTemplates(first: 10, minSize: 3, filter: $f) { fingerprint appeals templateSize formal sampleText organizations { organization { name } appeals } } }`,
    { f: { ...filter(), answerQuality: 'FORMAL' } });
  const list = byId('q-templates');
  clear(list);
  if (!data.answerTemplates.length) append(list, el('li', { class: 'muted' }, 'Шаблонов нет'));
  for (const t of data.answerTemplates) {
    append(list, el('li', { class: 'q-template' },
      el('div', { class: 'q-template-text' }, t.sampleText),
      el('div', { class: 'muted small' }, `отписок с этим текстом: ${formatNumber(t.appeals)} (всего обращений с ним: ${formatNumber(t.templateSize)}); `,
        t.organizations.map((o) => `${o.organization?.name ?? 'без исполнителя'} — ${o.appeals}`).join('; '))));
  }
}

async function loadFormal(): Promise<void> {
  const f = { ...filter(), answerQuality: 'FORMAL', ...(organizationId ? { organizationIds: [organizationId] } : {}) };
  const data = await gql<{ appeals: { totalCount: number; edges: { node: FormalNode }[] } }>(
    `query($f: AppealFilter) { appeals(first: 30, filter: $f) { totalCount edges { node { id externalId receivedAt text address answerText organization { id name } theme { name } ${ANSWER_QUALITY_FIELDS} } } } }`, { f });
  byId('q-list-org').textContent = `${organizationId ? `${organizationName}: ` : ''}${formatNumber(data.appeals.totalCount)}, последние ${Math.min(30, data.appeals.totalCount)}`;
  const list = byId('q-list');
  clear(list);
  for (const { node: n } of data.appeals.edges) {
    const card = el('article', { class: 'q-item', 'data-id': n.id },
      el('div', { class: 'muted small' }, `№ ${n.externalId ?? n.id} · ${formatDateTime(n.receivedAt)} · ${n.theme?.name ?? 'тема не определена'} · ${n.organization?.name ?? 'исполнитель не назначен'}`),
      n.address ? el('div', { class: 'small' }, `Адрес: ${n.address}`) : null,
      el('p', { class: 'q-appeal' }, n.text),
      el('p', { class: 'q-answer' }, el('span', { class: 'muted' }, 'Ответ: '), n.answerText ?? ''),
    );
    if (n.answerQuality) append(card, answerQualityBlock(n.id, n.answerQuality, me, () => void loadOrganizations().catch(showError)));
    append(list, card);
  }
}

async function refresh(): Promise<void> {
  byId('error').hidden = true;
  await Promise.all([loadOrganizations(), loadTemplates(), loadFormal()]);
}

async function main(): Promise<void> {
  me = await requireSession();
  mountUserBar(byId('user-bar'), me);
  byId('q-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void refresh().catch(showError);
  });
  await refresh();
  document.body.dataset.ready = '1';
}

main().catch(showError);
