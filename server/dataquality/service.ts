import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { InputError } from '../errors.js';
import type { RowScope } from '../auth/scope.js';

/**
 * Control of the quality and reliability of the data that organisations provide (decree 4.2.6). Each rule is a
 * reviewed SQL query with thresholds kept as data (`dq_setting`); a check stores what it finds in `dq_finding`
 * (idempotent by rule and key), marks as fixed what is no longer found, and the coordinator sends the head of an
 * organisation a notice (a letter, DOCX) listing its open findings with a date to fix them by.
 */

export interface DqRule { code: string; name: string; description: string }

export const DQ_RULES: DqRule[] = [
  { code: 'ANSWER_WITHOUT_TEXT', name: 'Ответ без текста', description: 'Обращение отмечено как отвеченное (есть дата ответа), но текста ответа нет.' },
  { code: 'ANSWER_BEFORE_APPEAL', name: 'Ответ раньше обращения', description: 'Дата ответа раньше даты поступления обращения.' },
  { code: 'ANSWERED_WITHOUT_ANSWER', name: 'Статус «дан ответ» без ответа', description: 'Статус «дан ответ», но даты ответа нет.' },
  { code: 'STUCK_IN_STATUS', name: 'Обращение застряло в статусе', description: 'Обращение в статусе «новое» или «в работе» дольше порога (дней) без смены статуса.' },
  { code: 'ORG_CONTACTS_MISSING', name: 'Нет контактных данных организации', description: 'У организации не указаны руководитель или адрес электронной почты.' },
  { code: 'ROUTED_TO_INACTIVE_ORG', name: 'Направлено в несуществующую организацию', description: 'Открытое обращение или правило маршрутизации указывает на организацию, которой больше нет.' },
  { code: 'GEOCODING_FAILED_REPEATEDLY', name: 'Адрес повторно не распознан', description: 'Один и тот же адрес из одного источника не распознан порог раз и более.' },
];
const RULE_CODES = new Set(DQ_RULES.map((r) => r.code));

/** Timestamps from raw SQL arrive as Date (pg) or as text (some drivers): always Date for the GraphQL DateTime scalar. */
function withDates<T extends Record<string, unknown>>(rows: T[], keys: string[]): T[] {
  for (const r of rows) for (const k of keys) if (r[k] != null && !(r[k] instanceof Date)) (r as Record<string, unknown>)[k] = new Date(String(r[k]).replace(' ', 'T').replace(/([+-]\d\d)$/, '$1:00'));
  return rows;
}

interface Found { rule: string; key: string; organization_id: number | null; appeal_id: number | null; details: string }

/** The rules' SQL: each returns (rule, key, organization_id, appeal_id, details) for municipality $mid. */
function ruleSql(stuckDays: number, geocodeFailures: number): Record<string, { sql: string; params: unknown[] }> {
  return {
    ANSWER_WITHOUT_TEXT: { sql: `SELECT 'ANSWER_WITHOUT_TEXT' AS rule, 'a' || a.id AS key, a.organization_id, a.id AS appeal_id,
        'Обращение ' || a.external_id || ' (' || a.channel || '): ответ от ' || to_char(a.answered_at AT TIME ZONE m.timezone, 'DD.MM.YYYY') || ' без текста' AS details
      FROM appeal a JOIN municipality m ON m.id = a.municipality_id
     WHERE a.municipality_id = ? AND a.answered_at IS NOT NULL AND coalesce(btrim(a.answer_text), '') = ''`, params: [] },
    ANSWER_BEFORE_APPEAL: { sql: `SELECT 'ANSWER_BEFORE_APPEAL', 'a' || a.id, a.organization_id, a.id,
        'Обращение ' || a.external_id || ': поступило ' || to_char(a.received_at AT TIME ZONE m.timezone, 'DD.MM.YYYY HH24:MI') || ', ответ датирован ' || to_char(a.answered_at AT TIME ZONE m.timezone, 'DD.MM.YYYY HH24:MI')
      FROM appeal a JOIN municipality m ON m.id = a.municipality_id
     WHERE a.municipality_id = ? AND a.answered_at < a.received_at`, params: [] },
    ANSWERED_WITHOUT_ANSWER: { sql: `SELECT 'ANSWERED_WITHOUT_ANSWER', 'a' || a.id, a.organization_id, a.id,
        'Обращение ' || a.external_id || ': статус «дан ответ», дата ответа не указана'
      FROM appeal a WHERE a.municipality_id = ? AND a.status = 'ANSWERED' AND a.answered_at IS NULL`, params: [] },
    STUCK_IN_STATUS: { sql: `SELECT 'STUCK_IN_STATUS', 'a' || a.id, a.organization_id, a.id,
        'Обращение ' || a.external_id || ': статус «' || CASE a.status WHEN 'NEW' THEN 'новое' ELSE 'в работе' END || '» с ' ||
        to_char(coalesce(e.at, a.received_at) AT TIME ZONE m.timezone, 'DD.MM.YYYY') || ' (' || (current_date - (coalesce(e.at, a.received_at) AT TIME ZONE m.timezone)::date) || ' дн.)'
      FROM appeal a JOIN municipality m ON m.id = a.municipality_id
      LEFT JOIN LATERAL (SELECT max(ev.at) AS at FROM appeal_event ev WHERE ev.appeal_id = a.id AND ev.kind = 'STATUS') e ON true
     WHERE a.municipality_id = ? AND a.status IN ('NEW', 'IN_PROGRESS') AND a.duplicate_of_id IS NULL
       AND a.received_at < now() - make_interval(days => ?) AND coalesce(e.at, a.received_at) < now() - make_interval(days => ?)`, params: [stuckDays, stuckDays] },
    ORG_CONTACTS_MISSING: { sql: `SELECT 'ORG_CONTACTS_MISSING', 'o' || o.id, o.id, NULL::int,
        o.name || ': не указаны ' || concat_ws(', ', CASE WHEN coalesce(btrim(o.head_name), '') = '' THEN 'руководитель' END,
                                                CASE WHEN coalesce(btrim(o.email), '') = '' THEN 'электронная почта' END)
      FROM organization o WHERE o.municipality_id = ? AND o.active AND (coalesce(btrim(o.head_name), '') = '' OR coalesce(btrim(o.email), '') = '')`, params: [] },
    ROUTED_TO_INACTIVE_ORG: { sql: `SELECT 'ROUTED_TO_INACTIVE_ORG', 'a' || a.id, a.organization_id, a.id,
        'Обращение ' || a.external_id || ' направлено в организацию «' || o.name || '», которой больше нет'
      FROM appeal a JOIN organization o ON o.id = a.organization_id
     WHERE a.municipality_id = ? AND NOT o.active AND a.status IN ('NEW', 'IN_PROGRESS')
    UNION ALL
    SELECT 'ROUTED_TO_INACTIVE_ORG', 'r' || r.id, r.organization_id, NULL::int,
        'Правило маршрутизации темы «' || t.name || '» направляет в организацию «' || o.name || '», которой больше нет'
      FROM routing_rule r JOIN organization o ON o.id = r.organization_id JOIN theme t ON t.id = r.theme_id
     WHERE r.municipality_id = ? AND NOT o.active`, params: ['$mid'] },
    GEOCODING_FAILED_REPEATEDLY: { sql: `SELECT 'GEOCODING_FAILED_REPEATEDLY', 'g' || md5(a.channel || '|' || lower(btrim(a.address))), min(a.organization_id), min(a.id),
        'Адрес «' || left(min(a.address), 200) || '» из канала ' || a.channel || ' не распознан ' || count(*) || ' раз'
      FROM appeal a WHERE a.municipality_id = ? AND a.place_status = 'UNRESOLVED' AND coalesce(btrim(a.address), '') <> ''
     GROUP BY a.channel, lower(btrim(a.address)) HAVING count(*) >= ?`, params: [geocodeFailures] },
  };
}

export interface DqSettings { stuckDays: number; geocodeFailures: number; disabledRules: string[] }

export class DataQualityService {
  constructor(private readonly em: EntityManager, private readonly ctx: AuditActor & { scope?: RowScope }) {}

  private get mid() {
    return this.ctx.municipalityId;
  }

  async settings(): Promise<DqSettings> {
    const [s] = await query<{ stuck_days: number; geocode_failures: number; disabled_rules: string[] }>(this.em,
      'SELECT stuck_days, geocode_failures, disabled_rules FROM dq_setting WHERE municipality_id = ?', [this.mid]);
    return { stuckDays: s?.stuck_days ?? 30, geocodeFailures: s?.geocode_failures ?? 3, disabledRules: s?.disabled_rules ?? [] };
  }

  async updateSettings(input: Partial<DqSettings>): Promise<DqSettings> {
    const cur = await this.settings();
    const next = { ...cur, ...Object.fromEntries(Object.entries(input).filter(([, v]) => v != null)) } as DqSettings;
    if (!Number.isInteger(next.stuckDays) || next.stuckDays < 1 || next.stuckDays > 3650) throw new InputError('stuckDays', 'целое число дней от 1 до 3650');
    if (!Number.isInteger(next.geocodeFailures) || next.geocodeFailures < 2 || next.geocodeFailures > 10000) throw new InputError('geocodeFailures', 'целое от 2 до 10000');
    for (const r of next.disabledRules) if (!RULE_CODES.has(r)) throw new InputError('disabledRules', `неизвестное правило «${String(r).slice(0, 40)}»`);
    await this.em.transactional(async (tem) => {
      await query(tem, `INSERT INTO dq_setting (municipality_id, stuck_days, geocode_failures, disabled_rules) VALUES (?, ?, ?, ?::text[])
        ON CONFLICT (municipality_id) DO UPDATE SET stuck_days = excluded.stuck_days, geocode_failures = excluded.geocode_failures, disabled_rules = excluded.disabled_rules`,
      [this.mid, next.stuckDays, next.geocodeFailures, next.disabledRules]);
      await audit(tem, this.ctx, { entity: 'dq_setting', action: 'update', before: cur, after: next });
    });
    return next;
  }

  /**
   * Runs every enabled rule: new findings are stored, findings seen again keep their first date, open findings no
   * longer found (or of a rule switched off) are marked fixed. One transaction.
   */
  async check(): Promise<{ found: number; created: number; resolved: number }> {
    const s = await this.settings();
    const rules = ruleSql(s.stuckDays, s.geocodeFailures);
    const enabled = DQ_RULES.map((r) => r.code).filter((c) => !s.disabledRules.includes(c));
    return this.em.transactional(async (tem) => {
      const found: Found[] = [];
      for (const code of enabled) {
        const r = rules[code];
        const params = [this.mid, ...r.params.map((p) => (p === '$mid' ? this.mid : p))];
        found.push(...(await query<Found>(tem, `SELECT * FROM (${r.sql}) f(rule, key, organization_id, appeal_id, details) LIMIT 100000`, params)));
      }
      const [{ created }] = await query<{ created: number }>(tem, `
        WITH u AS (SELECT * FROM unnest(?::text[], ?::text[], ?::int[], ?::int[], ?::text[]) AS u(rule, key, organization_id, appeal_id, details)),
        up AS (
          INSERT INTO dq_finding (municipality_id, rule, key, organization_id, appeal_id, details)
          SELECT ?, rule, key, organization_id, appeal_id, details FROM u
          ON CONFLICT (municipality_id, rule, key) DO UPDATE
            SET last_found_at = now(), details = excluded.details, organization_id = excluded.organization_id,
                resolved_at = NULL, notice_id = CASE WHEN dq_finding.resolved_at IS NULL THEN dq_finding.notice_id END
          RETURNING (xmax = 0) AS inserted)
        SELECT count(*) FILTER (WHERE inserted)::int AS created FROM up`,
      [found.map((f) => f.rule), found.map((f) => f.key), found.map((f) => f.organization_id), found.map((f) => f.appeal_id), found.map((f) => f.details), this.mid]);
      const resolved = await query(tem, `
        UPDATE dq_finding f SET resolved_at = now()
         WHERE f.municipality_id = ? AND f.resolved_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM unnest(?::text[], ?::text[]) AS u(rule, key) WHERE u.rule = f.rule AND u.key = f.key)
        RETURNING id`, [this.mid, found.map((f) => f.rule), found.map((f) => f.key)]);
      await audit(tem, this.ctx, { entity: 'dq_finding', action: 'check', before: null, after: { found: found.length, created, resolved: resolved.length } });
      return { found: found.length, created, resolved: resolved.length };
    });
  }

  private scopeSql(alias: string): { sql: string; params: unknown[] } {
    const org = this.ctx.scope?.organizationId;
    if (org == null) return { sql: '', params: [] };
    return { sql: ` AND ${alias}.organization_id IN (WITH RECURSIVE sub AS (SELECT id FROM organization WHERE id = ?
                   UNION SELECT o.id FROM organization o JOIN sub ON o.parent_id = sub.id) SELECT id FROM sub)`, params: [org] };
  }

  /** Open findings per organisation and rule (an officer: its own organisation only). */
  async summary() {
    const sc = this.scopeSql('f');
    return query<{ organizationId: string | null; organizationName: string | null; rule: string; open: number; noticed: number }>(this.em, `
      SELECT f.organization_id::text AS "organizationId", o.name AS "organizationName", f.rule, count(*)::int AS open,
             count(f.notice_id)::int AS noticed
        FROM dq_finding f LEFT JOIN organization o ON o.id = f.organization_id
       WHERE f.municipality_id = ? AND f.resolved_at IS NULL${sc.sql}
       GROUP BY 1, 2, 3 ORDER BY count(*) DESC, 2`, [this.mid, ...sc.params]);
  }

  async findings(opts: { organizationId?: number | null; rule?: string | null; open?: boolean; first: number }) {
    if (opts.first < 1 || opts.first > 1000) throw new InputError('first', 'от 1 до 1000');
    if (opts.rule && !RULE_CODES.has(opts.rule)) throw new InputError('rule', `неизвестное правило «${opts.rule.slice(0, 40)}»`);
    const sc = this.scopeSql('f');
    const where = [`f.municipality_id = ?`];
    const params: unknown[] = [this.mid];
    if (opts.organizationId != null) { where.push('f.organization_id = ?'); params.push(opts.organizationId); }
    if (opts.rule) { where.push('f.rule = ?'); params.push(opts.rule); }
    if (opts.open !== false) where.push('f.resolved_at IS NULL');
    return withDates(await query<Record<string, unknown>>(this.em, `
      SELECT f.id::text, f.rule, f.organization_id::text AS "organizationId", o.name AS "organizationName", f.appeal_id::text AS "appealId",
             f.details, f.first_found_at AS "firstFoundAt", f.last_found_at AS "lastFoundAt", f.resolved_at AS "resolvedAt", f.notice_id::text AS "noticeId"
        FROM dq_finding f LEFT JOIN organization o ON o.id = f.organization_id
       WHERE ${where.join(' AND ')}${sc.sql} ORDER BY f.first_found_at, f.id LIMIT ?`, [...params, ...sc.params, opts.first]), ['firstFoundAt', 'lastFoundAt', 'resolvedAt']);
  }

  /** A notice to the head of an organisation: its open findings not yet in a notice, to be fixed by `fixBy`. */
  async createNotice(organizationId: number, fixBy: string, comment?: string | null) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(fixBy ?? '') || Number.isNaN(Date.parse(`${fixBy}T00:00:00Z`)) || new Date(`${fixBy}T00:00:00Z`).toISOString().slice(0, 10) !== fixBy) {
      throw new InputError('fixBy', 'дата в формате ГГГГ-ММ-ДД');
    }
    const c = (comment ?? '').trim();
    if (c.length > 2000) throw new InputError('comment', 'не длиннее 2000 символов');
    return this.em.transactional(async (tem) => {
      const [org] = await query<{ id: number }>(tem, 'SELECT id FROM organization WHERE id = ? AND municipality_id = ?', [organizationId, this.mid]);
      if (!org) throw new InputError('organizationId', `организация ${organizationId} не найдена`);
      const [{ today }] = await query<{ today: string }>(tem, `SELECT ((now() AT TIME ZONE timezone)::date)::text AS today FROM municipality WHERE id = ?`, [this.mid]);
      if (fixBy <= today) throw new InputError('fixBy', `срок устранения должен быть позже сегодняшнего дня (${today})`);
      const open = await query<{ id: number }>(tem, `SELECT id FROM dq_finding WHERE municipality_id = ? AND organization_id = ? AND resolved_at IS NULL AND notice_id IS NULL FOR UPDATE`, [this.mid, organizationId]);
      if (!open.length) throw new InputError('organizationId', 'у организации нет новых неустранённых ошибок в данных');
      const [n] = await query<{ id: number }>(tem, `INSERT INTO dq_notice (municipality_id, organization_id, created_by, fix_by, comment) VALUES (?, ?, ?, ?, ?) RETURNING id`,
        [this.mid, organizationId, this.ctx.user?.login ?? this.ctx.actor ?? 'system', fixBy, c || null]);
      await query(tem, 'UPDATE dq_finding SET notice_id = ? WHERE id = ANY(?::int[])', [n.id, open.map((o) => o.id)]);
      await audit(tem, this.ctx, { entity: 'dq_notice', entityId: n.id, action: 'create', before: null, after: { organizationId, fixBy, findings: open.length } });
      return (await new DataQualityService(tem, this.ctx).notices(n.id))[0];
    });
  }

  /** Notices with their state: FIXED when every finding in it is fixed, OVERDUE when the date passed first, else SENT. */
  async notices(id?: number) {
    const sc = this.scopeSql('n');
    return withDates(await query<Record<string, unknown>>(this.em, `
      SELECT n.id::text, n.organization_id::text AS "organizationId", o.name AS "organizationName", o.head_name AS "headName",
             n.created_by AS "createdBy", n.created_at AS "createdAt", n.fix_by::text AS "fixBy", n.comment,
             count(f.id)::int AS findings, count(f.id) FILTER (WHERE f.resolved_at IS NULL)::int AS "openFindings",
             CASE WHEN count(f.id) FILTER (WHERE f.resolved_at IS NULL) = 0 THEN 'FIXED'
                  WHEN n.fix_by < (now() AT TIME ZONE m.timezone)::date THEN 'OVERDUE' ELSE 'SENT' END AS status
        FROM dq_notice n JOIN organization o ON o.id = n.organization_id JOIN municipality m ON m.id = n.municipality_id
        LEFT JOIN dq_finding f ON f.notice_id = n.id
       WHERE n.municipality_id = ?${id != null ? ' AND n.id = ?' : ''}${sc.sql}
       GROUP BY n.id, n.municipality_id, o.name, o.head_name, m.timezone ORDER BY n.id DESC LIMIT 500`, [this.mid, ...(id != null ? [id] : []), ...sc.params]), ['createdAt']);
  }

  /** The organisation's head and contacts (the notice's addressee); ADMIN, CURATOR, COORDINATOR edit them. */
  async setContacts(organizationId: number, input: { headName?: string | null; headTitle?: string | null; email?: string | null; phone?: string | null; active?: boolean | null }) {
    const clean = (field: string, v: string | null | undefined, max: number) => {
      if (v == null) return null;
      const s = v.replace(/\u0000/g, '').trim();
      if (s.length > max) throw new InputError(field, `не длиннее ${max} символов`);
      return s || null;
    };
    const email = clean('email', input.email, 200);
    if (email && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new InputError('email', `не адрес электронной почты: «${email.slice(0, 60)}»`);
    return this.em.transactional(async (tem) => {
      const [before] = await query<Record<string, unknown>>(tem, 'SELECT head_name, head_title, email, phone, active FROM organization WHERE id = ? AND municipality_id = ?', [organizationId, this.mid]);
      if (!before) throw new InputError('organizationId', `организация ${organizationId} не найдена`);
      const after = { head_name: clean('headName', input.headName, 200), head_title: clean('headTitle', input.headTitle, 300), email, phone: clean('phone', input.phone, 50), active: input.active ?? before.active };
      await query(tem, 'UPDATE organization SET head_name = ?, head_title = ?, email = ?, phone = ?, active = ? WHERE id = ?',
        [after.head_name, after.head_title, after.email, after.phone, after.active, organizationId]);
      await audit(tem, this.ctx, { entity: 'organization', entityId: organizationId, action: 'contacts', before, after });
      return after;
    });
  }
}
