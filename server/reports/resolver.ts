import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../graphql/context.js';
import { FULL_ACCESS, READERS } from '../auth/roles.js';
import { InputError } from '../errors.js';
import { ReportService, type ReportRow } from './service.js';
import { ScheduleService, type ScheduleRow } from './schedule.js';
import { AnalyticReport, AnalyticReportConnection, ReportRequestInput, ReportSchedule, ReportScheduleInput, type ReportScopeKind, type ReportStatus } from './types.js';

const who = (ctx: Context) => ({ municipalityId: ctx.municipalityId, user: ctx.user, actor: ctx.actor });
const reports = (ctx: Context) => new ReportService(ctx.em, who(ctx));
const schedules = (ctx: Context) => new ScheduleService(ctx.em, who(ctx));

export function toReport(r: ReportRow): AnalyticReport {
  const done = r.status === 'DONE';
  return {
    id: String(r.id), scopeKind: r.scope_kind as ReportScopeKind, scopeId: r.scope_id == null ? null : String(r.scope_id), scopeName: r.scope_name,
    periodFrom: r.period_from, periodTo: r.period_to, requestedBy: r.requested_by, scheduleId: r.schedule_id == null ? null : String(r.schedule_id),
    createdAt: new Date(r.created_at), status: r.status as ReportStatus, error: r.error, generatedAt: r.generated_at ? new Date(r.generated_at) : null,
    generations: r.generations, ms: r.ms, pages: r.pages, docxBytes: r.docx_bytes, pdfBytes: r.pdf_bytes,
    docxUrl: done ? `/reports/${r.id}.docx` : null, pdfUrl: done ? `/reports/${r.id}.pdf` : null, summary: r.summary ?? {},
  };
}

function toSchedule(s: ScheduleRow): ReportSchedule {
  return {
    id: String(s.id), scopeKind: s.scope_kind as ReportScopeKind, scopeId: s.scope_id == null ? null : String(s.scope_id), scopeName: s.scope_name,
    weekday: s.weekday, hour: s.hour, createdBy: s.created_by, createdAt: new Date(s.created_at), nextRunAt: new Date(s.next_run_at),
    lastRunAt: s.last_run_at ? new Date(s.last_run_at) : null, lastReportId: s.last_report_id == null ? null : String(s.last_report_id),
  };
}

const cursor = (n: number) => Buffer.from(`a:${n}`).toString('base64url');
function offsetOf(after?: string | null): number {
  if (!after) return 0;
  const m = /^a:(\d{1,7})$/.exec(Buffer.from(after, 'base64url').toString());
  if (!m) throw new InputError('after', 'неверный курсор страницы');
  return Number(m[1]);
}

@Resolver()
export class ReportResolver {
  @Authorized(READERS)
  @Query(() => AnalyticReportConnection, { description: 'Аналитические справки, новые первыми (BLOCK_LEAD и ORG_OFFICER — только по своему охвату); first ≤ 200' })
  async analyticReports(@Ctx() ctx: Context, @Arg('first', () => Int, { defaultValue: 50 }) first: number, @Arg('after', () => String, { nullable: true }) after?: string | null) {
    const offset = offsetOf(after);
    const { rows, total } = await reports(ctx).list(first, offset);
    const edges = rows.map((r, i) => ({ cursor: cursor(offset + i + 1), node: toReport(r) }));
    return { edges, totalCount: total, hasNextPage: offset + rows.length < total, endCursor: edges.at(-1)?.cursor ?? null };
  }

  @Authorized(READERS)
  @Query(() => AnalyticReport, { nullable: true })
  async analyticReport(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    const r = await reports(ctx).get(id);
    return r ? toReport(r) : null;
  }

  @Authorized(READERS)
  @Mutation(() => AnalyticReport, { description: 'Заказать справку (формируется сразу; DOCX и PDF — по docxUrl, pdfUrl)' })
  async requestAnalyticReport(@Ctx() ctx: Context, @Arg('input', () => ReportRequestInput) input: ReportRequestInput) {
    return toReport(await reports(ctx).request(input));
  }

  @Authorized(READERS)
  @Mutation(() => AnalyticReport, { description: 'Пересоздать справку по её параметрам (цифры — по данным на сейчас)' })
  async regenerateAnalyticReport(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return toReport(await reports(ctx).regenerate(id));
  }

  @Authorized(FULL_ACCESS)
  @Query(() => [ReportSchedule], { description: 'Действующие расписания еженедельных справок' })
  async reportSchedules(@Ctx() ctx: Context) {
    return (await schedules(ctx).list()).map(toSchedule);
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => ReportSchedule, { description: 'Назначить еженедельную справку' })
  async scheduleAnalyticReport(@Ctx() ctx: Context, @Arg('input', () => ReportScheduleInput) input: ReportScheduleInput) {
    return toSchedule(await schedules(ctx).create(input));
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => Boolean, { description: 'Отменить расписание' })
  async cancelReportSchedule(@Ctx() ctx: Context, @Arg('id', () => ID) id: string) {
    return schedules(ctx).cancel(id);
  }
}

export const reportResolvers = [ReportResolver] as const;
