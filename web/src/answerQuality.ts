// The verdict on an answer (по существу / отписка) with its reasons, and the override control for curators and
// coordinators. Used by the appeal card on the map and by the «Отписки» page. API data goes in as text only.
import { ANSWER_QUALITY_FIELDS, ApiError, gql } from './api';
import { append, el } from './dom';
import type { Me } from './auth';

export type AnswerVerdict = 'FORMAL' | 'SUBSTANTIVE';

export interface AnswerQuality {
  verdict: AnswerVerdict;
  modelVerdict: AnswerVerdict;
  score: number;
  reasons: { code: string; text: string; effect: AnswerVerdict }[];
  templateSize: number;
  overridden: boolean;
  overriddenBy: string | null;
  overrideComment: string | null;
}

export { ANSWER_QUALITY_FIELDS };

export const VERDICT_LABELS: Record<AnswerVerdict, string> = { FORMAL: 'Отписка', SUBSTANTIVE: 'Ответ по существу' };

/** Curators and coordinators change verdicts (the server checks it again). */
export const canOverrideQuality = (me: Me | undefined) => !!me && (me.role === 'CURATOR' || me.role === 'COORDINATOR');

export async function overrideAnswerQuality(appealId: string, verdict: AnswerVerdict, comment: string): Promise<AnswerQuality | null> {
  const data = await gql<{ overrideAnswerQuality: { answerQuality: AnswerQuality | null } }>(
    `mutation Override($id: ID!, $v: AnswerVerdict!, $c: String!) { overrideAnswerQuality(appealId: $id, verdict: $v, comment: $c) { id ${ANSWER_QUALITY_FIELDS} } }`,
    { id: appealId, v: verdict, c: comment },
  );
  return data.overrideAnswerQuality.answerQuality;
}

/** The verdict chip, its reasons and (for those who may) the control to change it. */
export function answerQualityBlock(appealId: string, q: AnswerQuality, me: Me | undefined, onChange?: (q: AnswerQuality) => void): HTMLElement {
  const root = el('div', { class: `aq aq-${q.verdict.toLowerCase()}`, 'data-verdict': q.verdict });
  const chip = el('span', { class: 'aq-chip' }, VERDICT_LABELS[q.verdict]);
  const head = el('div', { class: 'aq-head' }, chip,
    el('span', { class: 'muted small' }, q.overridden ? `решение: ${q.overriddenBy ?? '—'} (модель: ${VERDICT_LABELS[q.modelVerdict].toLowerCase()})` : `вероятность отписки ${Math.round(q.score * 100)} %`));
  append(root, head);
  if (q.templateSize >= 3) append(root, el('div', { class: 'aq-template small' }, `Шаблон: этот текст получили ${q.templateSize} разных обращений`));
  if (q.reasons.length) {
    const list = el('ul', { class: 'aq-reasons' });
    for (const r of q.reasons) append(list, el('li', { 'data-code': r.code, class: r.effect === 'FORMAL' ? 'aq-neg' : 'aq-pos' }, r.text));
    append(root, list);
  }
  if (q.overridden && q.overrideComment) append(root, el('div', { class: 'aq-comment small' }, `Комментарий: ${q.overrideComment}`));
  if (canOverrideQuality(me)) {
    const other: AnswerVerdict = q.verdict === 'FORMAL' ? 'SUBSTANTIVE' : 'FORMAL';
    const comment = el('input', { type: 'text', class: 'aq-input', placeholder: 'Почему (обязательно)', maxlength: 2000, 'aria-label': 'Комментарий к изменению оценки' });
    const button = el('button', { type: 'button', class: 'aq-button' }, other === 'FORMAL' ? 'Это отписка' : 'Это ответ по существу');
    const status = el('span', { class: 'aq-status small', role: 'status' });
    button.addEventListener('click', () => {
      const c = comment.value.trim();
      if (!c) { status.textContent = 'Укажите причину'; comment.focus(); return; }
      button.setAttribute('disabled', '');
      status.textContent = 'Сохранение…';
      overrideAnswerQuality(appealId, other, c)
        .then((fresh) => { if (fresh) { const next = answerQualityBlock(appealId, fresh, me, onChange); root.replaceWith(next); onChange?.(fresh); } })
        .catch((e) => { status.textContent = `Ошибка: ${e instanceof ApiError ? e.message : String(e)}`; button.removeAttribute('disabled'); });
    });
    append(root, el('div', { class: 'aq-override' }, comment, button, status));
  }
  return root;
}
