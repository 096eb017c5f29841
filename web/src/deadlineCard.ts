// The deadline part of an appeal's card on the map: due times, the state (coloured), the extension history and the
// «Продлить срок» action for the roles that process appeals.
import './deadlineCard.css';
import { gql, type AppealDeadline } from './api';
import { append, el } from './dom';
import { formatDateTime } from './labels';

export const DEADLINE_STATE_LABELS: Record<string, string> = {
  ON_TIME: 'в срок', AT_RISK: 'под угрозой', OVERDUE: 'просрочено', ANSWERED_ON_TIME: 'ответ в срок', ANSWERED_LATE: 'ответ с опозданием',
};
const UNIT_LABEL: Record<string, string> = { WORKING_HOURS: 'раб. ч', WORKING_DAYS: 'раб. дн.', CALENDAR_DAYS: 'кал. дн.' };

function hours(min: number | null): string | null {
  if (min == null) return null;
  const h = Math.floor(min / 60);
  return h ? `${h} ч ${min % 60} мин рабочего времени` : `${min} мин рабочего времени`;
}

/** The section; `canExtend`: the user processes appeals; `onChanged` reloads the card after an extension. */
export function deadlineSection(appealId: string, d: AppealDeadline, canExtend: boolean, onChanged: () => void): HTMLElement {
  const box = el('div', { class: 'deadline-box', 'data-deadline': appealId });
  const state = d.deadlineState;
  append(box, el('div', null,
    state ? el('span', { class: `dl-state dl-${state}`, 'data-state': state }, DEADLINE_STATE_LABELS[state] ?? state) : el('span', { class: 'muted' }, 'срок не определён'),
    d.urgent ? el('span', { class: 'badge urgent' }, 'срочное') : null));
  const row = (label: string, value: string | null) => (value ? el('div', { class: 'popup-row' }, el('span', { class: 'muted' }, `${label}: `), value) : null);
  append(box,
    row('Первая реакция до', d.firstReactionDueAt ? formatDateTime(d.firstReactionDueAt) : null),
    row('Ответ до', d.answerDueAt ? formatDateTime(d.answerDueAt) : null),
    row('До первой реакции', hours(d.workingMinutesToFirstReaction)),
    row('До ответа', hours(d.workingMinutesToAnswer)));
  const ext = d.events.filter((e) => e.kind === 'EXTENSION');
  for (const e of ext) {
    append(box, el('div', { class: 'dl-ext', 'data-extension': '' }, `Продлено ${formatDateTime(e.at)}: ${formatDateTime(e.fromValue)} → ${formatDateTime(e.toValue)}${e.comment ? ` (${e.comment})` : ''}, ${e.actor}`));
  }
  const rule = d.deadlineRule;
  const open = !d.answeredAt && d.answerDueAt;
  if (!canExtend || !open || !rule) return box;
  if (rule.extensionMax == null) {
    append(box, el('div', { class: 'muted small' }, 'Продление по правилу этого канала не предусмотрено'));
    return box;
  }
  const toggle = el('button', { type: 'button', class: 'link small', 'data-action': 'extend' }, 'Продлить срок');
  const reason = el('input', { type: 'text', maxlength: 2000, placeholder: 'причина продления', 'aria-label': 'Причина продления' });
  const amount = el('input', { type: 'number', min: 1, step: 1, value: 1, 'aria-label': 'На сколько продлить' });
  const unit = el('select', { 'aria-label': 'Единица' }, ...['WORKING_DAYS', 'CALENDAR_DAYS', 'WORKING_HOURS'].map((u) => el('option', { value: u }, UNIT_LABEL[u])));
  unit.value = rule.extensionUnit ?? 'WORKING_DAYS';
  const notified = el('input', { type: 'checkbox' });
  // An interim answer (Инцидент Менеджмент): its text is sent to the author and moves the answer to the rule's limit.
  const interimRule = rule.extensionFrom === 'RECEIVED';
  const interim = interimRule ? el('textarea', { rows: 2, maxlength: 4000, placeholder: 'промежуточный ответ автору (что уже сделано и когда будет ответ)', 'aria-label': 'Промежуточный ответ' }) : null;
  if (interimRule) amount.value = '';
  const submit = el('button', { type: 'submit', class: 'primary small' }, 'Продлить');
  const result = el('div', { class: 'small', 'aria-live': 'polite' });
  const form = el('form', { class: 'dl-form', hidden: true },
    interim,
    reason,
    el('span', { class: 'pair' }, amount, unit),
    rule.extensionNotice ? el('label', null, notified, ' автор уведомлён о продлении') : null,
    el('span', { class: 'muted small' }, interimRule
      ? `С промежуточным ответом — до ${rule.extensionMax} ${UNIT_LABEL[rule.extensionUnit ?? ''] ?? ''} от регистрации (без числа — до предела)`
      : `Не более ${rule.extensionMax} ${UNIT_LABEL[rule.extensionUnit ?? ''] ?? ''} к исходному сроку`),
    submit, result);
  toggle.addEventListener('click', () => { form.hidden = !form.hidden; });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    result.className = 'small';
    result.textContent = 'Сохранение…';
    const interimText = interim?.value.trim() || null;
    // with an interim answer and no amount: up to the rule's limit
    const by = interimText && !amount.value ? null : { amount: Number(amount.value), unit: unit.value };
    gql(`mutation($id: ID!, $reason: String!, $by: ExtensionByInput, $n: Boolean, $i: String) { extendAppealDeadline(appealId: $id, reason: $reason, by: $by, authorNotified: $n, interimAnswer: $i) { id answerDueAt } }`,
      { id: appealId, reason: reason.value, by, n: notified.checked, i: interimText })
      .then(() => onChanged())
      .catch((e: Error) => { result.className = 'small bad'; result.textContent = e.message; submit.disabled = false; });
  });
  append(box, toggle, form);
  return box;
}
