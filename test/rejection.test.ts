import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';

/**
 * A refusal with its reason is the final answer (59-ФЗ): a rejected appeal leaves the overdue queue with the time of
 * the refusal as its answer, the reason as its answer text, and a verdict on that text — it used to stay OVERDUE forever.
 */
describe.each(backends)('rejecting an appeal on %s', (backend) => {
  let app: TestApp;
  beforeAll(async () => { app = await startTestApp(backend, 0); }, 240_000);
  afterAll(async () => app?.close());

  it('ends the deadline with the refusal and judges its text', async () => {
    const [a] = await app.sql<{ id: number }>(`INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, status, answer_due_at)
      VALUES (?, 'DIRECT', 'REJ-1', now() - interval '40 days', 'CITIZEN', 'Прошу выделить земельный участок под гараж', 'NEW', now() - interval '10 days') RETURNING id`, [app.municipalityId]);
    const state = async () => (await app.gql(`{ appeal(id: "${a.id}") { status deadlineState answerText answerQuality { verdict } } }`)).data.appeal;
    expect((await state()).deadlineState).toBe('OVERDUE');
    const r = await app.gql(`mutation { setAppealStatus(id: "${a.id}", status: REJECTED, comment: "Участки под гаражи распределяются через торги; заявление подаётся в Комитет по управлению имуществом, каб. 12") { id } }`);
    expect(r.errors).toBeUndefined();
    const s = await state();
    expect(s).toMatchObject({ status: 'REJECTED', deadlineState: 'ANSWERED_LATE' });
    expect(s.answerText).toMatch(/^Отклонено: Участки под гаражи/);
    expect(s.answerQuality?.verdict).toBeDefined();
    const [row] = await app.sql<{ answer_minutes: number | null }>('SELECT answer_minutes FROM appeal WHERE id = ?', [a.id]);
    expect(row.answer_minutes).toBeGreaterThan(0);
  });
});
