import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { readReference } from '../reference/files.js';
import { ensureBundledCalendar, ensureWorkingHours, loadWorkTime } from '../worktime/store.js';
import type { DeadlineUnit, WorkTime } from '../worktime/worktime.js';
import { checkKeyword, checkRule, dueTimes, RuleSet, UrgencyMatcher, type DueTimes, type ExtensionFrom, type RuleValues, type RuleVersion } from './rules.js';

/** Settings of the control loop per municipality (deadline_setting), besides the working hours (server/worktime). */
export interface DeadlineSettings {
  /** Keyword patterns that make an appeal urgent (see UrgencyMatcher). */
  urgentKeywords: string[];
  /** The satisfaction goal: share of ratings in `ratings` (ПОС: 4–5 ≥ 60 %). The rating of bodies reads it. */
  satisfactionTarget: { share: number; ratings: number[] };
  /** A repeat: the same author (or place) and theme within this many days after an answer. */
  repeatWindowDays: number;
}

export const DEFAULT_SETTINGS: DeadlineSettings = {
  urgentKeywords: ['авари', 'угроз[а-я]* жизн', 'нет отоплени', 'нет воды'],
  satisfactionTarget: { share: 0.6, ratings: [4, 5] },
  repeatWindowDays: 90,
};

const SETTING_KEYS = ['urgentKeywords', 'satisfactionTarget', 'repeatWindowDays'] as const;

export async function deadlineSettings(em: EntityManager, municipalityId: number): Promise<DeadlineSettings> {
  const rows = await query<{ key: string; value: unknown }>(em,
    `SELECT key, value FROM deadline_setting WHERE municipality_id = ? AND key = ANY(?::text[])`, [municipalityId, [...SETTING_KEYS]]);
  const out: DeadlineSettings = structuredClone(DEFAULT_SETTINGS);
  for (const r of rows) (out as any)[r.key] = r.value;
  return out;
}

/** Checks settings; throws InputError naming the field. */
export function checkSettings(s: Partial<DeadlineSettings>): Partial<DeadlineSettings> {
  if (s.urgentKeywords != null) {
    if (!Array.isArray(s.urgentKeywords) || s.urgentKeywords.length > 200) throw new InputError('settings.urgentKeywords', 'список до 200 шаблонов');
    s.urgentKeywords.forEach((k, i) => checkKeyword(k, i, 'settings.urgentKeywords'));
  }
  if (s.satisfactionTarget != null) {
    const t = s.satisfactionTarget;
    if (typeof t.share !== 'number' || !(t.share > 0 && t.share <= 1)) throw new InputError('settings.satisfactionTarget.share', 'доля от 0 до 1');
    if (!Array.isArray(t.ratings) || !t.ratings.length || t.ratings.some((r) => !Number.isInteger(r) || r < 1 || r > 5))
      throw new InputError('settings.satisfactionTarget.ratings', 'оценки 1–5');
  }
  if (s.repeatWindowDays != null && (!Number.isInteger(s.repeatWindowDays) || s.repeatWindowDays < 1 || s.repeatWindowDays > 730))
    throw new InputError('settings.repeatWindowDays', 'окно повторного обращения — от 1 до 730 дней');
  return s;
}

export async function setDeadlineSettings(em: EntityManager, actor: AuditActor, s: Partial<DeadlineSettings>): Promise<DeadlineSettings> {
  checkSettings(s);
  await em.transactional(async (tem) => {
    const before = await deadlineSettings(tem, actor.municipalityId);
    for (const key of SETTING_KEYS) {
      if (s[key] == null) continue;
      await query(tem, `INSERT INTO deadline_setting (municipality_id, key, value, updated_by) VALUES (?, ?, ?::jsonb, ?)
                        ON CONFLICT (municipality_id, key) DO UPDATE SET value = excluded.value, updated_at = now(), updated_by = excluded.updated_by`,
        [actor.municipalityId, key, JSON.stringify(s[key]), actor.user?.login ?? actor.actor ?? 'system']);
    }
    await audit(tem, actor, { entity: 'deadline_setting', entityId: actor.municipalityId, action: 'update',
      before: Object.fromEntries(SETTING_KEYS.filter((k) => s[k] != null).map((k) => [k, before[k]])), after: s });
  });
  invalidateDeadlines();
  return deadlineSettings(em, actor.municipalityId);
}

type RuleRow = Record<string, any>;
export function rowToRule(r: RuleRow): RuleVersion {
  return {
    id: r.id, channel: r.channel, themeId: r.theme_id, urgent: r.urgent,
    firstReactionNorm: r.first_reaction_norm, firstReactionUnit: r.first_reaction_unit,
    answerNorm: r.answer_norm, answerUnit: r.answer_unit, atRiskShare: r.at_risk_share,
    extensionMax: r.extension_max, extensionUnit: r.extension_unit, extensionNotice: r.extension_notice, extensionFrom: r.extension_from ?? 'DUE',
    isDefault: r.is_default, source: r.source, note: r.note,
    validFrom: new Date(r.valid_from), validTo: r.valid_to == null ? null : new Date(r.valid_to), createdBy: r.created_by,
  };
}

export async function ruleVersions(em: EntityManager, municipalityId: number, opts: { current?: boolean; ids?: number[] } = {}): Promise<RuleVersion[]> {
  const rows = await query<RuleRow>(em,
    `SELECT * FROM deadline_rule WHERE municipality_id = ?${opts.current ? ' AND valid_to IS NULL' : ''}${opts.ids ? ' AND id = ANY(?::int[])' : ''}
      ORDER BY channel, theme_id NULLS FIRST, urgent, valid_from DESC, id DESC`, opts.ids ? [municipalityId, opts.ids] : [municipalityId]);
  return rows.map(rowToRule);
}

async function knownRefs(em: EntityManager, municipalityId: number) {
  const channels = (await query<{ code: string }>(em, 'SELECT code FROM channel')).map((r) => r.code);
  const themes = await query<{ id: number; parent_id: number | null }>(em, 'SELECT id, parent_id FROM theme WHERE municipality_id = ?', [municipalityId]);
  return { channels: new Set(channels), themes: new Set(themes.map((t) => t.id)), parents: new Map(themes.map((t) => [t.id, t.parent_id])) };
}

/**
 * Sets the rule for (channel, theme, urgency): the version in force is closed (valid_to = now) and a new one opens
 * (valid_from = now). Appeals keep the version they were registered under. Audited; all or nothing.
 */
export async function setRule(em: EntityManager, actor: AuditActor, values: RuleValues): Promise<RuleVersion> {
  const known = await knownRefs(em, actor.municipalityId);
  checkRule(values, known);
  const id = await em.transactional(async (tem) => {
    const [old] = await query<RuleRow>(tem,
      `SELECT * FROM deadline_rule WHERE municipality_id = ? AND channel = ? AND coalesce(theme_id, 0) = ? AND urgent = ? AND valid_to IS NULL FOR UPDATE`,
      [actor.municipalityId, values.channel, values.themeId ?? 0, values.urgent]);
    // clock_timestamp(): the old version ends exactly where the new one begins, even within one transaction.
    const [{ now }] = await query<{ now: string }>(tem, 'SELECT clock_timestamp() AS now');
    if (old) await query(tem, 'UPDATE deadline_rule SET valid_to = ? WHERE id = ?', [now, old.id]);
    const [row] = await query<{ id: number }>(tem,
      `INSERT INTO deadline_rule (municipality_id, channel, theme_id, urgent, first_reaction_norm, first_reaction_unit, answer_norm, answer_unit,
         at_risk_share, extension_max, extension_unit, extension_notice, extension_from, is_default, source, note, valid_from, created_by)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [actor.municipalityId, values.channel, values.themeId, values.urgent, values.firstReactionNorm, values.firstReactionUnit, values.answerNorm,
        values.answerUnit, values.atRiskShare, values.extensionMax, values.extensionUnit, values.extensionNotice, values.extensionFrom, values.isDefault,
        values.source, values.note, now, actor.user?.login ?? actor.actor ?? 'system']);
    await audit(tem, actor, { entity: 'deadline_rule', entityId: row.id, action: old ? 'update' : 'create',
      before: old ? { id: old.id, ...stripRow(old) } : undefined, after: values });
    return row.id;
  });
  invalidateDeadlines();
  return (await ruleVersions(em, actor.municipalityId, { ids: [id] }))[0];
}

/** Closes a rule without a successor (a theme's or an urgent rule; the channel's base rule cannot be retired). */
export async function retireRule(em: EntityManager, actor: AuditActor, id: number): Promise<RuleVersion> {
  await em.transactional(async (tem) => {
    const [r] = await query<RuleRow>(tem, 'SELECT * FROM deadline_rule WHERE id = ? AND municipality_id = ? FOR UPDATE', [id, actor.municipalityId]);
    if (!r) throw new InputError('id', `правило ${id} не найдено`);
    if (r.valid_to != null) throw new InputError('id', `версия ${id} уже не действует`);
    if (r.theme_id == null && !r.urgent) throw new InputError('id', 'основное правило канала нельзя отменить, его можно только изменить');
    await query(tem, 'UPDATE deadline_rule SET valid_to = clock_timestamp() WHERE id = ?', [id]);
    await audit(tem, actor, { entity: 'deadline_rule', entityId: id, action: 'retire', before: stripRow(r) });
  });
  invalidateDeadlines();
  return (await ruleVersions(em, actor.municipalityId, { ids: [id] }))[0];
}

function stripRow(r: RuleRow) {
  const { municipality_id: _m, created_at: _c, ...rest } = r;
  return rest;
}

interface RuleFile {
  channel: string; theme: string | null; urgent: boolean; firstReaction: [number, DeadlineUnit] | null; answer: [number, DeadlineUnit];
  atRiskShare: number; extension: [number, DeadlineUnit] | null; extensionNotice: boolean; extensionFrom?: ExtensionFrom; source?: string;
}

/**
 * The control loop's defaults for a municipality, loaded once: the bundled production calendar years it lacks, the
 * working hours and settings from db/reference/<code>/deadline_settings.json, and the rules from deadline_rules.json
 * (each marked «по умолчанию, подтвердить локально», valid from 2000-01-01 so that imported history has a rule).
 */
export async function ensureDeadlineDefaults(em: EntityManager, municipalityId: number, code: string): Promise<void> {
  await ensureBundledCalendar(em);
  await ensureWorkingHours(em, municipalityId, code);
  const [{ n }] = await query<{ n: number }>(em, 'SELECT count(*)::int AS n FROM deadline_rule WHERE municipality_id = ?', [municipalityId]);
  let file: { urgentKeywords?: string[]; satisfactionTarget?: DeadlineSettings['satisfactionTarget']; repeatWindowDays?: number } = {};
  try { file = readReference(code, 'deadline_settings.json'); } catch { /* defaults */ }
  const settings = checkSettings({ ...DEFAULT_SETTINGS, ...file }) as DeadlineSettings;
  await em.transactional(async (tem) => {
    for (const key of SETTING_KEYS) {
      await query(tem, `INSERT INTO deadline_setting (municipality_id, key, value, updated_by) VALUES (?, ?, ?::jsonb, 'system:reference')
                        ON CONFLICT (municipality_id, key) DO NOTHING`, [municipalityId, key, JSON.stringify(settings[key])]);
    }
    if (n > 0) return;
    let rules: RuleFile[] = [];
    try { rules = readReference<RuleFile[]>(code, 'deadline_rules.json'); } catch { return; }
    const known = await knownRefs(tem, municipalityId);
    const themeIds = new Map((await query<{ id: number; code: string }>(tem, 'SELECT id, code FROM theme WHERE municipality_id = ?', [municipalityId])).map((t) => [t.code, t.id]));
    for (const [i, f] of rules.entries()) {
      const themeId = f.theme == null ? null : themeIds.get(f.theme);
      if (themeId === undefined) throw new Error(`deadline_rules.json[${i}]: unknown theme ${f.theme}`);
      const v: RuleValues = {
        channel: f.channel, themeId, urgent: !!f.urgent,
        firstReactionNorm: f.firstReaction?.[0] ?? null, firstReactionUnit: f.firstReaction?.[1] ?? null,
        answerNorm: f.answer[0], answerUnit: f.answer[1], atRiskShare: f.atRiskShare,
        extensionMax: f.extension?.[0] ?? null, extensionUnit: f.extension?.[1] ?? null, extensionNotice: !!f.extensionNotice,
        extensionFrom: f.extensionFrom ?? 'DUE', isDefault: true, source: f.source ?? null, note: null,
      };
      checkRule(v, known, `deadline_rules.json[${i}]`);
      await query(tem,
        `INSERT INTO deadline_rule (municipality_id, channel, theme_id, urgent, first_reaction_norm, first_reaction_unit, answer_norm, answer_unit,
           at_risk_share, extension_max, extension_unit, extension_notice, extension_from, is_default, source, valid_from, created_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, true, ?, '2000-01-01T00:00:00Z', 'system:reference')`,
        [municipalityId, v.channel, v.themeId, v.urgent, v.firstReactionNorm, v.firstReactionUnit, v.answerNorm, v.answerUnit, v.atRiskShare,
          v.extensionMax, v.extensionUnit, v.extensionNotice, v.extensionFrom, v.source]);
    }
  });
  invalidateDeadlines();
}

/** What computing deadlines needs, loaded once per import / request burst. */
export class DeadlineContext {
  constructor(readonly wt: WorkTime, readonly rules: RuleSet, readonly urgency: UrgencyMatcher, readonly settings: DeadlineSettings) {}

  /** Urgency by keywords: the matching pattern or null. */
  urgentBy(text: string): string | null { return this.urgency.match(text); }

  /** The rule version and due times of an appeal registered at `received` (ms). */
  plan(channel: string, themeId: number | null, urgent: boolean, received: number): { rule: RuleVersion | null; due: DueTimes | null } {
    const rule = this.rules.pick(channel, themeId, urgent, received);
    return { rule, due: rule ? dueTimes(this.wt, rule, received) : null };
  }

  /** Working minutes from registration to an instant (null when there is none). */
  minutes(received: number, at: number | null | undefined): number | null {
    return at == null ? null : this.wt.workingMinutesBetween(received, at);
  }
}

const CACHE_MS = 60_000;
let version = 0;
const cache = new Map<number, { at: number; version: number; wt: Promise<WorkTime>; ctx: Promise<DeadlineContext> }>();
export function invalidateDeadlines() { version++; }

/** The deadline context of a municipality (cached for a minute; at once after a change made by this process). */
export function loadDeadlineContext(em: EntityManager, municipalityId: number): Promise<DeadlineContext> {
  const c = cache.get(municipalityId);
  const wtp = loadWorkTime(em, municipalityId); // the same promise while the working time is unchanged
  if (c && c.version === version && c.wt === wtp && Date.now() - c.at < CACHE_MS) return c.ctx;
  const ctx = (async () => {
    const wt = await wtp;
    const versions = await ruleVersions(em, municipalityId);
    const { parents } = await knownRefs(em, municipalityId);
    const settings = await deadlineSettings(em, municipalityId);
    return new DeadlineContext(wt, new RuleSet(versions, parents), new UrgencyMatcher(settings.urgentKeywords), settings);
  })();
  cache.set(municipalityId, { at: Date.now(), version, wt: wtp, ctx });
  ctx.catch(() => cache.delete(municipalityId));
  return ctx;
}
