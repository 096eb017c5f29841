// МЦУ Hub: «Рекомендации» — the list with filters (state, rule, addressee), each recommendation with its figures, the
// thresholds it was computed with and its evidence (the appeals behind it, opened in place); the coordinator accepts
// (optionally editing the text) or rejects (with a reason); the rules' thresholds are edited with their explanations.
import './style.css';
import './intake.css';
import './recommendations.css';
import { ApiError, gql, loadDistricts, loadThemes, type District, type Theme } from './api';
import { append, byId, clear, el } from './dom';
import { mountUserBar, requireSession, type Me } from './auth';

declare global { interface Window { __recsReady?: boolean } }

interface Spec { key: string; label: string; min: number; max: number; integer: boolean }
interface Rule { code: string; label: string; explanation: string; enabled: boolean; thresholds: Record<string, number>; defaults: Record<string, number>; specs: Spec[] }
interface Rec {
  id: string; ruleCode: string; ruleLabel: string; subjectKey: string; periodFrom: string; periodTo: string; text: string; editedText: string | null;
  figures: Record<string, number | string>; thresholds: Record<string, number>; evidenceAppealIds: string[]; organizationId: string | null; districtId: string | null;
  themeId: string | null; problemId: string | null; status: 'PROPOSED' | 'ACCEPTED' | 'REJECTED'; decidedBy: string | null; decidedAt: string | null; comment: string | null;
}

const DECIDERS = ['CURATOR', 'COORDINATOR'];
const PAGE = 30;
const STATUS_LABEL: Record<Rec['status'], string> = { PROPOSED: 'предложена', ACCEPTED: 'принята', REJECTED: 'отклонена' };
/** Russian names of the figures the rules cite; shares are shown as percentages. */
const FIGURE_LABEL: Record<string, string> = {
  late: 'просрочено или с опозданием', appeals: 'обращений', share: 'доля', cityShare: 'доля по городу', formal: 'формальных ответов', answers: 'ответов',
  appealsYearAgo: 'обращений год назад', growth: 'рост', per1000: 'на 1 000 жителей', per1000YearAgo: 'на 1 000 жителей год назад', reopened: 'возвращалась раз',
  templated: 'шаблонных ответов',
};
const PERCENT = new Set(['share', 'cityShare', 'growth']);
const LIST = `query L($f: RecommendationFilter, $first: Int, $after: String) { recommendations(filter: $f, first: $first, after: $after) { totalCount hasNextPage endCursor
  edges { node { id ruleCode ruleLabel subjectKey periodFrom periodTo text editedText figures thresholds evidenceAppealIds organizationId districtId themeId problemId status decidedBy decidedAt comment } } } }`;

let me: Me;
let rules: Rule[] = [];
let orgs = new Map<string, string>();
let districts = new Map<string, District>();
let themes = new Map<string, Theme>();
let after: string | null = null;

function showError(e: unknown) {
  const box = byId('error');
  box.textContent = e instanceof ApiError || e instanceof Error ? e.message : String(e);
  box.hidden = false;
}
const ruDate = (d: string) => d.split('-').reverse().join('.');
const figure = (k: string, v: number | string) => (typeof v === 'number' ? (PERCENT.has(k) ? `${(Math.round(v * 1000) / 10).toLocaleString('ru-RU')} %` : v.toLocaleString('ru-RU')) : v);

function filter() {
  const st = byId<HTMLSelectElement>('f-status').value;
  const rule = byId<HTMLSelectElement>('f-rule').value;
  const org = byId<HTMLSelectElement>('f-org').value;
  return { ...(st ? { statuses: [st] } : {}), ...(rule ? { ruleCodes: [rule] } : {}), ...(org ? { organizationIds: [org] } : {}) };
}

function subject(r: Rec): HTMLElement {
  const span = el('span', { class: 'rec-subject' });
  if (r.organizationId) append(span, 'адресат: ', el('a', { href: `/control.html?org=${r.organizationId}` }, orgs.get(r.organizationId) ?? `организация ${r.organizationId}`), ' ');
  if (r.districtId) append(span, `район: ${districts.get(r.districtId)?.name ?? r.districtId} `);
  if (r.themeId) append(span, `тема: ${themes.get(r.themeId)?.name ?? r.themeId} `);
  if (r.problemId) append(span, el('a', { href: `/#problem=${r.problemId}` }, `проблема № ${r.problemId}`));
  return span;
}

async function openEvidence(r: Rec, box: HTMLElement) {
  if (!box.hidden) { box.hidden = true; return; }
  box.hidden = false;
  clear(box);
  append(box, el('p', { class: 'muted small' }, 'Загрузка…'));
  const ids = r.evidenceAppealIds.slice(0, 50);
  if (!ids.length) { clear(box); append(box, el('p', { class: 'muted small' }, 'Обращений-доказательств нет (правило о проблеме или о теме без отдельных обращений).')); return; }
  const { recommendation } = await gql<{ recommendation: { evidenceAppeals: { id: string; receivedAt: string; address: string | null; text: string; status: string }[] } | null }>(
    `query E($id: ID!) { recommendation(id: $id) { evidenceAppeals { id receivedAt address text status } } }`, { id: r.id });
  clear(box);
  const tb = el('tbody');
  for (const a of recommendation?.evidenceAppeals ?? []) {
    append(tb, el('tr', { 'data-appeal': a.id }, el('td', { class: 'num' }, `№ ${a.id}`), el('td', null, new Date(a.receivedAt).toLocaleDateString('ru-RU')), el('td', null, a.address ?? '—'),
      el('td', { class: 'rec-ev-text' }, a.text.length > 140 ? `${a.text.slice(0, 140)}…` : a.text)));
  }
  append(box, el('p', { class: 'small muted' }, `Обращения, на которых основана рекомендация (${recommendation?.evidenceAppeals.length ?? 0}${r.evidenceAppealIds.length > ids.length ? ` из ${r.evidenceAppealIds.length}` : ''}):`),
    el('div', { class: 'table-wrap' }, el('table', { class: 'data' }, el('thead', null, el('tr', null, el('th', null, 'Номер'), el('th', null, 'Дата'), el('th', null, 'Адрес'), el('th', null, 'Текст'))), tb)));
}

function card(r: Rec): HTMLElement {
  const node = el('article', { class: `rec ${r.status}`, 'data-id': r.id });
  const figs = el('dl', { class: 'rec-figures' });
  for (const [k, v] of Object.entries(r.figures)) append(figs, el('div', null, el('dt', null, FIGURE_LABEL[k] ?? k), el('dd', null, figure(k, v))));
  const th = Object.entries(r.thresholds).map(([k, v]) => `${rules.find((x) => x.code === r.ruleCode)?.specs.find((s) => s.key === k)?.label ?? k}: ${v}`).join('; ');
  const ev = el('div', { class: 'rec-evidence', hidden: true });
  const evBtn = el('button', { type: 'button', class: 'link small rec-ev-btn' }, `Доказательства: ${r.evidenceAppealIds.length} обращений`);
  evBtn.addEventListener('click', () => void openEvidence(r, ev).catch(showError));
  append(node,
    el('div', { class: 'rec-head' }, el('span', { class: `rec-state ${r.status}` }, STATUS_LABEL[r.status]), el('strong', null, r.ruleLabel),
      el('span', { class: 'muted small' }, ` · ${ruDate(r.periodFrom)} — ${ruDate(r.periodTo)} · № ${r.id}`)),
    el('p', { class: 'rec-text' }, r.editedText ?? r.text),
    r.editedText ? el('p', { class: 'small muted' }, `Исходный текст правила: ${r.text}`) : null,
    el('p', { class: 'small' }, subject(r)),
    figs,
    el('p', { class: 'small muted' }, `Пороги правила при расчёте: ${th}`),
    evBtn, ev);
  if (r.status !== 'PROPOSED') {
    append(node, el('p', { class: 'small muted rec-decision' }, `${r.status === 'ACCEPTED' ? 'Принял' : 'Отклонил'}: ${r.decidedBy ?? '—'}${r.decidedAt ? `, ${new Date(r.decidedAt).toLocaleString('ru-RU')}` : ''}${r.comment ? ` · ${r.comment}` : ''}`));
  } else if (DECIDERS.includes(me.role)) {
    const text = el('textarea', { rows: 3, maxlength: 4000, class: 'rec-edit', 'aria-label': 'Текст рекомендации (можно поправить при принятии)' }) as HTMLTextAreaElement;
    text.value = r.text;
    const comment = el('input', { class: 'rec-comment', maxlength: 2000, placeholder: 'причина отклонения или комментарий', 'aria-label': 'Комментарий' }) as HTMLInputElement;
    const result = el('span', { class: 'small rec-result', 'aria-live': 'polite' });
    const accept = el('button', { type: 'button', class: 'primary rec-accept' }, 'Принять');
    const reject = el('button', { type: 'button', class: 'rec-reject' }, 'Отклонить');
    const decide = async (decision: 'ACCEPT' | 'REJECT') => {
      try {
        const edited = text.value.trim() !== r.text.trim() ? text.value : null;
        await gql(`mutation D($id: ID!, $d: RecommendationDecision!, $t: String, $c: String) { decideRecommendation(id: $id, decision: $d, text: $t, comment: $c) { id status } }`,
          { id: r.id, d: decision, t: decision === 'ACCEPT' ? edited : null, c: comment.value || null });
        await loadList();
      } catch (e) { result.textContent = e instanceof Error ? e.message : String(e); }
    };
    accept.addEventListener('click', () => void decide('ACCEPT'));
    reject.addEventListener('click', () => void decide('REJECT'));
    append(node, el('div', { class: 'rec-actions' }, text, comment, el('div', { class: 'form-actions' }, accept, reject, result)));
  }
  return node;
}

async function loadList(more = false) {
  const data = await gql<{ recommendations: { totalCount: number; hasNextPage: boolean; endCursor: string | null; edges: { node: Rec }[] } }>(LIST,
    { f: filter(), first: PAGE, after: more ? after : null });
  const box = byId('recs-list');
  if (!more) clear(box);
  const c = data.recommendations;
  byId('recs-count').textContent = String(c.totalCount);
  after = c.endCursor;
  byId('recs-more').hidden = !c.hasNextPage;
  if (!c.edges.length && !more) append(box, el('p', { class: 'muted small' }, 'Рекомендаций в этой выборке нет.'));
  for (const { node } of c.edges) box.appendChild(card(node));
}

function renderRules() {
  const box = byId('rules');
  clear(box);
  const editable = DECIDERS.includes(me.role);
  for (const r of rules) {
    const form = el('form', { class: 'rule', 'data-code': r.code, novalidate: true });
    const inputs: [Spec, HTMLInputElement][] = [];
    const fields = el('div', { class: 'rule-fields' });
    for (const s of r.specs) {
      const inp = el('input', { type: 'number', min: s.min, max: s.max, step: s.integer ? 1 : 'any', value: r.thresholds[s.key], disabled: !editable, 'data-key': s.key }) as HTMLInputElement;
      inputs.push([s, inp]);
      append(fields, el('label', { class: 'field inline' }, `${s.label} (${s.key})`, inp, el('span', { class: 'muted small' }, `по умолчанию ${r.defaults[s.key]}; от ${s.min} до ${s.max}`)));
    }
    const enabled = el('input', { type: 'checkbox', checked: r.enabled, disabled: !editable }) as HTMLInputElement;
    const result = el('span', { class: 'small', 'aria-live': 'polite' });
    append(form, el('h3', null, r.label, el('span', { class: 'muted small' }, ` · ${r.code}`)), el('p', { class: 'small' }, r.explanation), fields,
      el('div', { class: 'form-actions' }, el('label', { class: 'small' }, enabled, ' правило включено'), editable ? el('button', { type: 'submit' }, 'Сохранить пороги') : null, result));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const thresholds = Object.fromEntries(inputs.map(([s, i]) => [s.key, Number(i.value)]));
      try {
        const { setRecommendationRule: saved } = await gql<{ setRecommendationRule: Rule }>(
          `mutation S($c: String!, $e: Boolean, $t: JSONObject) { setRecommendationRule(code: $c, enabled: $e, thresholds: $t) { code label explanation enabled thresholds defaults specs { key label min max integer } } }`,
          { c: r.code, e: enabled.checked, t: thresholds });
        rules = rules.map((x) => (x.code === saved.code ? saved : x));
        result.textContent = 'Сохранено. Новые пороги действуют со следующего расчёта.';
      } catch (e) { result.textContent = e instanceof Error ? e.message : String(e); }
    });
    box.appendChild(form);
  }
}

async function main() {
  me = await requireSession();
  mountUserBar(byId('user-bar'), me);
  const [r, o, ds, ts] = await Promise.all([
    gql<{ recommendationRules: Rule[] }>(`{ recommendationRules { code label explanation enabled thresholds defaults specs { key label min max integer } } }`),
    gql<{ organizations: { id: string; name: string; shortName: string | null }[] }>(`{ organizations { id name shortName } }`),
    loadDistricts(), loadThemes(),
  ]);
  rules = r.recommendationRules;
  orgs = new Map(o.organizations.map((x) => [x.id, x.shortName ?? x.name]));
  districts = new Map(ds.map((d) => [d.id, d]));
  themes = new Map(ts.map((t) => [t.id, t]));
  for (const x of rules) append(byId('f-rule'), el('option', { value: x.code }, x.label));
  for (const x of o.organizations) append(byId('f-org'), el('option', { value: x.id }, x.shortName ?? x.name));
  for (const id of ['f-status', 'f-rule', 'f-org']) byId(id).addEventListener('change', () => void loadList().catch(showError));
  byId('recs-more').addEventListener('click', () => void loadList(true).catch(showError));
  const run = byId<HTMLButtonElement>('g-run');
  run.hidden = byId('g-wrap').hidden = !DECIDERS.includes(me.role);
  run.addEventListener('click', async () => {
    run.disabled = true;
    try {
      const from = byId<HTMLInputElement>('g-from').value || null;
      const to = byId<HTMLInputElement>('g-to').value || null;
      const { generateRecommendations: g } = await gql<{ generateRecommendations: { created: number; updated: number; periodFrom: string; periodTo: string; notes: string[] } }>(
        `mutation G($f: String, $t: String) { generateRecommendations(from: $f, to: $t) { created updated periodFrom periodTo notes } }`, { f: from, t: to });
      byId('g-result').textContent = `Период ${ruDate(g.periodFrom)} — ${ruDate(g.periodTo)}: новых ${g.created}, обновлено ${g.updated}. ${g.notes.join(' ')}`;
      await loadList();
    } catch (e) { showError(e); } finally { run.disabled = false; }
  });
  renderRules();
  const wanted = new URLSearchParams(location.hash.slice(1)).get('rec');
  if (wanted) byId<HTMLSelectElement>('f-status').value = '';
  await loadList();
  if (wanted) document.querySelector(`.rec[data-id="${CSS.escape(wanted)}"]`)?.scrollIntoView();
  window.__recsReady = true;
}

main().catch(showError);
