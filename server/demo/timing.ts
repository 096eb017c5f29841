import { readReference } from '../reference/files.js';
import { bundledCalendars, calendarMap } from '../worktime/bundled.js';
import { WorkTime, DEFAULT_WORKING_HOURS, MINUTE, type DeadlineUnit, type WorkingHours } from '../worktime/worktime.js';
import { RuleSet, UrgencyMatcher, dueTimes, extensionLimit, type RuleVersion } from '../deadlines/rules.js';

/**
 * The timings of demo appeals under the default deadline rules of the reference data: urgency by the same keywords
 * the import uses, the first reaction and the answer drawn as a share of the rule's allowed working time (lognormal,
 * so most are in time and a tail is late), answers given in working hours, and extensions (an interim answer of
 * Инцидент Менеджмент, a 59-ФЗ extension with notice) for some of the appeals that would be late.
 */
export interface DemoTiming {
  urgent: boolean;
  /** The answer due time under the rule (moved by the extension, if any). */
  dueAt: Date;
  firstResponseAt: Date | null;
  answeredAt: Date | null;
  extension: { at: Date; from: Date; to: Date; reason: string; notified: boolean } | null;
  /** Answered after the due time. */
  late: boolean;
}

interface RuleFile {
  channel: string; theme: string | null; urgent: boolean; firstReaction: [number, DeadlineUnit] | null; answer: [number, DeadlineUnit];
  atRiskShare: number; extension: [number, DeadlineUnit] | null; extensionNotice: boolean; extensionFrom?: 'DUE' | 'RECEIVED';
}

const REASONS_IM = ['Дан промежуточный ответ: работы запланированы', 'Промежуточный ответ: требуется выезд специалиста', 'Промежуточный ответ: заявка передана подрядчику'];
const REASONS_59 = ['Запрошены документы в другом органе', 'Требуется выездная проверка', 'Направлен запрос в ресурсоснабжающую организацию'];

export class DemoDeadlines {
  readonly wt: WorkTime;
  private readonly rules: RuleSet;
  private readonly urgency: UrgencyMatcher;

  constructor(municipality = 'rubtsovsk') {
    let settings: { workingHours?: WorkingHours; urgentKeywords?: string[] } = {};
    try { settings = readReference(municipality, 'deadline_settings.json'); } catch { /* defaults */ }
    this.wt = new WorkTime({ timezone: 'Asia/Barnaul', hours: settings.workingHours ?? DEFAULT_WORKING_HOURS, calendar: calendarMap(bundledCalendars()) });
    const files = readReference<RuleFile[]>(municipality, 'deadline_rules.json').filter((f) => f.theme == null);
    const versions: RuleVersion[] = files.map((f, i) => ({
      id: i + 1, channel: f.channel, themeId: null, urgent: f.urgent,
      firstReactionNorm: f.firstReaction?.[0] ?? null, firstReactionUnit: f.firstReaction?.[1] ?? null,
      answerNorm: f.answer[0], answerUnit: f.answer[1], atRiskShare: f.atRiskShare,
      extensionMax: f.extension?.[0] ?? null, extensionUnit: f.extension?.[1] ?? null, extensionNotice: f.extensionNotice,
      extensionFrom: f.extensionFrom ?? 'DUE', isDefault: true, source: null, note: null, validFrom: new Date(0), validTo: null, createdBy: 'demo',
    }));
    this.rules = new RuleSet(versions, new Map());
    this.urgency = new UrgencyMatcher(settings.urgentKeywords ?? []);
  }

  /**
   * Timings of one appeal. `rnd` and `gauss` are the generator's seeded draws; `slowness` the responsible
   * organisation's (0.7…1.3); `nowMs` the end of the demo period (later events have not happened yet).
   */
  plan(channel: string, text: string, t: number, slowness: number, nowMs: number, rnd: () => number, gauss: () => number): DemoTiming {
    const urgent = this.urgency.match(text) != null;
    const rule = this.rules.pick(channel, null, urgent, t)!;
    const due = dueTimes(this.wt, rule, t);
    const window = Math.max(1, this.wt.workingMinutesBetween(t, due.answerDueAt));
    const frWindow = due.firstReactionDueAt != null ? Math.max(1, this.wt.workingMinutesBetween(t, due.firstReactionDueAt)) : Math.min(window, 2 * 492);
    // first reaction: a median third of its window; answer: median half of the window × the organisation's slowness
    const frMin = Math.max(5, Math.round(frWindow * 0.33 * Math.exp(gauss() * 0.75)));
    let share = 0.55 * slowness * Math.exp(gauss() * 0.55);
    // a few are forgotten: no answer for months (the overdue backlog of a real city)
    if (rnd() < 0.015) share = 40 + rnd() * 400;
    let dueAt = due.answerDueAt;
    let extension: DemoTiming['extension'] = null;
    const limit = extensionLimit(this.wt, rule, t);
    // Most appeals that are running late get an extension where the rule allows one (interim answer, 59-ФЗ notice).
    if (limit != null && share > 0.85 && share < 5 && rnd() < 0.6) {
      const at = this.wt.addWorkingMinutes(t, Math.round(window * (0.55 + rnd() * 0.3)));
      // an interim answer (extension counted from registration) moves the answer to the rule's limit
      const to = rule.extensionFrom === 'RECEIVED' ? limit : rule.extensionUnit === 'WORKING_DAYS'
        ? this.wt.addWorkingDays(dueAt, Math.max(1, Math.round(rule.extensionMax! * (0.5 + rnd() * 0.5))))
        : this.wt.addCalendarDays(dueAt, Math.max(1, Math.round(rule.extensionMax! * (0.5 + rnd() * 0.5))));
      const im = rule.extensionUnit === 'WORKING_DAYS';
      const reasons = im ? REASONS_IM : REASONS_59;
      if (at <= nowMs) {
        extension = { at: new Date(at), from: new Date(dueAt), to: new Date(Math.min(to, limit)), reason: reasons[Math.floor(rnd() * reasons.length)], notified: rule.extensionNotice };
        dueAt = extension.to.getTime();
        // answered within the extended window, mostly in time
        share = (this.wt.workingMinutesBetween(t, at) + (this.wt.workingMinutesBetween(at, dueAt) * 0.6 * Math.exp(gauss() * 0.35))) / window;
      }
    }
    const ansMin = Math.max(frMin + 15, Math.round(window * share));
    const fr = this.wt.addWorkingMinutes(t, extension ? Math.min(frMin, this.wt.workingMinutesBetween(t, extension.at.getTime())) : frMin);
    const ans = this.wt.addWorkingMinutes(t, ansMin);
    return {
      urgent, dueAt: new Date(dueAt),
      firstResponseAt: fr <= nowMs ? new Date(fr) : null,
      answeredAt: ans <= nowMs ? new Date(ans) : null,
      extension,
      late: ans > dueAt,
    };
  }
}

export { MINUTE };
