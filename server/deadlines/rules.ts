import { InputError } from '../errors.js';
import { DEADLINE_UNITS, type DeadlineUnit, type WorkTime } from '../worktime/worktime.js';

/** What a person sets for a rule (the key channel × theme × urgency and its norms). */
export interface RuleValues {
  channel: string;
  themeId: number | null;
  urgent: boolean;
  firstReactionNorm: number | null;
  firstReactionUnit: DeadlineUnit | null;
  answerNorm: number;
  answerUnit: DeadlineUnit;
  atRiskShare: number;
  extensionMax: number | null;
  extensionUnit: DeadlineUnit | null;
  extensionNotice: boolean;
  /**
   * Where the extension allowance counts from: DUE — added to the original answer due time (59-ФЗ: 30 days + up to 30);
   * RECEIVED — the longest answer time from registration (an interim answer in Инцидент Менеджмент: up to 7 working days).
   */
  extensionFrom: ExtensionFrom;
  isDefault: boolean;
  source: string | null;
  note: string | null;
}

/** One version of a deadline rule (a row of deadline_rule): the values with their identity and validity. */
export interface RuleVersion extends RuleValues {
  id: number;
  validFrom: Date;
  validTo: Date | null;
  createdBy: string;
}

export const EXTENSION_FROM = ['DUE', 'RECEIVED'] as const;
export type ExtensionFrom = (typeof EXTENSION_FROM)[number];

/** The largest norm accepted per unit: beyond it a value is a typo, not a rule. */
export const MAX_NORM: Record<DeadlineUnit, number> = { WORKING_HOURS: 2000, WORKING_DAYS: 250, CALENDAR_DAYS: 365 };
const UNIT_LABEL: Record<DeadlineUnit, string> = { WORKING_HOURS: 'рабочих часов', WORKING_DAYS: 'рабочих дней', CALENDAR_DAYS: 'календарных дней' };

/** Rough length in calendar days, only to compare the first-reaction norm with the answer norm. */
const approxDays = (n: number, u: DeadlineUnit) => (u === 'CALENDAR_DAYS' ? n : u === 'WORKING_DAYS' ? (n * 7) / 5 : (n / 8) * (7 / 5));

function checkNorm(field: string, n: unknown, unit: unknown) {
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new InputError(field, `срок должен быть числом, получено «${String(n).slice(0, 20)}»`);
  if (!DEADLINE_UNITS.includes(unit as DeadlineUnit)) throw new InputError(`${field}Unit`, `неизвестная единица «${String(unit).slice(0, 30)}»; допустимы ${DEADLINE_UNITS.join(', ')}`);
  const u = unit as DeadlineUnit;
  if (n <= 0) throw new InputError(field, `срок должен быть больше нуля, получено ${n}`);
  if (n > MAX_NORM[u]) throw new InputError(field, `срок ${n} ${UNIT_LABEL[u]} нереален: не более ${MAX_NORM[u]}`);
  if (u === 'WORKING_HOURS' ? Math.abs(n * 60 - Math.round(n * 60)) > 1e-6 : !Number.isInteger(n))
    throw new InputError(field, u === 'WORKING_HOURS' ? 'рабочие часы — с точностью до минуты' : 'дни — целым числом');
}

/** Checks a rule's values (channels and themes against the given sets); throws InputError naming the field. */
export function checkRule(v: RuleValues, known: { channels: Set<string>; themes: Set<number> }, at = 'rule'): RuleValues {
  if (!known.channels.has(v.channel)) throw new InputError(`${at}.channel`, `неизвестный канал «${String(v.channel).slice(0, 40)}»`);
  if (v.themeId != null && !known.themes.has(v.themeId)) throw new InputError(`${at}.themeId`, `тема ${v.themeId} не найдена`);
  checkNorm(`${at}.answerNorm`, v.answerNorm, v.answerUnit);
  if ((v.firstReactionNorm == null) !== (v.firstReactionUnit == null))
    throw new InputError(`${at}.firstReactionNorm`, 'срок первой реакции задаётся вместе с единицей (или не задаётся вовсе)');
  if (v.firstReactionNorm != null) {
    checkNorm(`${at}.firstReactionNorm`, v.firstReactionNorm, v.firstReactionUnit);
    if (approxDays(v.firstReactionNorm, v.firstReactionUnit!) > approxDays(v.answerNorm, v.answerUnit) * 1.0001)
      throw new InputError(`${at}.firstReactionNorm`, 'срок первой реакции длиннее срока ответа');
  }
  if (typeof v.atRiskShare !== 'number' || !(v.atRiskShare >= 0.01 && v.atRiskShare <= 0.99))
    throw new InputError(`${at}.atRiskShare`, `доля оставшегося времени для «под угрозой» — от 0,01 до 0,99, получено ${v.atRiskShare}`);
  if ((v.extensionMax == null) !== (v.extensionUnit == null))
    throw new InputError(`${at}.extensionMax`, 'предельное продление задаётся вместе с единицей (или не задаётся вовсе)');
  if (v.extensionMax != null) checkNorm(`${at}.extensionMax`, v.extensionMax, v.extensionUnit);
  if (!EXTENSION_FROM.includes(v.extensionFrom)) throw new InputError(`${at}.extensionFrom`, `неизвестное начало отсчёта продления «${String(v.extensionFrom).slice(0, 30)}»; допустимы DUE, RECEIVED`);
  if (v.extensionMax != null && v.extensionFrom === 'RECEIVED' && approxDays(v.extensionMax, v.extensionUnit!) <= approxDays(v.answerNorm, v.answerUnit) * 1.0001)
    throw new InputError(`${at}.extensionMax`, 'предельный срок ответа с продлением (от регистрации) должен быть длиннее срока ответа');
  if (v.source != null && v.source.length > 1000) throw new InputError(`${at}.source`, 'не длиннее 1000 символов');
  if (v.note != null && v.note.length > 1000) throw new InputError(`${at}.note`, 'не длиннее 1000 символов');
  return v;
}

/**
 * The rules of a municipality, all versions, and the choice of the rule for an appeal:
 *   1. versions in force at the appeal's registration (valid_from ≤ received < valid_to) of its channel;
 *   2. an urgent appeal takes an urgent rule when there is one, otherwise the ordinary one; an ordinary appeal never
 *      takes an urgent rule;
 *   3. among those, the most specific theme: the appeal's theme, then its parent …, then the channel's rule for every theme.
 * When no version was in force at registration, the current versions are used.
 */
export class RuleSet {
  private readonly byChannel = new Map<string, RuleVersion[]>();
  constructor(readonly versions: RuleVersion[], private readonly themeParent: Map<number, number | null>) {
    for (const v of versions) {
      let list = this.byChannel.get(v.channel);
      if (!list) this.byChannel.set(v.channel, (list = []));
      list.push(v);
    }
  }

  /** The theme and its ancestors, most specific first. */
  chain(themeId: number | null): number[] {
    const out: number[] = [];
    for (let t = themeId; t != null && out.length < 20; t = this.themeParent.get(t) ?? null) out.push(t);
    return out;
  }

  pick(channel: string, themeId: number | null, urgent: boolean, at: number): RuleVersion | null {
    const list = this.byChannel.get(channel);
    if (!list?.length) return null;
    let live = list.filter((v) => v.validFrom.getTime() <= at && (v.validTo == null || at < v.validTo.getTime()));
    if (!live.length) live = list.filter((v) => v.validTo == null);
    const chain = this.chain(themeId);
    let best: RuleVersion | null = null;
    let bestScore = -1;
    for (const v of live) {
      if (v.urgent && !urgent) continue;
      const depth = v.themeId == null ? 0 : chain.length - chain.indexOf(v.themeId);
      if (v.themeId != null && !chain.includes(v.themeId)) continue;
      const score = (v.urgent ? 1000 : 0) + depth;
      if (score > bestScore || (score === bestScore && best && v.id > best.id)) { best = v; bestScore = score; }
    }
    return best;
  }
}

export interface DueTimes {
  firstReactionDueAt: number | null;
  answerDueAt: number;
  answerAtRiskAt: number;
}

/**
 * Due times of an appeal registered at `received` under a rule. AT_RISK begins when less than the rule's share of the
 * allowed working time is left (measured in working minutes whatever the rule's unit, so a night or a weekend does
 * not count as time left).
 */
export function dueTimes(wt: WorkTime, rule: RuleVersion, received: number): DueTimes {
  const answerDueAt = wt.add(received, rule.answerNorm, rule.answerUnit);
  return {
    firstReactionDueAt: rule.firstReactionNorm == null ? null : wt.add(received, rule.firstReactionNorm, rule.firstReactionUnit!),
    answerDueAt,
    answerAtRiskAt: atRiskAt(wt, received, answerDueAt, rule.atRiskShare),
  };
}

export function atRiskAt(wt: WorkTime, from: number, due: number, share: number): number {
  const total = wt.workingMinutesBetween(from, due);
  if (total <= 0) return due;
  return Math.min(due, wt.addWorkingMinutes(from, Math.ceil(total * (1 - share))));
}

/**
 * The latest due time an extension may set: the rule's original due time plus its allowance (DUE), or the allowance
 * counted from registration (RECEIVED) — never before the original due time.
 */
export function extensionLimit(wt: WorkTime, rule: RuleVersion, received: number): number | null {
  if (rule.extensionMax == null) return null;
  const due = wt.add(received, rule.answerNorm, rule.answerUnit);
  if (rule.extensionFrom === 'RECEIVED') return Math.max(due, wt.add(received, rule.extensionMax, rule.extensionUnit!));
  return wt.add(due, rule.extensionMax, rule.extensionUnit!);
}

/** The state of an appeal's answer deadline at `now` — the same as the SQL function appeal_deadline_state(). */
export function deadlineState(answeredAt: number | null | undefined, due: number | null | undefined, atRisk: number | null | undefined, now: number): string | null {
  if (due == null) return null;
  if (answeredAt != null) return answeredAt <= due ? 'ANSWERED_ON_TIME' : 'ANSWERED_LATE';
  if (now >= due) return 'OVERDUE';
  if (atRisk != null && now >= atRisk) return 'AT_RISK';
  return 'ON_TIME';
}

/** Urgency by keywords (stored patterns; a restricted regular-expression syntax, checked before use). */
export class UrgencyMatcher {
  private readonly res: { pattern: string; re: RegExp }[];
  constructor(patterns: string[]) {
    this.res = patterns.map((p, i) => ({ pattern: p, re: new RegExp(checkKeyword(p, i), 'u') }));
  }
  /** The first pattern the text matches (lower-cased, ё → е), or null. */
  match(text: string): string | null {
    const t = text.slice(0, 20_000).toLowerCase().replace(/ё/g, 'е');
    for (const { pattern, re } of this.res) if (re.test(t)) return pattern;
    return null;
  }
}

/**
 * A keyword pattern: letters, digits, spaces and the simple constructs [а-я], *, ?, ( | ) — no nested
 * repetition, so a pattern cannot make matching explode. Returns it normalised (lower case, ё → е).
 */
export function checkKeyword(p: string, i: number, at = 'urgentKeywords'): string {
  if (typeof p !== 'string' || !p.trim() || p.length > 100) throw new InputError(`${at}[${i}]`, 'шаблон от 1 до 100 символов');
  const s = p.toLowerCase().replace(/ё/g, 'е');
  if (!/^[\p{L}\p{N} \-[\]*?()|]+$/u.test(s)) throw new InputError(`${at}[${i}]`, `недопустимые символы в «${p.slice(0, 40)}»: разрешены буквы, цифры, пробел и [ ] - * ? ( ) |`);
  if (/[)\]][*?][*?]|\)[*]/.test(s)) throw new InputError(`${at}[${i}]`, `вложенное повторение в «${p.slice(0, 40)}» не допускается`);
  try { new RegExp(s, 'u'); } catch { throw new InputError(`${at}[${i}]`, `неверный шаблон «${p.slice(0, 40)}»`); }
  return s;
}
