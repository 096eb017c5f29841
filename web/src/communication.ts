// МЦУ Hub: communication errors (decree 2.1.3) — the last check per organisation, the findings of one organisation
// with their explanation and the excerpt of the answer, and a box to try one answer's text.
import './style.css';
import './intake.css';
import './communication.css';
import { ApiError, gql } from './api';
import { append, byId, clear, el } from './dom';
import { mountUserBar, requireSession, type Me } from './auth';

interface Kind { code: string; label: string }
interface Row { organizationId: string | null; organizationName: string | null; answers: number; withErrors: number; share: number | null; byKind: Record<string, number> }
interface Finding {
  id: string; kind: string; kindLabel: string; source: string; appealExternalId: string | null; commentId: string | null; organizationName: string | null;
  otherOrganizationName: string | null; explanation: string; excerpt: string; answeredAt: string | null;
}

let me: Me;
let kinds: Kind[] = [];
let selected: Row | null = null;

function showError(e: unknown) {
  const box = byId('error');
  box.textContent = e instanceof ApiError ? e.message : String((e as Error)?.message ?? e);
  box.hidden = false;
}
const pct = (x: number | null) => (x == null ? '—' : `${(Math.round(x * 1000) / 10).toLocaleString('ru-RU')} %`);
const ru = (d: string) => d.split('-').reverse().join('.');

async function loadSummary() {
  const d = await gql<{ communicationLastRun: { periodFrom: string; periodTo: string; answers: number; replies: number; findings: number; finishedAt: string } | null; communicationSummary: Row[] }>(
    `{ communicationLastRun { periodFrom periodTo answers replies findings finishedAt } communicationSummary { organizationId organizationName answers withErrors share byKind } }`);
  const run = d.communicationLastRun;
  byId('run-status').textContent = run
    ? `Последняя проверка: ответы с ${ru(run.periodFrom)} по ${ru(run.periodTo)} — проверено ответов ${run.answers.toLocaleString('ru-RU')} и ответов на страницах ${run.replies.toLocaleString('ru-RU')}, найдено ошибок: ${run.findings.toLocaleString('ru-RU')}.`
    : 'Проверки ещё не было.';
  const head = byId('sum-head');
  clear(head);
  append(head, el('tr', null, el('th', null, 'Организация'), el('th', { class: 'num' }, 'Ответов'), el('th', { class: 'num' }, 'С ошибками'), el('th', { class: 'num' }, 'Доля'),
    ...kinds.map((k) => el('th', { class: 'num' }, k.label))));
  const body = byId('sum-body');
  clear(body);
  if (!d.communicationSummary.length) append(body, el('tr', { class: 'empty' }, el('td', { colspan: String(4 + kinds.length) }, run ? 'Ошибок не найдено.' : 'Запустите проверку.')));
  for (const r of d.communicationSummary) {
    const tr = el('tr', { 'data-org': r.organizationId ?? '' }, el('td', null, r.organizationName ?? 'без организации'), el('td', { class: 'num' }, String(r.answers)),
      el('td', { class: 'num' }, String(r.withErrors)), el('td', { class: 'num' }, pct(r.share)),
      ...kinds.map((k) => el('td', { class: r.byKind[k.code] ? 'num bad' : 'num' }, String(r.byKind[k.code] ?? 0))));
    tr.addEventListener('click', () => { selected = r; for (const x of body.querySelectorAll('tr')) x.classList.toggle('selected', x === tr); void loadFindings().catch(showError); });
    append(body, tr);
  }
}

async function loadFindings() {
  if (!selected) return;
  byId('org-card').hidden = false;
  byId('org-title').textContent = `${selected.organizationName ?? 'Без организации'}: примеры`;
  const kind = byId<HTMLSelectElement>('kind-filter').value || null;
  const d = await gql<{ communicationFindings: { total: number; items: Finding[] } }>(
    `query F($o: ID, $k: String) { communicationFindings(organizationId: $o, kind: $k, first: 50) { total items { id kind kindLabel source appealExternalId commentId organizationName otherOrganizationName explanation excerpt answeredAt } } }`,
    { o: selected.organizationId, k: kind });
  const list = byId('findings');
  clear(list);
  for (const f of d.communicationFindings.items) {
    const where = f.source === 'APPEAL' ? `ответ на обращение ${f.appealExternalId ?? ''}` : `ответ на официальной странице (комментарий ${f.commentId})`;
    append(list, el('li', { class: `k-${f.kind}` },
      el('div', null, el('span', { class: 'kind' }, f.kindLabel), el('span', { class: 'small muted' }, `${where}${f.answeredAt ? `, ${new Date(f.answeredAt).toLocaleDateString('ru-RU')}` : ''}${f.otherOrganizationName ? ` · другой орган: ${f.otherOrganizationName}` : ''}`)),
      el('div', { class: 'small' }, f.explanation),
      el('blockquote', null, f.excerpt)));
  }
  if (d.communicationFindings.total > d.communicationFindings.items.length) append(list, el('li', { class: 'muted small' }, `показано ${d.communicationFindings.items.length} из ${d.communicationFindings.total}`));
}

async function main() {
  me = await requireSession();
  mountUserBar(byId('user-bar'), me);
  const d = await gql<{ communicationKinds: Kind[] }>(`{ communicationKinds { code label } }`);
  kinds = d.communicationKinds;
  const sel = byId<HTMLSelectElement>('kind-filter');
  for (const k of kinds) append(sel, el('option', { value: k.code }, k.label));
  sel.addEventListener('change', () => void loadFindings().catch(showError));
  if (me.role === 'CURATOR' || me.role === 'COORDINATOR') {
    const form = byId<HTMLFormElement>('run-form');
    form.hidden = false;
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      byId('run-status').textContent = 'Проверка…';
      const from = byId<HTMLInputElement>('run-from').value || null, to = byId<HTMLInputElement>('run-to').value || null;
      gql(`mutation R($from: String, $to: String) { runCommunicationCheck(from: $from, to: $to) { findings } }`, { from, to })
        .then(() => loadSummary()).then(() => loadFindings()).catch((e) => { byId('run-status').textContent = e instanceof ApiError ? e.message : String(e); });
    });
  }
  byId<HTMLFormElement>('try-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const out = byId('try-result');
    gql<{ analyseAnswerText: { hits: { kindLabel: string; explanation: string; excerpt: string; kind: string }[]; stanceLabel: string | null } }>(
      `query A($t: String!, $a: String, $p: String) { analyseAnswerText(text: $t, address: $a, author: $p) { hits { kind kindLabel explanation excerpt } stanceLabel } }`,
      { t: byId<HTMLTextAreaElement>('try-text').value, a: byId<HTMLInputElement>('try-address').value || null, p: byId<HTMLInputElement>('try-author').value || null })
      .then((r) => {
        clear(out);
        const a = r.analyseAnswerText;
        append(out, el('p', { class: 'small' }, a.hits.length ? `Найдено: ${a.hits.length}.` : 'Словарь ошибок не нашёл.', a.stanceLabel ? ` Ответ говорит: «${a.stanceLabel}».` : ''));
        const ol = el('ol', { class: 'comm-findings' });
        for (const h of a.hits) append(ol, el('li', { class: `k-${h.kind}` }, el('span', { class: 'kind' }, h.kindLabel), el('div', { class: 'small' }, h.explanation), el('blockquote', null, h.excerpt)));
        append(out, ol);
      }).catch(showError);
  });
  await loadSummary();
}

main().catch(showError);
