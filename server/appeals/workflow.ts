import { Arg, Authorized, Ctx, ID, Mutation, Resolver } from 'type-graphql';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Context } from '../graphql/context.js';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { ANSWERERS, APPEAL_EDITORS } from '../auth/roles.js';
import { auditedAppealChange } from '../auth/guard.js';
import { ForbiddenError } from '../auth/checker.js';
import { Appeal, AppealStatus } from './entities.js';
import { refreshAppealMinutes } from '../deadlines/appeals.js';
import { judgeAppeals } from '../quality/service.js';

const MAX_ANSWER = 20_000;

async function event(em: EntityManager, ctx: Context, appealId: number, kind: string, from: string | null, to: string | null, comment?: string) {
  await query(em, `INSERT INTO appeal_event (municipality_id, appeal_id, at, actor, kind, from_value, to_value, comment) VALUES (?, ?, now(), ?, ?, ?, ?, ?)`,
    [ctx.municipalityId, appealId, ctx.actor, kind, from, to, comment ?? null]);
}

async function current(em: EntityManager, id: number) {
  const [a] = await query<{ status: AppealStatus; answer_text: string | null; first_response_at: string | null; answered_at: string | null }>(em, 'SELECT status, answer_text, first_response_at, answered_at FROM appeal WHERE id = ? FOR UPDATE', [id]);
  return a;
}

/**
 * Processing an appeal: the answer and the status. Each change is an appeal event (with the user as actor)
 * and an audit entry; the appeal must be in the user's row scope (an ORG_OFFICER answers their organisation's appeals).
 */
@Resolver()
export class AppealWorkflow {
  @Authorized(ANSWERERS)
  @Mutation(() => Appeal, { description: 'Ответить на обращение: текст ответа, статус «Дан ответ», события в истории' })
  async answerAppeal(@Ctx() ctx: Context, @Arg('id', () => ID) id: string, @Arg('answerText') answerText: string): Promise<Appeal | null> {
    const text = answerText.trim();
    if (!text) throw new InputError('answerText', 'пустой ответ');
    if (text.length > MAX_ANSWER) throw new InputError('answerText', `ответ длиннее ${MAX_ANSWER} символов`);
    const n = await auditedAppealChange(ctx, id, 'answer', async (em) => {
      const a = await current(em, Number(id));
      if (a.status === AppealStatus.CLOSED || a.status === AppealStatus.REJECTED) throw new InputError('id', 'обращение закрыто или отклонено: ответ не изменить');
      await query(em, `UPDATE appeal SET answer_text = ?, answered_at = now(), first_response_at = coalesce(first_response_at, now()),
                              status = 'ANSWERED', updated_at = now() WHERE id = ?`, [text, Number(id)]);
      await event(em, ctx, Number(id), 'ANSWER', a.answer_text ? 'ANSWERED' : null, 'ANSWERED');
      if (a.status !== AppealStatus.ANSWERED) await event(em, ctx, Number(id), 'STATUS', a.status, AppealStatus.ANSWERED);
      // Working minutes to the first reaction and to the answer (server/deadlines).
      await refreshAppealMinutes(em, ctx.municipalityId, Number(id));
      // The verdict on the answer (server/quality), in the same transaction; a changed answer is judged afresh.
      await judgeAppeals(em, ctx.municipalityId, [Number(id)], { answerChanged: a.answer_text !== text ? new Set([Number(id)]) : undefined });
      return Number(id);
    });
    return (await ctx.appeals.byIds([n]))[0];
  }

  @Authorized(ANSWERERS)
  @Mutation(() => Appeal, {
    description: 'Изменить статус обращения: NEW, IN_PROGRESS; закрыть (CLOSED) или отклонить (REJECTED, с комментарием) — работники МЦУ. Для ANSWERED используйте answerAppeal',
  })
  async setAppealStatus(
    @Ctx() ctx: Context,
    @Arg('id', () => ID) id: string,
    @Arg('status', () => AppealStatus) status: AppealStatus,
    @Arg('comment', { nullable: true }) comment?: string,
  ): Promise<Appeal | null> {
    if (status === AppealStatus.ANSWERED) throw new InputError('status', 'статус «Дан ответ» ставится ответом: answerAppeal');
    if ((status === AppealStatus.CLOSED || status === AppealStatus.REJECTED) && !APPEAL_EDITORS.includes(ctx.user!.role))
      throw new ForbiddenError('Закрыть или отклонить обращение могут только работники МЦУ');
    if (status === AppealStatus.REJECTED && !comment?.trim()) throw new InputError('comment', 'укажите причину отклонения');
    if (comment && comment.length > 2000) throw new InputError('comment', 'комментарий длиннее 2000 символов');
    const n = await auditedAppealChange(ctx, id, 'status', async (em) => {
      const a = await current(em, Number(id));
      if (a.status === status) return Number(id);
      // Taking an appeal into work (or rejecting it) is its first reaction. A refusal with its reason is the final answer
      // (59-ФЗ: the author is told why): its time ends the deadline, and its text is judged like any answer.
      await query(em, `UPDATE appeal SET status = ?, first_response_at = CASE WHEN ? IN ('REJECTED', 'IN_PROGRESS') THEN coalesce(first_response_at, now()) ELSE first_response_at END,
                              answered_at = CASE WHEN ? = 'REJECTED' THEN coalesce(answered_at, now()) ELSE answered_at END,
                              answer_text = CASE WHEN ? = 'REJECTED' AND answer_text IS NULL THEN ? ELSE answer_text END,
                              updated_at = now() WHERE id = ?`, [status, status, status, status, `Отклонено: ${comment?.trim() ?? ''}`, Number(id)]);
      if (status === AppealStatus.REJECTED && a.answered_at == null) {
        await refreshAppealMinutes(em, ctx.municipalityId, Number(id));
        await judgeAppeals(em, ctx.municipalityId, [Number(id)], { answerChanged: new Set([Number(id)]) });
      }
      await event(em, ctx, Number(id), 'STATUS', a.status, status, comment?.trim() || undefined);
      if (a.first_response_at == null && (status === AppealStatus.REJECTED || status === AppealStatus.IN_PROGRESS)) {
        await event(em, ctx, Number(id), 'FIRST_REACTION', null, status, 'первая реакция: смена статуса');
        await refreshAppealMinutes(em, ctx.municipalityId, Number(id));
      }
      return Number(id);
    }, comment ? { comment } : undefined);
    return (await ctx.appeals.byIds([n]))[0];
  }
}

export const appealWorkflowResolvers = [AppealWorkflow] as const;
