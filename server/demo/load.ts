import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { generateDemoAppeals, type DemoAppeal } from './generator.js';
import { loadDeadlineContext } from '../deadlines/store.js';
import { atRiskAt } from '../deadlines/rules.js';

export interface DemoLoadReport { appeals: number; authors: number; events: number; seconds: number }

const CHUNK = 10_000;
const BULK_THRESHOLD = 50_000;

/** Drops the indexes that back no constraint; returns their CREATE INDEX statements. */
async function dropSecondaryIndexes(em: EntityManager, tables: string[]): Promise<string[]> {
  const rows = await query<{ name: string; def: string }>(
    em,
    `SELECT i.indexname AS name, i.indexdef AS def FROM pg_indexes i
      WHERE i.schemaname = current_schema() AND i.tablename = ANY(?::text[])
        AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)`,
    [tables],
  );
  for (const r of rows) await query(em, `DROP INDEX IF EXISTS "${r.name}"`);
  return rows.map((r) => r.def);
}

async function allocateIds(em: EntityManager, table: string, n: number): Promise<number[]> {
  if (n === 0) return [];
  const rows = await query<{ id: number }>(em, 
    `SELECT nextval(pg_get_serial_sequence(?, 'id'))::int AS id FROM generate_series(1, ?)`,
    [table, n],
  );
  return rows.map((r) => r.id);
}

/**
 * Loads `count` generated demo appeals (deterministic by seed) with their authors and
 * event histories, in chunks, each chunk one transaction. Bulk SQL via unnest()
 * (works on both backends; COPY FROM STDIN does not work through pglite-socket).
 */
export async function loadDemo(
  em: EntityManager,
  municipalityId: number,
  opts: { count: number; seed?: number; onProgress?: (done: number, total: number) => void },
): Promise<DemoLoadReport> {
  const started = Date.now();
  const themes = await query<{ id: number; code: string; organization_id: number | null }>(em, 
    'SELECT id, code, organization_id FROM theme WHERE municipality_id = ?',
    [municipalityId],
  );
  const themeByCode = new Map(themes.map((t) => [t.code, t]));
  // Deadlines (server/deadlines): the rule version, due times and working minutes of each appeal, as the import computes them.
  const dc = await loadDeadlineContext(em, municipalityId);
  // The generator draws places from this municipality's own reference data (districts, streets, hotspots).
  const [mun] = await query<{ code: string }>(em, 'SELECT code FROM municipality WHERE id = ?', [municipalityId]);
  if (!mun) throw new Error(`loadDemo: no municipality ${municipalityId}`);
  const authorIds = new Map<number, number>();
  // Ids by place in the generated stream: a repeat names its earlier appeal by that place.
  const idBySeq = new Int32Array(opts.count);
  let chunk: DemoAppeal[] = [];
  let appeals = 0;
  let events = 0;

  const flush = async () => {
    if (chunk.length === 0) return;
    const rows = chunk;
    chunk = [];
    await em.transactional(async (tem) => {
      const fresh = [...new Map(rows.filter((r) => !authorIds.has(r.authorKey)).map((r) => [r.authorKey, r])).values()];
      const newIds = await allocateIds(tem, 'appeal_author', fresh.length);
      if (fresh.length) {
        await query(tem, 
          `INSERT INTO appeal_author (id, municipality_id, kind, full_name, phone, email, profile_url, contact_consent)
           SELECT id, ?, kind, full_name, phone, email, profile_url, (phone IS NOT NULL OR email IS NOT NULL) AND id % 5 < 2
             FROM unnest(?::int[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[]) AS t(id, kind, full_name, phone, email, profile_url)`,
          [
            municipalityId, newIds, fresh.map((r) => r.authorKind), fresh.map((r) => r.authorName),
            fresh.map((r) => r.authorPhone), fresh.map((r) => r.authorEmail), fresh.map((r) => r.authorProfileUrl),
          ],
        );
      }
      const freshIds = new Map(fresh.map((f, i) => [f.authorKey, newIds[i]]));
      const ids = await allocateIds(tem, 'appeal', rows.length);
      rows.forEach((r, i) => { if (r.seq < idBySeq.length) idBySeq[r.seq] = ids[i]; });
      const repeatOf = rows.map((r) => (r.repeatOfSeq != null && r.repeatOfSeq < idBySeq.length && idBySeq[r.repeatOfSeq] > 0 ? idBySeq[r.repeatOfSeq] : null));
      const theme = rows.map((r) => {
        const t = themeByCode.get(r.themeCode);
        if (!t) throw new Error(`demo generator produced unknown theme code ${r.themeCode}`);
        return t;
      });
      const iso = (d: Date | number | null | undefined) => (d == null ? null : new Date(d).toISOString());
      const plans = rows.map((r, i) => {
        const received = r.receivedAt.getTime();
        const { rule, due } = dc.plan(r.channel, theme[i].id, r.urgent, received);
        let answerDue = due?.answerDueAt ?? null;
        let risk = due?.answerAtRiskAt ?? null;
        if (rule && r.extension) { answerDue = r.extension.to.getTime(); risk = atRiskAt(dc.wt, received, answerDue, rule.atRiskShare); }
        return { rule: rule?.id ?? null, first: iso(due?.firstReactionDueAt), due: iso(answerDue), risk: iso(risk),
          frm: dc.minutes(received, (r.firstResponseAt ?? r.answeredAt)?.getTime()), am: dc.minutes(received, r.answeredAt?.getTime()) };
      });
      await query(tem, 
        `INSERT INTO appeal (id, municipality_id, channel, external_id, received_at, author_kind, author_id, text, address, point,
                             district_id, theme_id, organization_id, status, due_at, first_response_at, answered_at, answer_text, satisfaction,
                             urgent, deadline_rule_id, first_reaction_due_at, answer_due_at, answer_at_risk_at, first_reaction_minutes, answer_minutes,
                             repeat_of_id)
         SELECT t.id, ?, t.channel, t.external_id, t.received_at, t.author_kind, t.author_id, t.text, t.address, p.point,
                (SELECT d.id FROM district d WHERE d.municipality_id = ? AND ST_Intersects(d.geom, p.point) ORDER BY d.id LIMIT 1),
                t.theme_id, t.organization_id, t.status, t.due_at, t.first_response_at, t.answered_at, t.answer_text, t.satisfaction,
                t.urgent, t.rule, t.first, t.due, t.risk, t.frm, t.am, t.repeat_of
           FROM unnest(?::int[], ?::text[], ?::text[], ?::timestamptz[], ?::text[], ?::int[], ?::text[], ?::text[], ?::float8[], ?::float8[],
                       ?::int[], ?::int[], ?::text[], ?::timestamptz[], ?::timestamptz[], ?::timestamptz[], ?::text[], ?::smallint[],
                       ?::boolean[], ?::int[], ?::timestamptz[], ?::timestamptz[], ?::timestamptz[], ?::int[], ?::int[], ?::int[])
                AS t(id, channel, external_id, received_at, author_kind, author_id, text, address, lon, lat,
                     theme_id, organization_id, status, due_at, first_response_at, answered_at, answer_text, satisfaction,
                     urgent, rule, first, due, risk, frm, am, repeat_of)
          CROSS JOIN LATERAL (SELECT CASE WHEN t.lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326) END AS point) p`,
        [
          municipalityId, municipalityId,
          ids, rows.map((r) => r.channel), rows.map((r) => r.externalId), rows.map((r) => r.receivedAt.toISOString()),
          rows.map((r) => r.authorKind), rows.map((r) => authorIds.get(r.authorKey) ?? freshIds.get(r.authorKey)),
          rows.map((r) => r.text), rows.map((r) => r.address), rows.map((r) => r.lon), rows.map((r) => r.lat),
          theme.map((t) => t.id), theme.map((t) => t.organization_id),
          rows.map((r) => r.status), rows.map((r) => iso(r.dueAt)), rows.map((r) => iso(r.firstResponseAt)),
          rows.map((r) => iso(r.answeredAt)), rows.map((r) => r.answerText), rows.map((r) => r.satisfaction),
          rows.map((r) => r.urgent), plans.map((p) => p.rule), plans.map((p) => p.first), plans.map((p) => p.due), plans.map((p) => p.risk),
          plans.map((p) => p.frm), plans.map((p) => p.am), repeatOf,
        ],
      );
      freshIds.forEach((id, key) => authorIds.set(key, id));

      // Event history: creation, then every status transition, then the rating.
      const ev = { appeal: [] as number[], at: [] as string[], actor: [] as string[], kind: [] as string[], from: [] as (string | null)[], to: [] as (string | null)[], comment: [] as (string | null)[] };
      const push = (appeal: number, at: Date, actor: string, kind: string, from: string | null, to: string | null, comment: string | null = null) => {
        ev.appeal.push(appeal); ev.at.push(at.toISOString()); ev.actor.push(actor); ev.kind.push(kind); ev.from.push(from); ev.to.push(to); ev.comment.push(comment);
      };
      rows.forEach((r, i) => {
        const id = ids[i];
        push(id, r.receivedAt, `import:${r.channel}`, 'CREATED', null, 'NEW');
        if (repeatOf[i] != null) push(id, r.receivedAt, `import:${r.channel}`, 'REPEAT', null, String(repeatOf[i]), 'повторное обращение того же автора по той же теме и месту после ответа');
        if (r.urgent) push(id, r.receivedAt, `import:${r.channel}`, 'URGENCY', null, 'true', 'срочное по ключевым словам');
        if (r.firstResponseAt && r.status !== 'REJECTED') push(id, r.firstResponseAt, 'demo', 'FIRST_REACTION', null, r.firstResponseAt.toISOString());
        if (r.extension) push(id, r.extension.at, 'demo', 'EXTENSION', r.extension.from.toISOString(), r.extension.to.toISOString(), r.extension.reason + (r.extension.notified ? '; автор уведомлён' : ''));
        const respond = r.firstResponseAt ?? r.answeredAt ?? r.receivedAt;
        if (r.status === 'REJECTED') { push(id, respond, 'demo', 'STATUS', 'NEW', 'REJECTED'); return; }
        if (r.status === 'NEW') return;
        push(id, respond, 'demo', 'STATUS', 'NEW', 'IN_PROGRESS');
        if (r.status === 'IN_PROGRESS' || !r.answeredAt) return;
        push(id, r.answeredAt, 'demo', 'ANSWER', null, 'ANSWERED');
        push(id, r.answeredAt, 'demo', 'STATUS', 'IN_PROGRESS', 'ANSWERED');
        if (r.status === 'CLOSED') push(id, new Date(r.answeredAt.getTime() + 3 * 86400_000), 'demo', 'STATUS', 'ANSWERED', 'CLOSED');
        if (r.satisfaction != null) push(id, new Date(r.answeredAt.getTime() + 86400_000), 'demo', 'SATISFACTION', null, String(r.satisfaction));
      });
      await query(tem, 
        `INSERT INTO appeal_event (municipality_id, appeal_id, at, actor, kind, from_value, to_value, comment)
         SELECT ?, * FROM unnest(?::int[], ?::timestamptz[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])`,
        [municipalityId, ev.appeal, ev.at, ev.actor, ev.kind, ev.from, ev.to, ev.comment],
      );
      events += ev.appeal.length;
    });
    appeals += rows.length;
    opts.onProgress?.(appeals, opts.count);
  };

  // A large load into empty tables builds the secondary indexes once at the end instead of
  // maintaining them row by row (several times faster; the definitions are read from the catalog).
  const rebuild = opts.count >= BULK_THRESHOLD ? await dropSecondaryIndexes(em, ['appeal', 'appeal_event', 'appeal_author']) : [];
  try {
    for (const row of generateDemoAppeals({ count: opts.count, seed: opts.seed, municipality: mun.code })) {
      chunk.push(row);
      if (chunk.length >= CHUNK) await flush();
    }
    await flush();
  } finally {
    for (const def of rebuild) await query(em, def);
    // VACUUM also sets the visibility map, which index-only scans need (the embedded backend has no autovacuum).
    if (rebuild.length) await query(em, 'VACUUM (ANALYZE) appeal, appeal_event, appeal_author');
  }
  return { appeals, authors: authorIds.size, events, seconds: (Date.now() - started) / 1000 };
}
