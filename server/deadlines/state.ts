import { registerEnumType } from 'type-graphql';

/** The state of an appeal's answer deadline, derived at read (SQL appeal_deadline_state(), JS deadlineState()). */
export enum DeadlineState {
  ON_TIME = 'ON_TIME',
  AT_RISK = 'AT_RISK',
  OVERDUE = 'OVERDUE',
  ANSWERED_ON_TIME = 'ANSWERED_ON_TIME',
  ANSWERED_LATE = 'ANSWERED_LATE',
}
registerEnumType(DeadlineState, {
  name: 'DeadlineState',
  description: 'ON_TIME — в срок, AT_RISK — под угрозой (осталось меньше заданной доли времени), OVERDUE — просрочено, ANSWERED_ON_TIME — ответ в срок, ANSWERED_LATE — ответ с опозданием',
});

/**
 * Index-friendly SQL equivalent of appeal_deadline_state(a.answered_at, a.answer_due_at, a.answer_at_risk_at, now()) = state
 * (open appeals by due time use appeal_open_due_idx). `now` is a SQL expression.
 */
export function deadlineStateSql(state: DeadlineState, now = 'now()'): string {
  switch (state) {
    case DeadlineState.OVERDUE: return `(a.answered_at IS NULL AND a.answer_due_at <= ${now})`;
    case DeadlineState.AT_RISK: return `(a.answered_at IS NULL AND a.answer_due_at > ${now} AND a.answer_at_risk_at <= ${now})`;
    case DeadlineState.ON_TIME: return `(a.answered_at IS NULL AND a.answer_due_at > ${now} AND (a.answer_at_risk_at IS NULL OR a.answer_at_risk_at > ${now}))`;
    case DeadlineState.ANSWERED_ON_TIME: return `(a.answered_at IS NOT NULL AND a.answered_at <= a.answer_due_at)`;
    case DeadlineState.ANSWERED_LATE: return `(a.answered_at IS NOT NULL AND a.answered_at > a.answer_due_at)`;
  }
}
