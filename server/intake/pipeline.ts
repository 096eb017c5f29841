import type { Readable } from 'node:stream';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { holdJob, nextId, sweepDeadJobs } from '../db/jobs.js';
import { InputError } from '../errors.js';
import { intVar } from '../config.js';
import { DriverException } from '@mikro-orm/core';
import type { Channel } from '../reference/entities.js';
import type { Mapping, SourceFormat } from './mapping.js';
import { readSource } from './sources.js';
import { fieldPath, issueCause, normalizeRecord, type Candidate, type Issue } from './normalize.js';
import { districtInAddress } from './address.js';
import { loadIntakeContext, type IntakeContext } from './context.js';
import { GeocodeCache, geocodeAddresses } from './geocode.js';
import { bound } from './bound.js';
import { findRelations, StemCache, type PendingAppeal, type Relation } from './relations.js';
import { loadDeadlineContext, type DeadlineContext } from '../deadlines/store.js';
import { judgeAppeals, prepareNewAnswers, writeJudgements, type PreparedAnswers } from '../quality/service.js';

export interface IntakeSettings {
  /**
   * Below this classifier confidence an appeal waits in the triage queue. The confidence is calibrated (see
   * docs/classifier.md): of the appeals accepted at ≥ 0.8, about 96 % are right on the hand-written evaluation set.
   */
  triageThreshold: number;
  /** Duplicates: same theme, within this distance and time, with similar text. */
  duplicateRadiusM: number;
  duplicateDays: number;
  duplicateSimilarity: number;
  /** Repeats: same author, same theme, within this many days. */
  repeatDays: number;
}

export const DEFAULT_SETTINGS: IntakeSettings = {
  triageThreshold: Number(process.env.INTAKE_TRIAGE_THRESHOLD ?? 0.8),
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
/**
 * IMPORT_MAX_STORED_ISSUES: issue rows stored per batch (the first ones, in file order); every issue beyond them
 * is still counted by reason in import_batch.issue_counts (300 000 bad rows must not become 300 000 rows).
 */
const maxStoredIssues = () => intVar(process.env, 'IMPORT_MAX_STORED_ISSUES', 1000, 0, 10_000_000);
/** The reason an issue is counted under: severity, field and the reason up to its first colon (no values). */
export const issueCountKey = (i: Issue) => `${i.severity} ${i.field}: ${issueCause(i).split(/[:«]/)[0].trim().slice(0, 120)}`;

/** The key of a record: its channel (a channel column, else the file's) and its external id. */
const recordKey = (c: Candidate, channel: string) => `${c.channel ?? channel}\u0001${c.externalId}`;

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

interface Existing {
  received_at: string;
  id: number; status: string; theme_id: number | null; theme_source: string | null; organization_id: number | null;
  answer_text: string | null; answered_at: string | null; satisfaction: number | null; due_at: string | null; first_response_at: string | null;
}

/** MCU_PROFILE=1: time per pipeline step, summed over the chunks and printed at the end of the import. */
const PROFILE = !!process.env.MCU_PROFILE;
const stepTimes = new Map<string, number>();
/** A step timer for one stage of one chunk (the stages of different chunks run at the same time). */
function stepper(): (name: string) => void {
  if (!PROFILE) return () => undefined;
  let mark = performance.now();
  return (name) => { const now = performance.now(); stepTimes.set(name, (stepTimes.get(name) ?? 0) + now - mark); mark = now; };
}

/** The id sequences of appeal and appeal_author, looked up once (per row, pg_get_serial_sequence reads the catalog each time). */
let sequenceNames: { appeal: string; author: string } | undefined;
async function sequences(em: EntityManager) {
  if (!sequenceNames) {
    const [s] = await bound<{ appeal: string; author: string }>(em,
      `SELECT pg_get_serial_sequence('appeal', 'id') AS appeal, pg_get_serial_sequence('appeal_author', 'id') AS author`);
    const literal = (name: string) => name.replace(/'/g, "''");
    sequenceNames = { appeal: literal(s.appeal), author: literal(s.author) };
  }
  return sequenceNames;
}

const yieldToIo = () => new Promise<void>((resolve) => setImmediate(resolve));

const iso = (d?: Date | string | null) => (d == null ? null : new Date(d).toISOString());

/**
 * Imports appeals from a stream: parse → validate → geocode → district → classify →
 * route → upsert by (channel, external id) with events → link duplicates and repeats.
 * Each chunk is one transaction together with its report counters, so a crash or kill
 * leaves no half-written chunk and a re-run completes with exact counts.
 */
export async function importAppeals(em: EntityManager, input: Readable, opts: ImportOptions): Promise<ImportReport> {
  const t0 = performance.now();
  const ctx = await loadIntakeContext(em, opts.municipalityId);
  // Deadlines (server/deadlines): rules, working time and urgency keywords, computed per row in JS before the insert.
  const deadlines = await loadDeadlineContext(em, opts.municipalityId);
  // The repeat window: the municipality's setting unless INTAKE_REPEAT_DAYS or the caller says otherwise.
  const stored = process.env.INTAKE_REPEAT_DAYS ? {} : { repeatDays: deadlines.settings.repeatWindowDays };
  const settings = { ...DEFAULT_SETTINGS, ...stored, ...opts.settings };
  if (PROFILE) console.log(`[intake] context (classifier training) ${Math.round(performance.now() - t0)} ms`);
  // The batch is alive while this process holds it (server/db/jobs.ts): held before its row shows RUNNING, so a
  // sweep (at start-up, or in the cluster's primary when a worker dies) marks it INTERRUPTED only once its process is gone.
  const batch = { id: await nextId(em, 'import_batch') };
  const hold = (await holdJob(em, 'importBatch', batch.id))!;
  try {
    await query(
      em,
      `INSERT INTO import_batch (id, municipality_id, channel, source_name, format, mapping, actor) VALUES (?, ?, ?, ?, ?, ?::jsonb, ?)`,
      [batch.id, opts.municipalityId, opts.channel, noNul(opts.sourceName).slice(0, 300), opts.format, JSON.stringify(opts.mapping), opts.actor],
    );
    return await runBatch(em, input, opts, ctx, deadlines, settings, batch, t0);
  } finally {
    await hold.release();
  }
}

/** The import of a held, stored batch (importAppeals). */
async function runBatch(em: EntityManager, input: Readable, opts: ImportOptions, ctx: IntakeContext,
  deadlines: DeadlineContext, settings: IntakeSettings, batch: { id: number }, t0: number): Promise<ImportReport> {
  const report: ImportReport = { batchId: batch.id, status: 'DONE', read: 0, inserted: 0, updated: 0, unchanged: 0, rejected: 0, flagged: 0, issues: [] };
  const chunkSize = opts.chunkSize ?? Number(process.env.INTAKE_CHUNK_SIZE ?? 1000);
  let chunk: Candidate[] = [];
  let chunkIds = new Set<string>();
  let pending: Issue[] = [];
  let pendingRead = 0;
  let pendingRejected = 0;
  const maxStored = maxStoredIssues();
  let storedIssues = 0;
  let issueCounts = new Map<string, number>();

  // Three stages overlap. While chunk k is written (its own transaction), chunk k+1 is prepared on another
  // connection (geocoding, lookups, classification, the duplicate and repeat search, its ids) and chunk k+2 is
  // parsed and validated. The preparation of k+1 sees k's new appeals as candidates even before k commits (they
  // are handed over in memory), so the links are the same as one chunk after the other. Chunks commit in file
  // order, the report counts only committed chunks, and a failed write stops the import before the next one.
  // On the embedded backend (one connection) the preparation and the write take turns.
  const geocoded = new GeocodeCache();
  const stemCache = new StemCache();
  let nextAnalyze = 2000;
  let prepared: Promise<ChunkPlan | undefined> = Promise.resolve(undefined);
  let written: Promise<void> = Promise.resolve();
  let writtenBefore: Promise<void> = Promise.resolve(); // the write of the chunk before the one in `prepared`
  const prepare = async (job: ChunkJob, previous: Promise<ChunkPlan | undefined>, previousWritten: Promise<void>) => {
    const prev = await previous;
    // Wait for the previous chunk's commit when this one depends on more than its new appeals: a record of it again
    // here (it must be stored before this chunk looks it up), or a theme it changes (a duplicate candidate's theme).
    if (prev && (job.rows.some((r) => prev.externalIds.has(recordKey(r, opts.channel))) || prev.updates.some((u) => u.changes.some((c) => c[1] === 'theme_id')))) {
      await previousWritten;
    }
    const tc = performance.now();
    // The previous chunk's new appeals are searched in memory only while its write has not committed: once it has,
    // the search's statements see them stored (on the embedded backend, with one connection, that is the rule).
    const pendingAppeals = () => (prev && !prev.committed ? prev.pending : []);
    const plan = await em.transactional((tem) => prepareChunk(tem, ctx, job, opts, settings, geocoded, stemCache, pendingAppeals, deadlines));
    if (PROFILE) stepTimes.set('prepare total', (stepTimes.get('prepare total') ?? 0) + performance.now() - tc);
    return plan;
  };
  const write = async (planned: Promise<ChunkPlan | undefined>, previousWritten: Promise<void>) => {
    const plan = (await planned)!;
    await previousWritten;
    const tc = performance.now();
    // Only the first issues of the batch are stored; all are counted by reason (stored with the same commit).
    const room = Math.max(0, maxStored - storedIssues);
    const toStore = plan.issues.length > room ? plan.issues.slice(0, room) : plan.issues;
    const counts1 = new Map(issueCounts);
    for (const i of plan.issues) counts1.set(issueCountKey(i), (counts1.get(issueCountKey(i)) ?? 0) + 1);
    const counts = await em.transactional(async (tem) => {
      const c = await writeChunk(tem, ctx, { ...plan, issues: toStore, allIssues: plan.issues }, batch.id, opts);
      await bound(tem, `UPDATE import_batch SET issue_counts = ?::jsonb, issues_total = issues_total + ? WHERE id = ?`,
        [JSON.stringify(Object.fromEntries(counts1)), plan.issues.length, batch.id]);
      return c;
    });
    storedIssues += toStore.length;
    issueCounts = counts1;
    plan.committed = true;
    if (PROFILE) stepTimes.set('write total', (stepTimes.get('write total') ?? 0) + performance.now() - tc);
    report.read += plan.tally.read;
    report.rejected += plan.tally.rejected;
    report.inserted += counts.inserted;
    report.updated += counts.updated;
    report.unchanged += counts.unchanged;
    report.flagged += counts.flagged;
    for (const i of plan.issues) if (report.issues.length < REPORT_ISSUES) report.issues.push(i);
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
    const job: ChunkJob = { rows: chunk, issues: pending, tally: { read: pendingRead, rejected: pendingRejected } };
    chunk = [];
    chunkIds = new Set();
    pending = [];
    pendingRead = 0;
    pendingRejected = 0;
    // At most one chunk in preparation and one being written: wait for the previous preparation and the write
    // before it (a failed write or preparation stops the import here).
    await prepared;
    await writtenBefore;
    writtenBefore = written;
    prepared = prepare(job, prepared, written);
    written = write(prepared, written);
    prepared.catch(() => undefined); // observed by the next flush or at the end, not an unhandled rejection
    written.catch(() => undefined);
  };

  try {
    for await (const item of readSource(input, opts.format, opts.mapping)) {
      pendingRead++;
      // Parsed records arrive as microtasks, which run before any I/O callback: without a pause, reading the next
      // chunk would hold back the database's replies to the chunk being written until the parser's buffer runs dry.
      if ((pendingRead & 15) === 0) await yieldToIo();
      if ('unreadable' in item) {
        pendingRejected++;
        pending.push({ line: item.line, field: 'record', severity: 'ERROR', reason: noNul(item.unreadable) });
      } else {
        const { candidate, issues } = normalizeRecord(item, opts.mapping, ctx.refs);
        pending.push(...issues);
        if (!candidate) pendingRejected++;
        else {
          // The same record twice in one file: the later one is an update of the earlier.
          const key = recordKey(candidate, opts.channel);
          if (chunkIds.has(key)) await flush();
          chunk.push(candidate);
          chunkIds.add(key);
        }
      }
      if (pendingRead >= chunkSize) await flush();
    }
    await flush();
    await prepared;
    await written;
  } catch (e) {
    // The chunks in flight finish first: each is committed or rolled back whole, and counted if committed.
    await written.catch(() => undefined);
    report.status = 'FAILED';
    report.error = failureMessage(e, report);
  }
  if (report.status === 'DONE' && report.inserted + report.updated + report.unchanged === 0) {
    report.error = nothingStored(report);
  }
  if (PROFILE) console.log('[intake] ' + [...stepTimes].map(([k, v]) => `${k} ${Math.round(v)} ms`).join(', '));
  await query(
    em,
    `UPDATE import_batch SET status = ?, finished_at = now(), error = ? WHERE id = ?`,
    [report.status, report.error ?? null, batch.id],
  );
  return report;
}

/**
 * The batch stored nothing: why, in one line (the most frequent reasons of the rejected rows, by field). The batch
 * keeps status DONE (the file was read to the end) with this text as its error, and the import command exits 1.
 */
export function nothingStored(report: ImportReport): string {
  if (report.read === 0) return 'ничего не сохранено: в файле нет ни одной записи';
  const byReason = new Map<string, number>();
  for (const i of report.issues) {
    if (i.severity !== 'ERROR') continue;
    const k = `${i.at ?? i.field}: ${issueCause(i).replace(/«[^»]*»/g, '«…»').slice(0, 120)}`;
    byReason.set(k, (byReason.get(k) ?? 0) + 1);
  }
  const top = [...byReason.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k, n]) => `${k} (${n})`);
  return `ничего не сохранено: отклонено ${report.rejected} из ${report.read}` + (top.length ? `; чаще всего — ${top.join('; ')}` : '');
}

/**
 * Import batches left RUNNING by a crash or kill (their process is gone: server/db/jobs.ts) → INTERRUPTED, with what
 * their committed chunks stored (the counters are committed with each chunk). Safe while other processes import: run
 * at start-up and, in cluster mode, by the primary when a worker dies.
 */
export async function markInterruptedBatches(em: EntityManager): Promise<number> {
  const ids = await sweepDeadJobs(em, 'importBatch', 'import_batch', async (tem, dead) => (await query<{ id: number }>(
    tem,
    `UPDATE import_batch SET status = 'INTERRUPTED', finished_at = now(),
            error = format('Импорт прерван: процесс сервера остановлен или упал; сохранено строк — %s новых, %s обновлено, %s без изменений из %s прочитанных; повторный импорт того же файла завершит загрузку',
                           inserted, updated, unchanged, rows_read)
      WHERE id = ANY(?::int[]) AND status = 'RUNNING' RETURNING id`,
    [dead],
  )).map((r) => r.id));
  return ids.length;
}

/** A chunk as the reader hands it over: its valid records, its issues so far and its counts. */
interface ChunkJob {
  rows: Candidate[];
  issues: Issue[];
  tally: { read: number; rejected: number };
}

/** A new appeal, ready to insert: its id, theme decision and links are known. */
interface PlannedInsert {
  r: Candidate;
  id: number;
  themeId: number | null;
  confidence: number;
  source: string | null;
  triage: boolean;
  /** Other themes the classifier sees in the text (the appeal keeps one responsible theme). */
  secondary: number[] | null;
  duplicateOf: number | null;
  repeatOf: number | null;
  /** Why the repeat: AUTHOR or PLACE (server/intake/relations.ts). */
  repeatBy: string | null;
  /** Deadlines (server/deadlines): urgency (and the keyword that made it), rule version, due times, working minutes. */
  urgent: boolean;
  urgentBy: string | null;
  ruleId: number | null;
  firstDue: string | null;
  answerDue: string | null;
  atRisk: string | null;
  firstMinutes: number | null;
  answerMinutes: number | null;
}

/** What a chunk's write does, decided by its preparation. */
interface ChunkPlan extends ChunkJob {
  inserts: PlannedInsert[];
  updates: { id: number; r: Candidate; changes: [string, string, string | null, string | null][]; firstMinutes: number | null; answerMinutes: number | null }[];
  unchanged: number;
  externalIds: Set<string>;
  /** Its new appeals as candidates of the next chunk's duplicate and repeat search, until it is committed. */
  pending: PendingAppeal[];
  /** Its new appeals' answers, prepared for their verdicts (server/quality). */
  answers: PreparedAnswers;
  committed: boolean;
  /** All issues of the chunk when `issues` holds only those to store (the per-batch cap). */
  allIssues?: Issue[];
}

/** An external id as stored with an issue: at most 200 characters (a rejected row's id may be any length). */
const clip = (id?: string) => (id == null ? null : id.length > 200 ? `${id.slice(0, 199)}…` : id);

/**
 * Prepares a chunk (a read transaction on its own connection, alongside the previous chunk's write): geocoding,
 * what exists already, themes, duplicates and repeats (the previous chunk's new appeals, `pending`, count as
 * stored ones whether or not they are committed yet), and the ids of its new appeals.
 */
async function prepareChunk(
  em: EntityManager,
  ctx: IntakeContext,
  job: ChunkJob,
  opts: ImportOptions,
  settings: IntakeSettings,
  geocoded: GeocodeCache,
  stemCache: StemCache,
  pendingAppeals: () => PendingAppeal[],
  deadlines: DeadlineContext,
): Promise<ChunkPlan> {
  const mid = opts.municipalityId;
  const { rows, issues } = job;
  const warn = (c: Candidate, field: 'address', reason: string) => {
    const at = fieldPath(opts.mapping, field);
    issues.push({ line: c.line, field, severity: 'WARNING', reason: `${at}: ${reason}`, at, externalId: c.externalId });
  };

  const step = stepper();
  // No JIT for the chunk's statements: each runs once over a few thousand rows, and the planner's estimates of
  // unnest/generate_series (1 000 rows per call) make their costs look large enough for JIT compilation, which
  // took 300 ms per statement — ten times their execution.
  await bound(em, 'SET LOCAL jit = off');
  // 1. Place: geocode addresses of rows without a point against the address register. The same address recurs
  // throughout a file: each distinct (street, house) is looked up once per import.
  step('begin');
  const toGeocode = rows.filter((r) => r.lon === undefined && r.address);
  if (toGeocode.length) {
    const hits = await geocodeAddresses(em, mid, geocoded, toGeocode.map((r) => r.address!));
    toGeocode.forEach((r, i) => {
      const f = hits[i];
      if (f) {
        r.lon = f.lon;
        r.lat = f.lat;
        r.placeStatus = 'GEOCODED';
        r.placePrecision = f.precision;
        if (f.precision === 'STREET') warn(r, 'address', `дом в адресе «${r.address!.slice(0, 80)}» не указан или не найден — место определено по улице`);
      } else {
        // An address that names only a district («в Западном микрорайоне»): the district, without a point.
        const district = districtInAddress(r.address!, ctx.refs.districts ?? []);
        if (district != null) {
          r.placeStatus = 'GEOCODED';
          r.placePrecision = 'DISTRICT';
          r.districtId = district;
          warn(r, 'address', `адрес «${r.address!.slice(0, 80)}» называет только район — место определено с точностью до района`);
        } else {
          r.placeStatus = 'UNRESOLVED';
          warn(r, 'address', `адрес «${r.address!.slice(0, 80)}» не найден в адресном реестре — обращение направлено на проверку адреса`);
        }
      }
    });
  }

  step('geocode');
  // 3. What exists already (idempotency by channel + external id): one statement per channel of the chunk (the file's,
  // or a few from a channel column).
  const byChannel = new Map<string, string[]>();
  for (const r of rows) {
    const ch = r.channel ?? opts.channel;
    let ids = byChannel.get(ch);
    if (!ids) byChannel.set(ch, (ids = []));
    ids.push(r.externalId);
  }
  const existingById = new Map<string, Existing>();
  for (const [ch, ids] of byChannel) {
    const existing = await bound<Existing & { external_id: string }>(
      em,
      `SELECT id, external_id, status, theme_id, theme_source, organization_id, answer_text, answered_at, satisfaction, due_at, first_response_at, received_at
         FROM appeal WHERE municipality_id = ? AND channel = ? AND external_id = ANY(?::text[])`,
      [mid, ch, ids],
    );
    for (const e of existing) existingById.set(`${ch}\u0001${e.external_id}`, e);
  }

  step('existing');
  // 4. Theme (source code, else the classifier), triage, routing — for new rows.
  const inserts: Omit<PlannedInsert, 'id' | 'duplicateOf' | 'repeatOf' | 'repeatBy'>[] = [];
  const iso2 = (t: number | null | undefined) => (t == null ? null : new Date(t).toISOString());
  const updates: ChunkPlan['updates'] = [];
  let unchanged = 0;
  rows.forEach((r) => {
    const ex = existingById.get(recordKey(r, opts.channel));
    if (!ex) {
      let themeId = r.themeId ?? null;
      let confidence = 1;
      let source: string | null = 'SOURCE';
      let secondary: number[] | null = null;
      if (themeId == null) {
        const p = ctx.classifier.predict(r.text);
        themeId = p.themeCode ? (ctx.themeIdByCode.get(p.themeCode) ?? null) : null;
        confidence = p.confidence;
        source = themeId == null ? null : p.source === 'model' ? 'MODEL' : 'KEYWORDS';
        const ids = p.secondary.map((s) => ctx.themeIdByCode.get(s.themeCode)).filter((x): x is number => x != null);
        if (ids.length) secondary = ids;
      }
      const triage = themeId == null || (source !== 'SOURCE' && confidence < settings.triageThreshold);
      // Deadlines: urgency by keywords, the rule version in force at registration, due times, working minutes so far.
      const received = r.receivedAt.getTime();
      const urgentBy = deadlines.urgentBy(r.text);
      const { rule, due } = deadlines.plan((r.channel ?? opts.channel) as Channel, themeId, urgentBy != null, received);
      inserts.push({
        r, themeId, confidence, source, triage, secondary, urgent: urgentBy != null, urgentBy, ruleId: rule?.id ?? null,
        firstDue: iso2(due?.firstReactionDueAt), answerDue: iso2(due?.answerDueAt), atRisk: iso2(due?.answerAtRiskAt),
        firstMinutes: deadlines.minutes(received, (r.firstResponseAt ?? r.answeredAt)?.getTime()),
        answerMinutes: deadlines.minutes(received, r.answeredAt?.getTime()),
      });
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
    if (changes.length) {
      const received = new Date(ex.received_at).getTime();
      updates.push({ id: ex.id, r, changes,
        firstMinutes: deadlines.minutes(received, (r.firstResponseAt ?? (ex.first_response_at ? new Date(ex.first_response_at) : r.answeredAt))?.getTime()),
        answerMinutes: deadlines.minutes(received, r.answeredAt?.getTime()) });
    }
    else unchanged++;
  });

  step('classify');
  // 5. Duplicates (same theme, near in space and time, similar text) and repeats (same author and theme), before the
  // insert so that it writes the links.
  const rel = inserts.length
    ? await findRelations(em, mid, inserts.map((x) => ({ lon: x.r.lon, lat: x.r.lat, at: x.r.receivedAt, themeId: x.themeId, authorKey: x.r.authorKey, text: x.r.text,
      answeredAt: x.r.answeredAt ?? null })), settings, stemCache, pendingAppeals())
    : { duplicateOf: [], repeatOf: [], repeatBy: [] };
  step('duplicates+repeats');
  // 6. The new appeals' ids, in chunk order: links within the chunk and from the next one refer to them.
  let ids: number[] = [];
  if (inserts.length) {
    const seq = await sequences(em);
    ids = (await bound<{ id: number }>(em, `SELECT nextval('${seq.appeal}'::regclass)::int AS id FROM generate_series(1, $1::int)`, [inserts.length]))
      .map((x) => x.id).sort((x, y) => x - y);
  }
  const linked = (x: Relation | undefined) => (x == null ? null : 'id' in x ? x.id : ids[x.index]);
  const planned: PlannedInsert[] = inserts.map((x, i) => ({ ...x, id: ids[i], duplicateOf: linked(rel.duplicateOf[i]), repeatOf: linked(rel.repeatOf[i]), repeatBy: rel.repeatBy[i] ?? null }));
  step('ids');
  const answers = await prepareNewAnswers(em, mid, planned.filter((x) => x.r.answerText).map((x) => ({
    id: x.id, text: x.r.text, address: x.r.address ?? null, themeId: x.themeId, answerText: x.r.answerText!, duplicate: x.duplicateOf != null,
  })));
  step('quality');
  return {
    ...job, inserts: planned, updates, unchanged, committed: false, answers,
    externalIds: new Set(rows.map((r) => recordKey(r, opts.channel))),
    pending: planned.map((x) => ({ id: x.id, lon: x.r.lon, lat: x.r.lat, at: x.r.receivedAt, themeId: x.themeId, authorKey: x.r.authorKey, text: x.r.text,
      answeredAt: x.r.answeredAt ?? null, duplicate: x.duplicateOf != null })),
  };
}

/**
 * Writes a prepared chunk in one transaction: one statement places each new appeal in its district, routes it
 * (appeal_route: theme × district rule, else the theme's rule for any district, else the theme's organisation), and
 * writes its author (personal data apart), the appeal and its creation event. The creation event carries the
 * import's decisions (source line, classifier and its confidence, routing, an answer the source already had): one
 * row of history per imported appeal. Then the updates of known appeals (each change an event), the issues and the
 * batch's counters.
 */
async function writeChunk(
  em: EntityManager,
  ctx: IntakeContext,
  plan: ChunkPlan,
  batchId: number,
  opts: ImportOptions,
): Promise<{ inserted: number; updated: number; unchanged: number; flagged: number }> {
  const mid = opts.municipalityId;
  const actor = `import:${batchId}`;
  const { inserts, updates, unchanged, issues } = plan;
  const allIssues = plan.allIssues ?? issues;
  const step = stepper();
  await bound(em, 'SET LOCAL jit = off');
  const ev = { appeal: [] as number[], at: [] as string[], kind: [] as string[], from: [] as (string | null)[], to: [] as (string | null)[], comment: [] as (string | null)[] };
  const event = (appeal: number, at: Date | string, kind: string, from: string | null, to: string | null, comment: string | null = null) => {
    ev.appeal.push(appeal); ev.at.push(iso(at)!); ev.kind.push(kind); ev.from.push(from); ev.to.push(to); ev.comment.push(comment);
  };
  step('write begin');
  if (inserts.length) {
    const seq = await sequences(em);
    const col = <T>(f: (x: (typeof inserts)[number]) => T) => inserts.map(f);
    const hasAuthor = (r: Candidate) => !!(r.authorName || r.authorPhone || r.authorEmail || r.authorProfileUrl);
    await bound(
      em,
      `WITH t AS MATERIALIZED (
         SELECT u.*,
                CASE WHEN u.has_author THEN nextval('${seq.author}'::regclass)::int END AS author_id,
                g.point,
                CASE WHEN g.point IS NULL THEN u.district_hint
                     ELSE (SELECT d.id FROM district d WHERE d.municipality_id = $1 AND ST_Intersects(d.geom, g.point) ORDER BY d.id LIMIT 1) END AS district_id
           FROM unnest($4::text[], $5::timestamptz[], $6::text[], $7::boolean[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                       $13::text[], $14::text[], $15::float8[], $16::float8[], $17::int[], $18::real[], $19::text[], $20::boolean[], $21::int[],
                       $22::text[], $23::timestamptz[], $24::timestamptz[], $25::timestamptz[], $26::text[], $27::smallint[], $28::text[], $29::int[],
                       $33::int[], $34::int[], $35::int[],
                       $36::boolean[], $37::text[], $38::int[], $39::timestamptz[], $40::timestamptz[], $41::timestamptz[], $42::int[], $43::int[], $44::text[], $45::text[], $46::int[], $47::text[], $48::boolean[], $49::text[])
                AS u(external_id, received_at, author_kind, has_author, full_name, phone, email, profile_url, author_key,
                     text, address, lon, lat, theme_id, theme_confidence, theme_source, triage, org_source,
                     status, due_at, first_response_at, answered_at, answer_text, satisfaction, place_status, line,
                     id, duplicate_of_id, repeat_of_id,
                     urgent, urgent_by, deadline_rule_id, first_reaction_due_at, answer_due_at, answer_at_risk_at, first_reaction_minutes, answer_minutes, secondary, precision, district_hint, channel, contact_consent, repeat_by)
           CROSS JOIN LATERAL (SELECT CASE WHEN u.lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326) END AS point) g),
       r AS MATERIALIZED (
         SELECT t.*, coalesce(t.org_source, appeal_route($1, t.theme_id, t.district_id)) AS organization_id FROM t),
       au AS (
         INSERT INTO appeal_author (id, municipality_id, kind, full_name, phone, email, profile_url, contact_consent)
         SELECT author_id, $1, author_kind, full_name, phone, email, profile_url, coalesce(contact_consent, false) FROM r WHERE has_author),
       ap AS (
         INSERT INTO appeal (id, municipality_id, channel, external_id, received_at, author_kind, author_id, author_key, text, address, point,
                             district_id, theme_id, theme_confidence, theme_source, triage, organization_id, status, due_at, first_response_at,
                             answered_at, answer_text, satisfaction, place_status, batch_id, duplicate_of_id, repeat_of_id,
                             urgent, deadline_rule_id, first_reaction_due_at, answer_due_at, answer_at_risk_at, first_reaction_minutes, answer_minutes,
                             secondary_theme_ids, place_precision)
         SELECT id, $1, coalesce(channel, $2::text), external_id, received_at, author_kind, author_id, author_key, text, address, point,
                district_id, theme_id, theme_confidence, theme_source, triage, organization_id, status, due_at, first_response_at,
                answered_at, answer_text, satisfaction, place_status, $3, duplicate_of_id, repeat_of_id,
                urgent, deadline_rule_id, first_reaction_due_at, answer_due_at, answer_at_risk_at, first_reaction_minutes, answer_minutes,
                secondary::int[], coalesce(precision, CASE WHEN point IS NOT NULL THEN 'HOUSE' WHEN district_id IS NOT NULL THEN 'DISTRICT' ELSE 'NONE' END)
           FROM r),
       ev AS (
         INSERT INTO appeal_event (municipality_id, appeal_id, at, actor, kind, from_value, to_value, comment)
         SELECT $1::int, id, received_at, $30::text, 'CREATED', NULL, status,
                $31 || ', строка ' || line
                || CASE theme_source WHEN 'MODEL' THEN '; тема — классификатор, уверенность ' || to_char(theme_confidence, 'FM0.00')
                                     WHEN 'KEYWORDS' THEN '; тема — ключевые слова, уверенность ' || to_char(theme_confidence, 'FM0.00') ELSE '' END
                || CASE WHEN org_source IS NULL AND organization_id IS NOT NULL THEN '; исполнитель — по правилам маршрутизации' ELSE '' END
                || CASE WHEN answer_text IS NOT NULL THEN '; ответ дан ' || to_char(coalesce(answered_at, received_at) AT TIME ZONE $32, 'DD.MM.YYYY HH24:MI') ELSE '' END
           FROM r
         UNION ALL
         SELECT $1::int, id, now(), $30::text, 'DUPLICATE', NULL, duplicate_of_id::text, 'похожее обращение рядом по той же теме' FROM r WHERE duplicate_of_id IS NOT NULL
         UNION ALL
         SELECT $1::int, id, now(), $30::text, 'REPEAT', NULL, repeat_of_id::text,
                CASE WHEN repeat_by = 'PLACE' THEN 'повторное обращение по той же теме в том же месте после ответа' ELSE 'повторное обращение того же автора по той же теме' END
           FROM r WHERE repeat_of_id IS NOT NULL
         UNION ALL
         SELECT $1::int, id, received_at, $30::text, 'URGENCY', NULL, 'true', 'срочное по ключевым словам: «' || urgent_by || '»' FROM r WHERE urgent)
       SELECT count(*) FROM r`,
      [
        mid, opts.channel, batchId,
        col((x) => x.r.externalId), col((x) => iso(x.r.receivedAt)), col((x) => x.r.authorKind), col((x) => hasAuthor(x.r)),
        col((x) => x.r.authorName ?? null), col((x) => x.r.authorPhone ?? null), col((x) => x.r.authorEmail ?? null), col((x) => x.r.authorProfileUrl ?? null),
        col((x) => x.r.authorKey ?? null), col((x) => x.r.text), col((x) => x.r.address ?? null), col((x) => x.r.lon ?? null), col((x) => x.r.lat ?? null),
        col((x) => x.themeId), col((x) => x.confidence), col((x) => x.source), col((x) => x.triage), col((x) => x.r.organizationId ?? null),
        col((x) => x.r.status), col((x) => iso(x.r.dueAt)), col((x) => iso(x.r.firstResponseAt)), col((x) => iso(x.r.answeredAt)),
        col((x) => x.r.answerText ?? null), col((x) => x.r.satisfaction ?? null), col((x) => x.r.placeStatus), col((x) => x.r.line),
        actor, opts.sourceName.slice(0, 100), ctx.refs.timezone,
        col((x) => x.id), col((x) => x.duplicateOf), col((x) => x.repeatOf),
        col((x) => x.urgent), col((x) => x.urgentBy), col((x) => x.ruleId), col((x) => x.firstDue), col((x) => x.answerDue), col((x) => x.atRisk),
        col((x) => x.firstMinutes), col((x) => x.answerMinutes),
        col((x) => (x.secondary ? '{' + x.secondary.join(',') + '}' : null)), col((x) => x.r.placePrecision ?? null),
        col((x) => x.r.districtId ?? null), col((x) => x.r.channel ?? null),
        col((x) => x.r.authorContactConsent ?? false), col((x) => x.repeatBy),
      ],
    );
  }

  step('insert');
  // 7. Updates of known appeals, each change an event.
  if (updates.length) {
    const u = updates;
    await bound(
      em,
      `UPDATE appeal a SET status = t.status, theme_id = coalesce(t.theme_id, a.theme_id),
              theme_source = CASE WHEN t.theme_id IS NOT NULL AND t.theme_id IS DISTINCT FROM a.theme_id THEN 'SOURCE' ELSE a.theme_source END,
              organization_id = coalesce(t.organization_id, a.organization_id), answer_text = coalesce(t.answer_text, a.answer_text),
              answered_at = coalesce(t.answered_at, a.answered_at), satisfaction = coalesce(t.satisfaction, a.satisfaction),
              due_at = coalesce(t.due_at, a.due_at), first_response_at = coalesce(t.first_response_at, a.first_response_at),
              first_reaction_minutes = coalesce(a.first_reaction_minutes, t.frm), answer_minutes = coalesce(t.am, a.answer_minutes),
              updated_at = now(), batch_id = ?
         FROM unnest(?::int[], ?::text[], ?::int[], ?::int[], ?::text[], ?::timestamptz[], ?::smallint[], ?::timestamptz[], ?::timestamptz[], ?::int[], ?::int[])
           AS t(id, status, theme_id, organization_id, answer_text, answered_at, satisfaction, due_at, first_response_at, frm, am)
        WHERE a.id = t.id`,
      [
        batchId, u.map((x) => x.id), u.map((x) => x.r.status), u.map((x) => (x.changes.some((c) => c[1] === 'theme_id') ? x.r.themeId ?? null : null)),
        u.map((x) => x.r.organizationId ?? null), u.map((x) => x.r.answerText ?? null), u.map((x) => iso(x.r.answeredAt)),
        u.map((x) => x.r.satisfaction ?? null), u.map((x) => iso(x.r.dueAt)), u.map((x) => iso(x.r.firstResponseAt)),
        u.map((x) => x.firstMinutes), u.map((x) => x.answerMinutes),
      ],
    );
    const now = new Date();
    for (const x of updates) for (const [kind, column, from, to] of x.changes) event(x.id, now, kind, from, to, `повторный импорт (${column})`);
  }

  step('update');
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
  // 8. Verdicts on the answers the chunk brought (server/quality): the new appeals' answers were prepared with the chunk
  // (features, fingerprints); here their templates and verdicts are written. Answers changed by the source are judged anew.
  await writeJudgements(em, mid, plan.answers);
  const changedAnswers = updates.filter((x) => x.changes.some((c) => c[1] === 'answer_text')).map((x) => x.id);
  if (changedAnswers.length) await judgeAppeals(em, mid, changedAnswers, { answerChanged: new Set(changedAnswers) });
  step('quality write');
  const flaggedLines = new Set(allIssues.filter((i) => i.severity === 'WARNING').map((i) => i.line));
  const errorLines = new Set(allIssues.filter((i) => i.severity === 'ERROR').map((i) => i.line));
  const flagged = [...flaggedLines].filter((l) => !errorLines.has(l)).length;
  if (issues.length) {
    await bound(
      em,
      `INSERT INTO import_issue (municipality_id, batch_id, line, field, severity, reason, external_id)
       SELECT ?, ?, * FROM unnest(?::int[], ?::text[], ?::text[], ?::text[], ?::text[])`,
      [mid, batchId, issues.map((i) => i.line), issues.map((i) => i.field), issues.map((i) => i.severity), issues.map((i) => i.reason.slice(0, 2000)), issues.map((i) => clip(i.externalId))],
    );
  }
  await bound(
    em,
    `UPDATE import_batch SET rows_read = rows_read + ?, inserted = inserted + ?, updated = updated + ?, unchanged = unchanged + ?,
            rejected = rejected + ?, flagged = flagged + ? WHERE id = ?`,
    [plan.tally.read, inserts.length, updates.length, unchanged, plan.tally.rejected, flagged, batchId],
  );
  step('issues+batch');
  return { inserted: inserts.length, updated: updates.length, unchanged, flagged };
}
