import type { Readable } from 'node:stream';
import type { EntityManager } from '@mikro-orm/postgresql';
import { createRequire } from 'node:module';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { DriverException } from '@mikro-orm/core';
import type { Channel } from '../reference/entities.js';
import type { Mapping, SourceFormat } from './mapping.js';
import { readSource } from './sources.js';
import { normalizeRecord, type Candidate, type Issue } from './normalize.js';
import { loadIntakeContext, type IntakeContext } from './context.js';
import { stems } from './text.js';
import { parseAddress, streetKeyLoose } from './address.js';

export interface IntakeSettings {
  /** Below this classifier confidence an appeal waits in the triage queue. */
  triageThreshold: number;
  /** Duplicates: same theme, within this distance and time, with similar text. */
  duplicateRadiusM: number;
  duplicateDays: number;
  duplicateSimilarity: number;
  /** Repeats: same author, same theme, within this many days. */
  repeatDays: number;
}

export const DEFAULT_SETTINGS: IntakeSettings = {
  triageThreshold: Number(process.env.INTAKE_TRIAGE_THRESHOLD ?? 0.7),
  duplicateRadiusM: Number(process.env.INTAKE_DUPLICATE_RADIUS_M ?? 150),
  duplicateDays: Number(process.env.INTAKE_DUPLICATE_DAYS ?? 14),
  duplicateSimilarity: Number(process.env.INTAKE_DUPLICATE_SIMILARITY ?? 0.5),
  repeatDays: Number(process.env.INTAKE_REPEAT_DAYS ?? 90),
};

export interface ImportOptions {
  municipalityId: number;
  channel: Channel;
  mapping: Mapping;
  format: SourceFormat;
  sourceName: string;
  actor: string;
  settings?: Partial<IntakeSettings>;
  chunkSize?: number;
  onProgress?: (read: number) => void;
}

export interface ImportReport {
  batchId: number;
  status: 'DONE' | 'FAILED';
  read: number;
  inserted: number;
  updated: number;
  unchanged: number;
  rejected: number;
  /** Rows kept with a warning (swapped coordinates fixed, outside the municipality, address not found, unknown code…). */
  flagged: number;
  /** The first issues (all are stored with the batch). */
  issues: Issue[];
  error?: string;
}

const REPORT_ISSUES = 1000;

/** PostgreSQL text cannot hold NUL: messages that quote a broken line must not carry one. */
const noNul = (s: string) => s.replace(/\u0000/g, '');

/** What the import's report says about an error: our own messages as they are, anything else generically (details in the log). */
function failureMessage(e: unknown, report: ImportReport): string {
  if (e instanceof InputError) return e.message;
  // Errors of reading the file (parsers, streams, upload limits) are about the file; database and program errors are not for the user.
  if (e instanceof Error && !(e instanceof DriverException) && !(e instanceof TypeError) && !(e instanceof RangeError)) return noNul(e.message).slice(0, 500);
  console.error('[intake] import failed', e);
  return `внутренняя ошибка при записи строк после ${report.read}-й; записанные части сохранены, повторный импорт того же файла завершит загрузку`;
}

function jaccard(a: Set<string>, b: Set<string>): number {
  if (!a.size || !b.size) return 0;
  let inter = 0;
  for (const x of a) if (b.has(x)) inter++;
  return inter / (a.size + b.size - inter);
}

interface Existing {
  id: number; status: string; theme_id: number | null; theme_source: string | null; organization_id: number | null;
  answer_text: string | null; answered_at: string | null; satisfaction: number | null; due_at: string | null; first_response_at: string | null;
}

/** MCU_PROFILE=1: time per pipeline step, summed over the chunks and printed at the end of the import. */
const PROFILE = !!process.env.MCU_PROFILE;
const stepTimes = new Map<string, number>();
let stepMark = 0;
const step = PROFILE
  ? (name: string) => { const now = performance.now(); stepTimes.set(name, (stepTimes.get(name) ?? 0) + now - stepMark); stepMark = now; }
  : (_name: string) => undefined;
const stepStart = PROFILE ? () => { stepMark = performance.now(); } : () => undefined;

// pg's own parameter serialiser (arrays become one Postgres array literal each).
const { prepareValue } = createRequire(import.meta.url)('pg/lib/utils.js') as { prepareValue(v: unknown): unknown };

/**
 * Like query() of server/db/sql.ts, but the values travel as bound parameters of the extended protocol
 * ($1, $2…) instead of being quoted into the SQL text: a chunk's arrays (texts, addresses, answers) are
 * several hundred kilobytes, and escaping them in JavaScript and lexing them again in the server cost more
 * than the statements themselves. Runs in the EntityManager's transaction; errors are converted to
 * MikroORM's DriverException like any other query's.
 */
async function bound<T = Record<string, unknown>>(em: EntityManager, sql: string, params: readonly unknown[] = []): Promise<T[]> {
  const raw = em.getConnection().getKnex().raw(sql, params.map((p) => (Array.isArray(p) ? prepareValue(p) : p ?? null)) as never[]);
  const trx = em.getTransactionContext();
  if (trx) raw.transacting(trx);
  try {
    return ((await raw) as { rows: T[] }).rows;
  } catch (e) {
    throw em.getDriver().convertException(e as Error);
  }
}

const iso = (d?: Date | string | null) => (d == null ? null : new Date(d).toISOString());

/**
 * Imports appeals from a stream: parse → validate → geocode → district → classify →
 * route → upsert by (channel, external id) with events → link duplicates and repeats.
 * Each chunk is one transaction together with its report counters, so a crash or kill
 * leaves no half-written chunk and a re-run completes with exact counts.
 */
export async function importAppeals(em: EntityManager, input: Readable, opts: ImportOptions): Promise<ImportReport> {
  const settings = { ...DEFAULT_SETTINGS, ...opts.settings };
  const t0 = performance.now();
  const ctx = await loadIntakeContext(em, opts.municipalityId);
  if (PROFILE) console.log(`[intake] context (classifier training) ${Math.round(performance.now() - t0)} ms`);
  const [batch] = await query<{ id: number }>(
    em,
    `INSERT INTO import_batch (municipality_id, channel, source_name, format, mapping, actor) VALUES (?, ?, ?, ?, ?::jsonb, ?) RETURNING id`,
    [opts.municipalityId, opts.channel, noNul(opts.sourceName).slice(0, 300), opts.format, JSON.stringify(opts.mapping), opts.actor],
  );
  const report: ImportReport = { batchId: batch.id, status: 'DONE', read: 0, inserted: 0, updated: 0, unchanged: 0, rejected: 0, flagged: 0, issues: [] };
  const chunkSize = opts.chunkSize ?? Number(process.env.INTAKE_CHUNK_SIZE ?? 1000);
  let chunk: Candidate[] = [];
  let chunkIds = new Set<string>();
  let pending: Issue[] = [];
  let pendingRead = 0;
  let pendingRejected = 0;

  // Reading and writing overlap: while one chunk is written (its own transaction), the next is parsed and
  // validated. At most one chunk is in flight, and chunks commit in file order, so a record repeated in a later
  // chunk still updates the earlier one, and the report counts only committed chunks.
  let writing: Promise<void> = Promise.resolve();
  let nextAnalyze = 2000;
  const write = async (rows: Candidate[], issues: Issue[], read: number, rejected: number) => {
    const tc = performance.now();
    const counts = await em.transactional((tem) => writeChunk(tem, ctx, rows, issues, { read, rejected }, batch.id, opts, settings));
    if (PROFILE) stepTimes.set('chunk total', (stepTimes.get('chunk total') ?? 0) + performance.now() - tc);
    report.read += read;
    report.rejected += rejected;
    report.inserted += counts.inserted;
    report.updated += counts.updated;
    report.unchanged += counts.unchanged;
    report.flagged += counts.flagged;
    for (const i of issues) if (report.issues.length < REPORT_ISSUES) report.issues.push(i);
    opts.onProgress?.(report.read);
    // Fresh statistics as the table grows under the import (the embedded backend has no autovacuum, and a server's
    // comes too late): with the stale ones the planner took the theme index for the duplicate search, 30× slower.
    if (report.inserted >= nextAnalyze) {
      nextAnalyze = report.inserted * 4;
      await bound(em, 'ANALYZE appeal');
    }
  };
  const flush = async () => {
    if (!chunk.length && !pending.length && !pendingRead) return;
    const job = [chunk, pending, pendingRead, pendingRejected] as const;
    chunk = [];
    chunkIds = new Set();
    pending = [];
    pendingRead = 0;
    pendingRejected = 0;
    await writing; // a failed write stops the import here
    writing = write(...job);
    writing.catch(() => undefined); // observed by the next flush or at the end, not an unhandled rejection
  };

  try {
    for await (const item of readSource(input, opts.format, opts.mapping)) {
      pendingRead++;
      if ('unreadable' in item) {
        pendingRejected++;
        pending.push({ line: item.line, field: 'record', severity: 'ERROR', reason: noNul(item.unreadable) });
      } else {
        const { candidate, issues } = normalizeRecord(item, opts.mapping, ctx.refs);
        pending.push(...issues);
        if (!candidate) pendingRejected++;
        else {
          // The same record twice in one file: the later one is an update of the earlier.
          if (chunkIds.has(candidate.externalId)) await flush();
          chunk.push(candidate);
          chunkIds.add(candidate.externalId);
        }
      }
      if (pendingRead >= chunkSize) await flush();
    }
    await flush();
    await writing;
  } catch (e) {
    // The chunk in flight (if any) finishes first: it is committed or rolled back whole, and counted if committed.
    await writing.catch(() => undefined);
    report.status = 'FAILED';
    report.error = failureMessage(e, report);
  }
  if (PROFILE) console.log('[intake] ' + [...stepTimes].map(([k, v]) => `${k} ${Math.round(v)} ms`).join(', '));
  await query(
    em,
    `UPDATE import_batch SET status = ?, finished_at = now(), error = ? WHERE id = ?`,
    [report.status, report.error ?? null, batch.id],
  );
  return report;
}

async function writeChunk(
  em: EntityManager,
  ctx: IntakeContext,
  rows: Candidate[],
  issues: Issue[],
  tally: { read: number; rejected: number },
  batchId: number,
  opts: ImportOptions,
  settings: IntakeSettings,
): Promise<{ inserted: number; updated: number; unchanged: number; flagged: number }> {
  const mid = opts.municipalityId;
  const actor = `import:${batchId}`;
  const warn = (c: Candidate, field: string, reason: string) =>
    issues.push({ line: c.line, field, severity: 'WARNING', reason, externalId: c.externalId });

  stepStart();
  // No JIT for the chunk's statements: each runs once over a few thousand rows, and the planner's estimates of
  // unnest/generate_series (1 000 rows per call) make their costs look large enough for JIT compilation, which
  // took 300 ms per statement — ten times their execution.
  await bound(em, 'SET LOCAL jit = off');
  // 1. Place: geocode addresses of rows without a point against the address register.
  const toGeocode = rows.filter((r) => r.lon === undefined && r.address);
  if (toGeocode.length) {
    const parsed = toGeocode.map((r) => parseAddress(r.address!));
    const found = await bound<{ i: number; lon: number; lat: number }>(
      em,
      `SELECT t.i::int AS i, ST_X(p.point) AS lon, ST_Y(p.point) AS lat
         FROM unnest(?::text[], ?::text[], ?::text[]) WITH ORDINALITY AS t(street_key, street_loose, house, i)
         CROSS JOIN LATERAL (
           SELECT point FROM address_point ap
            WHERE ap.municipality_id = ? AND ap.house = t.house AND (ap.street_key = t.street_key OR ap.street_loose = t.street_loose)
            ORDER BY (ap.street_key = t.street_key) DESC LIMIT 1) p`,
      [parsed.map((p) => p?.streetKey ?? null), parsed.map((p) => (p ? streetKeyLoose(p.streetKey) : null)), parsed.map((p) => p?.house ?? null), mid],
    );
    const byIndex = new Map(found.map((f) => [f.i - 1, f]));
    toGeocode.forEach((r, i) => {
      const f = byIndex.get(i);
      if (f) {
        r.lon = f.lon;
        r.lat = f.lat;
        r.placeStatus = 'GEOCODED';
      } else {
        r.placeStatus = 'UNRESOLVED';
        warn(r, 'address', `адрес «${r.address!.slice(0, 80)}» не найден в адресном реестре — обращение направлено на проверку адреса`);
      }
    });
  }

  step('geocode');
  // 2. District of every point (one statement).
  const located = rows.map((r, i) => ({ r, i })).filter(({ r }) => r.lon !== undefined && r.placeStatus !== 'OUTSIDE');
  const districtOf = new Map<number, number>();
  if (located.length) {
    const d = await bound<{ i: number; district_id: number | null }>(
      em,
      `SELECT t.i::int AS i, (SELECT d.id FROM district d WHERE d.municipality_id = ? AND ST_Intersects(d.geom, ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326)) ORDER BY d.id LIMIT 1) AS district_id
         FROM unnest(?::float8[], ?::float8[], ?::int[]) AS t(lon, lat, i)`,
      [mid, located.map(({ r }) => r.lon), located.map(({ r }) => r.lat), located.map(({ i }) => i)],
    );
    for (const x of d) if (x.district_id != null) districtOf.set(x.i, x.district_id);
  }

  step('district');
  // 3. What exists already (idempotency by channel + external id).
  const existing = await bound<Existing & { external_id: string }>(
    em,
    `SELECT id, external_id, status, theme_id, theme_source, organization_id, answer_text, answered_at, satisfaction, due_at, first_response_at
       FROM appeal WHERE municipality_id = ? AND channel = ? AND external_id = ANY(?::text[])`,
    [mid, opts.channel, rows.map((r) => r.externalId)],
  );
  const existingById = new Map(existing.map((e) => [e.external_id, e]));

  step('existing');
  // 4. Theme (source code, else the classifier), triage, routing — for new rows.
  const inserts: { r: Candidate; districtId: number | null; themeId: number | null; confidence: number; source: string | null; triage: boolean; orgId: number | null }[] = [];
  const updates: { id: number; r: Candidate; changes: [string, string, string | null, string | null][] }[] = [];
  let unchanged = 0;
  rows.forEach((r, i) => {
    const districtId = districtOf.get(i) ?? null;
    const ex = existingById.get(r.externalId);
    if (!ex) {
      let themeId = r.themeId ?? null;
      let confidence = 1;
      let source: string | null = 'SOURCE';
      if (themeId == null) {
        const p = ctx.classifier.predict(r.text);
        themeId = p.themeCode ? (ctx.themeIdByCode.get(p.themeCode) ?? null) : null;
        confidence = p.confidence;
        source = themeId == null ? null : p.source === 'model' ? 'MODEL' : 'KEYWORDS';
      }
      const triage = themeId == null || (source !== 'SOURCE' && confidence < settings.triageThreshold);
      const orgId = r.organizationId ?? (themeId != null ? ctx.route(themeId, districtId) : null);
      inserts.push({ r, districtId, themeId, confidence, source, triage, orgId });
      return;
    }
    const changes: [string, string, string | null, string | null][] = [];
    const cmp = (kind: string, column: string, before: string | number | null, after: string | number | null | undefined) => {
      if (after === undefined) return; // the source says nothing: keep what we have
      const b = before == null ? null : String(before);
      const a = after == null ? null : String(after);
      if (b !== a) changes.push([kind, column, b, a]);
    };
    cmp('STATUS', 'status', ex.status, r.status);
    if (r.themeId !== undefined && ex.theme_source !== 'PERSON') cmp('THEME', 'theme_id', ex.theme_id, r.themeId);
    if (r.organizationId !== undefined) cmp('ORGANIZATION', 'organization_id', ex.organization_id, r.organizationId);
    cmp('ANSWER', 'answer_text', ex.answer_text, r.answerText);
    cmp('ANSWER', 'answered_at', iso(ex.answered_at), iso(r.answeredAt) ?? undefined);
    cmp('SATISFACTION', 'satisfaction', ex.satisfaction, r.satisfaction);
    cmp('DUE', 'due_at', iso(ex.due_at), iso(r.dueAt) ?? undefined);
    cmp('STATUS', 'first_response_at', iso(ex.first_response_at), iso(r.firstResponseAt) ?? undefined);
    if (changes.length) updates.push({ id: ex.id, r, changes });
    else unchanged++;
  });

  const ev = { appeal: [] as number[], at: [] as string[], kind: [] as string[], from: [] as (string | null)[], to: [] as (string | null)[], comment: [] as (string | null)[] };
  const event = (appeal: number, at: Date | string, kind: string, from: string | null, to: string | null, comment: string | null = null) => {
    ev.appeal.push(appeal); ev.at.push(iso(at)!); ev.kind.push(kind); ev.from.push(from); ev.to.push(to); ev.comment.push(comment);
  };

  step('classify+route');
  // 5. Inserts: authors (personal data apart), appeals, creation events.
  const newIds: number[] = [];
  if (inserts.length) {
    const ids = await bound<{ id: number }>(em, `SELECT nextval(pg_get_serial_sequence('appeal', 'id'))::int AS id FROM generate_series(1, ?)`, [inserts.length]);
    ids.forEach((x) => newIds.push(x.id));
    step('insert: ids');
    const withAuthor = inserts.map((x, i) => ({ ...x, i })).filter(({ r }) => r.authorName || r.authorPhone || r.authorEmail || r.authorProfileUrl);
    const authorIds = new Map<number, number>();
    if (withAuthor.length) {
      const a = await bound<{ id: number }>(em, `SELECT nextval(pg_get_serial_sequence('appeal_author', 'id'))::int AS id FROM generate_series(1, ?)`, [withAuthor.length]);
      withAuthor.forEach((w, k) => authorIds.set(w.i, a[k].id));
      await bound(
        em,
        `INSERT INTO appeal_author (id, municipality_id, kind, full_name, phone, email, profile_url)
         SELECT id, ?, kind, full_name, phone, email, profile_url
           FROM unnest(?::int[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[]) AS t(id, kind, full_name, phone, email, profile_url)`,
        [mid, withAuthor.map((w) => authorIds.get(w.i)), withAuthor.map((w) => w.r.authorKind), withAuthor.map((w) => w.r.authorName ?? null),
          withAuthor.map((w) => w.r.authorPhone ?? null), withAuthor.map((w) => w.r.authorEmail ?? null), withAuthor.map((w) => w.r.authorProfileUrl ?? null)],
      );
    }
    step('insert: authors');
    const col = <T>(f: (x: (typeof inserts)[number], i: number) => T) => inserts.map(f);
    await bound(
      em,
      `INSERT INTO appeal (id, municipality_id, channel, external_id, received_at, author_kind, author_id, author_key, text, address, point,
                           district_id, theme_id, theme_confidence, theme_source, triage, organization_id, status, due_at, first_response_at,
                           answered_at, answer_text, satisfaction, place_status, batch_id)
       SELECT t.id, ?, ?, t.external_id, t.received_at, t.author_kind, t.author_id, t.author_key, t.text, t.address,
              CASE WHEN t.lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326) END,
              t.district_id, t.theme_id, t.theme_confidence, t.theme_source, t.triage, t.organization_id, t.status, t.due_at, t.first_response_at,
              t.answered_at, t.answer_text, t.satisfaction, t.place_status, ?
         FROM unnest(?::int[], ?::text[], ?::timestamptz[], ?::text[], ?::int[], ?::text[], ?::text[], ?::text[], ?::float8[], ?::float8[],
                     ?::int[], ?::int[], ?::real[], ?::text[], ?::boolean[], ?::int[], ?::text[], ?::timestamptz[], ?::timestamptz[],
                     ?::timestamptz[], ?::text[], ?::smallint[], ?::text[])
           AS t(id, external_id, received_at, author_kind, author_id, author_key, text, address, lon, lat,
                district_id, theme_id, theme_confidence, theme_source, triage, organization_id, status, due_at, first_response_at,
                answered_at, answer_text, satisfaction, place_status)`,
      [
        mid, opts.channel, batchId,
        newIds, col((x) => x.r.externalId), col((x) => iso(x.r.receivedAt)), col((x) => x.r.authorKind), col((_, i) => authorIds.get(i) ?? null),
        col((x) => x.r.authorKey ?? null), col((x) => x.r.text), col((x) => x.r.address ?? null), col((x) => x.r.lon ?? null), col((x) => x.r.lat ?? null),
        col((x) => x.districtId), col((x) => x.themeId), col((x) => x.confidence), col((x) => x.source), col((x) => x.triage), col((x) => x.orgId),
        col((x) => x.r.status), col((x) => iso(x.r.dueAt)), col((x) => iso(x.r.firstResponseAt)), col((x) => iso(x.r.answeredAt)),
        col((x) => x.r.answerText ?? null), col((x) => x.r.satisfaction ?? null), col((x) => x.r.placeStatus),
      ],
    );
    inserts.forEach((x, i) => {
      event(newIds[i], x.r.receivedAt, 'CREATED', null, x.r.status, `${opts.sourceName.slice(0, 100)}, строка ${x.r.line}`);
      if (x.themeId != null && x.source !== 'SOURCE') event(newIds[i], new Date(), 'THEME', null, String(x.themeId), `${x.source === 'MODEL' ? 'классификатор' : 'ключевые слова'}, уверенность ${x.confidence.toFixed(2)}`);
      if (x.orgId != null && x.r.organizationId === undefined) event(newIds[i], new Date(), 'ORGANIZATION', null, String(x.orgId), 'маршрутизация по правилам');
      if (x.r.answerText) event(newIds[i], x.r.answeredAt ?? x.r.receivedAt, 'ANSWER', null, 'ANSWERED');
    });
  }

  step('insert');
  // 6. Updates of known appeals, each change an event.
  if (updates.length) {
    const u = updates;
    await bound(
      em,
      `UPDATE appeal a SET status = t.status, theme_id = coalesce(t.theme_id, a.theme_id),
              theme_source = CASE WHEN t.theme_id IS NOT NULL AND t.theme_id IS DISTINCT FROM a.theme_id THEN 'SOURCE' ELSE a.theme_source END,
              organization_id = coalesce(t.organization_id, a.organization_id), answer_text = coalesce(t.answer_text, a.answer_text),
              answered_at = coalesce(t.answered_at, a.answered_at), satisfaction = coalesce(t.satisfaction, a.satisfaction),
              due_at = coalesce(t.due_at, a.due_at), first_response_at = coalesce(t.first_response_at, a.first_response_at),
              updated_at = now(), batch_id = ?
         FROM unnest(?::int[], ?::text[], ?::int[], ?::int[], ?::text[], ?::timestamptz[], ?::smallint[], ?::timestamptz[], ?::timestamptz[])
           AS t(id, status, theme_id, organization_id, answer_text, answered_at, satisfaction, due_at, first_response_at)
        WHERE a.id = t.id`,
      [
        batchId, u.map((x) => x.id), u.map((x) => x.r.status), u.map((x) => (x.changes.some((c) => c[1] === 'theme_id') ? x.r.themeId ?? null : null)),
        u.map((x) => x.r.organizationId ?? null), u.map((x) => x.r.answerText ?? null), u.map((x) => iso(x.r.answeredAt)),
        u.map((x) => x.r.satisfaction ?? null), u.map((x) => iso(x.r.dueAt)), u.map((x) => iso(x.r.firstResponseAt)),
      ],
    );
    const now = new Date();
    for (const x of updates) for (const [kind, column, from, to] of x.changes) event(x.id, now, kind, from, to, `повторный импорт (${column})`);
  }

  step('update');
  // 7. Duplicates (same theme, near in space and time, similar text) and repeats (same author and theme).
  // The new rows' keys come from the chunk itself (no re-read of what was just inserted); earlier rows of the
  // same chunk are already inserted, so they count as candidates exactly like rows of earlier chunks.
  if (newIds.length) {
    const located = inserts.map((x, i) => ({ x, id: newIds[i] })).filter(({ x }) => x.r.lon !== undefined && x.themeId != null);
    // The search square of each new appeal (its half-side in degrees of longitude covers the radius, a fortiori
    // in latitude) names the grid cells it touches (appeal_dedup_cell of migration …103: the same floor(x / 0.005),
    // floor(y / 0.003) in IEEE doubles); one index range per cell. The cells are computed here and bound as an array
    // per row, so the planner sees a short list (a generate_series in SQL is estimated at 10⁶ cells, and PostgreSQL 18
    // then prefers scanning the theme's whole period).
    const cellsOf = (lon: number, lat: number): string | null => {
      const d = settings.duplicateRadiusM / (111000 * Math.cos((lat * Math.PI) / 180));
      // Near a pole or with a huge radius the square covers too many cells: such rows use the point index instead.
      if (!(((Math.floor((lon + d) / 0.005) - Math.floor((lon - d) / 0.005) + 1) * (Math.floor((lat + d) / 0.003) - Math.floor((lat - d) / 0.003) + 1)) <= 64)) return null;
      const out: number[] = [];
      for (let gx = Math.floor((lon - d) / 0.005); gx <= Math.floor((lon + d) / 0.005); gx++)
        for (let gy = Math.floor((lat - d) / 0.003); gy <= Math.floor((lat + d) / 0.003); gy++) out.push((gx + 1048576) * 2097152 + (gy + 1048576));
      return `{${out.join(',')}}`;
    };
    const search = (rows: typeof located, gridded: boolean) => !rows.length ? Promise.resolve([]) : bound<{ id: number; other: number; other_text: string }>(
      em,
      `SELECT t.id, c.id AS other, c.text AS other_text
         FROM unnest(?::int[], ?::float8[], ?::float8[], ?::timestamptz[], ?::int[], ?::text[]) AS t(id, lon, lat, at, theme, cells)
         CROSS JOIN LATERAL (SELECT ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326) AS p, t.cells::bigint[] AS cells) g
         CROSS JOIN LATERAL (
           -- OFFSET 0 keeps the planner on appeal_dedup_idx: with the ORDER BY … LIMIT in the same query level it may
           -- walk appeal_received_at_idx backwards instead, reading every appeal of the period.
           SELECT x.id, x.text FROM (
             SELECT c.id, c.text, c.received_at FROM appeal c
              WHERE c.point IS NOT NULL AND c.theme_id IS NOT NULL AND c.duplicate_of_id IS NULL  -- the index's predicate
                AND c.municipality_id = ? AND c.theme_id = t.theme
                AND ${gridded ? 'appeal_dedup_cell(c.point) = ANY(g.cells)' : 'c.point && ST_Expand(g.p, ?::float8 / (111000 * cos(radians(t.lat))))'}
                AND c.received_at > t.at - make_interval(days => ?) AND c.received_at <= t.at
                AND (c.received_at, c.id) < (t.at, t.id) AND c.id <> t.id
                AND ST_DWithin(c.point::geography, g.p::geography, ?)
             OFFSET 0) x
            ORDER BY x.received_at DESC, x.id DESC LIMIT 5) c`,
      [rows.map((l) => l.id), rows.map((l) => l.x.r.lon), rows.map((l) => l.x.r.lat), rows.map((l) => iso(l.x.r.receivedAt)),
        rows.map((l) => l.x.themeId), rows.map((l) => (gridded ? cellsOf(l.x.r.lon!, l.x.r.lat!) : null)), mid, ...(gridded ? [] : [settings.duplicateRadiusM]), settings.duplicateDays, settings.duplicateRadiusM],
    );
    const wide = located.filter((l) => cellsOf(l.x.r.lon!, l.x.r.lat!) === null);
    const cands = [...await search(located.filter((l) => !wide.includes(l)), true), ...await search(wide, false)];
    const dup = new Map<number, number>();
    const textOf = new Map(inserts.map((x, i) => [newIds[i], x.r.text]));
    const stemsOf = new Map<number, Set<string>>();
    for (const c of cands) {
      if (dup.has(c.id)) continue;
      let mine = stemsOf.get(c.id);
      if (!mine) stemsOf.set(c.id, (mine = new Set(stems(textOf.get(c.id)!))));
      if (jaccard(mine, new Set(stems(c.other_text))) >= settings.duplicateSimilarity) dup.set(c.id, c.other);
    }
    step('duplicates');
    const authored = inserts.map((x, i) => ({ x, id: newIds[i] })).filter(({ x }) => x.r.authorKey != null && x.themeId != null);
    const repeats = authored.length ? await bound<{ id: number; other: number | null }>(
      em,
      `SELECT t.id, (SELECT c.id FROM appeal c
                      WHERE c.municipality_id = ? AND c.author_key = t.author_key AND c.theme_id = t.theme AND c.id <> t.id
                        AND (c.received_at, c.id) < (t.at, t.id) AND c.received_at > t.at - make_interval(days => ?)
                      ORDER BY c.received_at DESC, c.id DESC LIMIT 1) AS other
         FROM unnest(?::int[], ?::text[], ?::int[], ?::timestamptz[]) AS t(id, author_key, theme, at)`,
      [mid, settings.repeatDays, authored.map((a) => a.id), authored.map((a) => a.x.r.authorKey), authored.map((a) => a.x.themeId), authored.map((a) => iso(a.x.r.receivedAt))],
    ) : [];
    const rep = repeats.filter((r) => r.other != null);
    if (dup.size || rep.length) {
      await bound(
        em,
        `UPDATE appeal a SET duplicate_of_id = coalesce(t.dup, a.duplicate_of_id), repeat_of_id = coalesce(t.rep, a.repeat_of_id)
           FROM (SELECT id, max(dup) AS dup, max(rep) AS rep FROM unnest(?::int[], ?::int[], ?::int[]) AS u(id, dup, rep) GROUP BY id) t
          WHERE a.id = t.id`,
        [[...dup.keys(), ...rep.map((r) => r.id)], [...dup.values(), ...rep.map(() => null)], [...[...dup.keys()].map((): number | null => null), ...rep.map((r) => r.other)]],
      );
      const now = new Date();
      for (const [id, other] of dup) event(id, now, 'DUPLICATE', null, String(other), 'похожее обращение рядом по той же теме');
      for (const r of rep) event(r.id, now, 'REPEAT', null, String(r.other), 'повторное обращение того же автора по той же теме');
    }
  }

  step('dedup+repeat');
  if (ev.appeal.length) {
    await bound(
      em,
      `INSERT INTO appeal_event (municipality_id, appeal_id, at, actor, kind, from_value, to_value, comment)
       SELECT ?, t.appeal_id, t.at, ?, t.kind, t.from_value, t.to_value, t.comment
         FROM unnest(?::int[], ?::timestamptz[], ?::text[], ?::text[], ?::text[], ?::text[]) AS t(appeal_id, at, kind, from_value, to_value, comment)`,
      [mid, actor, ev.appeal, ev.at, ev.kind, ev.from, ev.to, ev.comment],
    );
  }

  step('events');
  const flaggedLines = new Set(issues.filter((i) => i.severity === 'WARNING').map((i) => i.line));
  const errorLines = new Set(issues.filter((i) => i.severity === 'ERROR').map((i) => i.line));
  const flagged = [...flaggedLines].filter((l) => !errorLines.has(l)).length;
  if (issues.length) {
    await bound(
      em,
      `INSERT INTO import_issue (municipality_id, batch_id, line, field, severity, reason, external_id)
       SELECT ?, ?, * FROM unnest(?::int[], ?::text[], ?::text[], ?::text[], ?::text[])`,
      [mid, batchId, issues.map((i) => i.line), issues.map((i) => i.field), issues.map((i) => i.severity), issues.map((i) => i.reason), issues.map((i) => i.externalId ?? null)],
    );
  }
  await bound(
    em,
    `UPDATE import_batch SET rows_read = rows_read + ?, inserted = inserted + ?, updated = updated + ?, unchanged = unchanged + ?,
            rejected = rejected + ?, flagged = flagged + ? WHERE id = ?`,
    [tally.read, inserts.length, updates.length, unchanged, tally.rejected, flagged, batchId],
  );
  step('issues+batch');
  return { inserted: inserts.length, updated: updates.length, unchanged, flagged };
}
