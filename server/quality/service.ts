/**
 * Where verdicts are made and kept: answer_quality (one row per answered appeal), answer_template (near-duplicate
 * templates with their sizes) and quality_model (trained models). Set-based: a batch of appeals is read, judged in JS
 * and written with one statement per table (unnest), so an import chunk or a bulk re-judge costs a few statements.
 */
import fs from 'node:fs';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { audit, type AuditActor } from '../audit/audit.js';
import { extract, FEATURES, templateFeature, TEMPLATE_MIN, type Extracted } from './features.js';
import { baseModel, EVAL_FILE, figures, judge, predictAll, readLabelled, trainModel, vectors, type Figures, type Judgement, type LabelledCase, type Model, type Verdict } from './model.js';
import { bands, distance, fromBigint, simhash, TemplateIndex, toBigint, type Fingerprint } from './simhash.js';

// ---------------------------------------------------------------- the model in force

const modelCache = new Map<string, Model>();

/** The newest trained model of the municipality, or the one trained on the shipped training set. */
export async function currentModel(em: EntityManager, municipalityId: number): Promise<Model & { id: number | null }> {
  const [r] = await query<{ id: number; weights: number[] }>(em,
    'SELECT id, weights FROM quality_model WHERE municipality_id = ? ORDER BY id DESC LIMIT 1', [municipalityId]);
  if (!r) return { ...baseModel(), id: null };
  const key = `${municipalityId}:${r.id}`;
  let m = modelCache.get(key);
  if (!m) {
    const w = typeof r.weights === 'string' ? JSON.parse(r.weights) : r.weights;
    m = { kind: 'logistic', features: FEATURES, trainedOn: 0, weights: w };
    modelCache.set(key, m);
  }
  return { ...m, id: r.id };
}

// ---------------------------------------------------------------- judging a batch (an answer, an import chunk)

interface Row {
  id: number;
  text: string;
  address: string | null;
  answer_text: string;
  duplicate: boolean;
  keywords: string[] | null;
  old_fp: string | null;
  overridden: boolean;
}

// Keywords of the appeal's theme, of its parent and of its subthemes (a source may give only a group such as «Дороги»).
const ROW_SQL = `SELECT a.id, a.text, a.address, a.answer_text, a.duplicate_of_id IS NOT NULL AS duplicate,
                        (SELECT array_agg(k) FROM theme t2 CROSS JOIN unnest(t2.keywords) k
                          WHERE t2.id = a.theme_id OR t2.parent_id = a.theme_id OR t2.id = t.parent_id) AS keywords,
                        q.fingerprint::text AS old_fp, q.overridden_by IS NOT NULL AS overridden
                   FROM appeal a LEFT JOIN theme t ON t.id = a.theme_id LEFT JOIN answer_quality q ON q.appeal_id = a.id`;

function features(r: Row): Extracted {
  return extract({ appealText: r.text, appealAddress: r.address, themeKeywords: r.keywords ?? [], answerText: r.answer_text });
}

/** Existing templates near each fingerprint: one index lookup per band. */
async function nearTemplates(em: EntityManager, mid: number, fps: Fingerprint[]): Promise<Map<number, { fp: Fingerprint; size: number }[]>> {
  const out = new Map<number, { fp: Fingerprint; size: number }[]>();
  if (!fps.length) return out;
  const b = fps.map(bands);
  const rows = await query<{ i: number; fp: string; size: number }>(em,
    `WITH u AS (SELECT * FROM unnest(?::int[], ?::int[], ?::int[], ?::int[]) WITH ORDINALITY AS u(b0, b1, b2, b3, i))
     SELECT u.i::int AS i, t.fingerprint::text AS fp, t.size FROM u JOIN answer_template t ON t.municipality_id = ? AND ((t.fingerprint >> 48) & 65535) = u.b0
     UNION SELECT u.i::int, t.fingerprint::text, t.size FROM u JOIN answer_template t ON t.municipality_id = ? AND ((t.fingerprint >> 32) & 65535) = u.b1
     UNION SELECT u.i::int, t.fingerprint::text, t.size FROM u JOIN answer_template t ON t.municipality_id = ? AND ((t.fingerprint >> 16) & 65535) = u.b2
     UNION SELECT u.i::int, t.fingerprint::text, t.size FROM u JOIN answer_template t ON t.municipality_id = ? AND (t.fingerprint & 65535) = u.b3`,
    [b.map((x) => x[0]), b.map((x) => x[1]), b.map((x) => x[2]), b.map((x) => x[3]), mid, mid, mid, mid]);
  for (const r of rows) {
    const list = out.get(r.i - 1) ?? [];
    list.push({ fp: fromBigint(r.fp), size: r.size });
    out.set(r.i - 1, list);
  }
  return out;
}

interface Verdicts { ids: number[]; j: Judgement[]; fps: string[]; sizes: number[] }

async function writeVerdicts(em: EntityManager, mid: number, v: Verdicts, clearOverride: number[] = []): Promise<void> {
  if (!v.ids.length) return;
  // A new answer is judged afresh: an override of the previous answer no longer applies.
  if (clearOverride.length) {
    await query(em, `UPDATE answer_quality SET overridden_by = NULL, overridden_at = NULL, override_comment = NULL
                      WHERE appeal_id = ANY(?::int[]) AND overridden_by IS NOT NULL`, [clearOverride]);
  }
  await query(em,
    `INSERT INTO answer_quality AS q (appeal_id, municipality_id, verdict, model_verdict, score, reasons, fingerprint, template_size, judged_at)
     SELECT u.id, ?, u.verdict, u.verdict, u.score, u.reasons::jsonb, u.fp, u.size, now()
       FROM unnest(?::int[], ?::text[], ?::real[], ?::text[], ?::bigint[], ?::int[]) AS u(id, verdict, score, reasons, fp, size)
     ON CONFLICT (appeal_id, municipality_id) DO UPDATE SET
       verdict = CASE WHEN q.overridden_by IS NULL THEN excluded.verdict ELSE q.verdict END,
       model_verdict = excluded.model_verdict, score = excluded.score, reasons = excluded.reasons, fingerprint = excluded.fingerprint,
       template_size = excluded.template_size, judged_at = now()`,
    [mid, v.ids, v.j.map((x) => x.verdict), v.j.map((x) => x.score), v.j.map((x) => JSON.stringify(x.reasons)), v.fps, v.sizes]);
}

export interface JudgeOptions {
  /** Appeals whose answer text is new or changed: an override of the old answer no longer applies. */
  answerChanged?: ReadonlySet<number>;
}

/**
 * Judges the answers of these appeals (those with an answer text), within the caller's transaction: features,
 * fingerprint, the template it joins (an existing one within 3 bits, or a new one, also among the batch itself), the
 * templates' sizes, the verdict. A template that reaches TEMPLATE_MIN different appeals has its earlier members judged
 * again (they become a template only now). Overridden verdicts stay (model_verdict is refreshed), unless the answer changed.
 */
export async function judgeAppeals(em: EntityManager, municipalityId: number, ids: readonly number[], opts: JudgeOptions = {}): Promise<number> {
  if (!ids.length) return 0;
  const mid = municipalityId;
  const rows = await query<Row>(em, `${ROW_SQL} WHERE a.id = ANY(?::int[]) AND a.municipality_id = ? AND a.answer_text IS NOT NULL ORDER BY a.id`, [[...ids], mid]);
  // Answers removed since: their verdict goes (overridden ones too: there is no answer to judge).
  const present = new Set(rows.map((r) => r.id));
  const gone = ids.filter((id) => !present.has(id));
  if (gone.length) await removeVerdicts(em, mid, gone);
  if (!rows.length) return 0;
  await writeJudgements(em, mid, prepareAnswers(rows), opts);
  return rows.length;
}

/** The CPU part of judging (features and fingerprints), separate so that an import does it while the previous chunk is written. */
export interface PreparedAnswers { rows: Pick<Row, 'id' | 'duplicate' | 'old_fp'>[]; ex: Extracted[]; own: Fingerprint[] }

export function prepareAnswers(rows: Row[]): PreparedAnswers {
  return { rows: rows.map((r) => ({ id: r.id, duplicate: r.duplicate, old_fp: r.old_fp })), ex: rows.map(features), own: rows.map((r) => simhash(r.answer_text)) };
}

/** A new appeal as the import knows it (not yet stored). */
export interface NewAnswer { id: number; text: string; address: string | null; themeId: number | null; answerText: string; duplicate: boolean }

const keywordCache = new Map<number, { at: number; byTheme: Map<number, string[]> }>();
/** Keywords of each theme with its parent's and subthemes' (as ROW_SQL reads them), cached for a minute. */
async function themeKeywords(em: EntityManager, mid: number): Promise<Map<number, string[]>> {
  const hit = keywordCache.get(mid);
  if (hit && Date.now() - hit.at < 60_000) return hit.byTheme;
  const rows = await query<{ id: number; keywords: string[] | null }>(em,
    `SELECT t.id, (SELECT array_agg(k) FROM theme t2 CROSS JOIN unnest(t2.keywords) k WHERE t2.id = t.id OR t2.parent_id = t.id OR t2.id = t.parent_id) AS keywords
       FROM theme t WHERE t.municipality_id = ?`, [mid]);
  const byTheme = new Map(rows.map((r) => [r.id, r.keywords ?? []]));
  keywordCache.set(mid, { at: Date.now(), byTheme });
  return byTheme;
}

/** Prepares the answers of an import chunk's new appeals (read-only: runs in the chunk's preparation). */
export async function prepareNewAnswers(em: EntityManager, municipalityId: number, items: NewAnswer[]): Promise<PreparedAnswers> {
  const kw = items.length ? await themeKeywords(em, municipalityId) : new Map<number, string[]>();
  return prepareAnswers(items.map((x) => ({
    id: x.id, text: x.text, address: x.address, answer_text: x.answerText, duplicate: x.duplicate,
    keywords: x.themeId == null ? [] : kw.get(x.themeId) ?? [], old_fp: null, overridden: false,
  })));
}

/**
 * The database part: templates (lookup by bands, sizes), verdicts, and the re-judging of templates that reached
 * TEMPLATE_MIN, in the caller's transaction.
 */
export async function writeJudgements(em: EntityManager, municipalityId: number, p: PreparedAnswers, opts: JudgeOptions = {}): Promise<void> {
  const mid = municipalityId;
  const { rows, ex, own } = p;
  if (!rows.length) return;
  const model = await currentModel(em, mid);

  // The old memberships are taken back first (a re-judged answer is counted once).
  const dec = new Map<string, number>();
  rows.forEach((r) => { if (r.old_fp != null && !r.duplicate) dec.set(r.old_fp, (dec.get(r.old_fp) ?? 0) + 1); });
  if (dec.size) {
    await query(em, `UPDATE answer_template t SET size = greatest(0, t.size - u.n), updated_at = now()
                       FROM unnest(?::bigint[], ?::int[]) AS u(fp, n) WHERE t.municipality_id = ? AND t.fingerprint = u.fp`,
    [[...dec.keys()], [...dec.values()], mid]);
  }

  // Template of each answer: the nearest stored template (ties: the larger), else a template new in this batch.
  const near = await nearTemplates(em, mid, own);
  const local = new TemplateIndex();
  const leader: Fingerprint[] = own.map((fp, i) => {
    let best: { fp: Fingerprint; size: number } | undefined;
    let bestD = 99;
    for (const c of near.get(i) ?? []) {
      const d = distance(fp, c.fp);
      if (d <= 3 && (d < bestD || (d === bestD && c.size > (best?.size ?? -1)))) { best = c; bestD = d; }
    }
    if (best) return best.fp;
    return local.leaders[local.assign(fp)];
  });
  const key = leader.map(toBigint);
  const inc = new Map<string, number>();
  key.forEach((k, i) => inc.set(k, (inc.get(k) ?? 0) + (rows[i].duplicate ? 0 : 1)));
  const sorted = [...inc.keys()].sort();
  const after = await query<{ fp: string; size: number }>(em,
    `INSERT INTO answer_template AS t (municipality_id, fingerprint, size) SELECT ?, u.fp, u.n FROM unnest(?::bigint[], ?::int[]) AS u(fp, n)
     ON CONFLICT (municipality_id, fingerprint) DO UPDATE SET size = t.size + excluded.size, updated_at = now()
     RETURNING t.fingerprint::text AS fp, t.size`,
    [mid, sorted, sorted.map((k) => inc.get(k)!)]);
  const sizeOf = new Map(after.map((r) => [r.fp, r.size]));

  const changed = opts.answerChanged;
  await writeVerdicts(em, mid, {
    ids: rows.map((r) => r.id),
    j: rows.map((_, i) => judge(model, ex[i], sizeOf.get(key[i]) ?? 1)),
    fps: key,
    sizes: key.map((k) => sizeOf.get(k) ?? 1),
  }, changed ? rows.filter((r) => changed.has(r.id)).map((r) => r.id) : []);

  // Templates that reached the threshold now: their earlier members become template answers.
  const crossed = after.filter((r) => r.size >= TEMPLATE_MIN && r.size - (inc.get(r.fp) ?? 0) < TEMPLATE_MIN).map((r) => r.fp);
  if (crossed.length) {
    const batch = new Set(rows.map((r) => r.id));
    const members = (await query<Row & { fp: string }>(em,
      `${ROW_SQL} WHERE q.municipality_id = ? AND q.fingerprint = ANY(?::bigint[]) AND a.answer_text IS NOT NULL`, [mid, crossed]))
      .filter((r) => !batch.has(r.id));
    if (members.length) {
      await writeVerdicts(em, mid, {
        ids: members.map((r) => r.id),
        j: members.map((r) => judge(model, features(r), sizeOf.get(r.old_fp!) ?? 1)),
        fps: members.map((r) => r.old_fp!),
        sizes: members.map((r) => sizeOf.get(r.old_fp!) ?? 1),
      });
    }
  }
}

async function removeVerdicts(em: EntityManager, mid: number, ids: number[]): Promise<void> {
  await query(em,
    `WITH d AS (DELETE FROM answer_quality q USING appeal a WHERE q.appeal_id = ANY(?::int[]) AND a.id = q.appeal_id AND q.municipality_id = ?
                RETURNING q.fingerprint, a.duplicate_of_id IS NOT NULL AS duplicate),
          n AS (SELECT fingerprint, count(*)::int AS n FROM d WHERE fingerprint IS NOT NULL AND NOT duplicate GROUP BY 1)
     UPDATE answer_template t SET size = greatest(0, t.size - n.n), updated_at = now() FROM n WHERE t.municipality_id = ? AND t.fingerprint = n.fingerprint`,
    [ids, mid, mid]);
}

// ---------------------------------------------------------------- judging everything (command, mutation, demo)

export interface JudgeAllReport { judged: number; formal: number; templates: number; largestTemplate: number; overriddenKept: number; seconds: number }

const PAGE = 5000;

/**
 * Judges every answered appeal of the municipality again, with templates computed over the whole corpus (leader
 * clustering in id order, the same rule as the incremental path). Two passes over the answers (fingerprints, then
 * verdicts), each page one statement; answer_template is rebuilt at the end in one transaction. Overridden verdicts
 * are kept (their model_verdict is refreshed).
 */
export async function judgeAll(em: EntityManager, municipalityId: number, onProgress?: (done: number, total: number) => void): Promise<JudgeAllReport> {
  const t0 = performance.now();
  const mid = municipalityId;
  const model = await currentModel(em, mid);
  const [{ total }] = await query<{ total: number }>(em, 'SELECT count(*)::int AS total FROM appeal WHERE municipality_id = ? AND answer_text IS NOT NULL', [mid]);
  // Pass 1: fingerprints and templates.
  const idx = new TemplateIndex();
  const ids: number[] = [];
  const tpl: number[] = [];
  const sizes: number[] = [];
  let last = 0;
  for (;;) {
    const page = await query<{ id: number; answer_text: string; duplicate: boolean }>(em,
      `SELECT id, answer_text, duplicate_of_id IS NOT NULL AS duplicate FROM appeal
        WHERE municipality_id = ? AND answer_text IS NOT NULL AND id > ? ORDER BY id LIMIT ?`, [mid, last, PAGE]);
    if (!page.length) break;
    for (const r of page) {
      const t = idx.assign(simhash(r.answer_text));
      ids.push(r.id);
      tpl.push(t);
      sizes[t] = (sizes[t] ?? 0) + (r.duplicate ? 0 : 1);
    }
    last = page[page.length - 1].id;
    onProgress?.(Math.round(ids.length / 2), total);
  }
  const position = new Map<number, number>();
  ids.forEach((id, i) => position.set(id, i));
  // Pass 2: verdicts, a page at a time.
  let formal = 0, kept = 0, done = 0;
  last = 0;
  for (;;) {
    const page = await query<Row>(em, `${ROW_SQL} WHERE a.municipality_id = ? AND a.answer_text IS NOT NULL AND a.id > ? ORDER BY a.id LIMIT ?`, [mid, last, PAGE]);
    if (!page.length) break;
    last = page[page.length - 1].id;
    const known = page.filter((r) => position.has(r.id)); // answered after pass 1 started: judged by their own path
    const keys = known.map((r) => toBigint(idx.leaders[tpl[position.get(r.id)!]]));
    const sz = known.map((r) => Math.max(1, sizes[tpl[position.get(r.id)!]] ?? 1));
    const j = known.map((r, i) => judge(model, features(r), sz[i]));
    j.forEach((x) => { if (x.verdict === 'FORMAL') formal++; });
    kept += known.filter((r) => r.overridden).length;
    await em.transactional((tem) => writeVerdicts(tem, mid, { ids: known.map((r) => r.id), j, fps: keys, sizes: sz }));
    done += known.length;
    onProgress?.(Math.round(ids.length / 2 + done / 2), total);
  }
  // Verdicts of appeals that have no answer any more; the templates, rebuilt.
  let largest = 0, templates = 0;
  await em.transactional(async (tem) => {
    await query(tem, `DELETE FROM answer_quality q USING appeal a WHERE a.id = q.appeal_id AND q.municipality_id = ? AND a.answer_text IS NULL`, [mid]);
    await query(tem, 'DELETE FROM answer_template WHERE municipality_id = ?', [mid]);
    const fps: string[] = [];
    const ns: number[] = [];
    idx.leaders.forEach((f, i) => {
      if (!sizes[i]) return;
      fps.push(toBigint(f)); ns.push(sizes[i]);
      templates++;
      if (sizes[i] > largest) largest = sizes[i];
    });
    for (let i = 0; i < fps.length; i += 50_000) {
      await query(tem, `INSERT INTO answer_template (municipality_id, fingerprint, size) SELECT ?, * FROM unnest(?::bigint[], ?::int[])`,
        [mid, fps.slice(i, i + 50_000), ns.slice(i, i + 50_000)]);
    }
  });
  return { judged: done, formal, templates, largestTemplate: largest, overriddenKept: kept, seconds: (performance.now() - t0) / 1000 };
}

// ---------------------------------------------------------------- overrides, retraining

export async function overrideVerdict(em: EntityManager, actor: AuditActor & { login: string }, appealId: number, verdict: Verdict, comment: string): Promise<void> {
  const mid = actor.municipalityId;
  await em.transactional(async (tem) => {
    let [q] = await query<{ verdict: Verdict; model_verdict: Verdict; overridden_by: string | null; override_comment: string | null }>(tem,
      'SELECT verdict, model_verdict, overridden_by, override_comment FROM answer_quality WHERE appeal_id = ? AND municipality_id = ? FOR UPDATE', [appealId, mid]);
    if (!q) {
      // Answered but not judged yet (e.g. before this capability existed): judge it now.
      const n = await judgeAppeals(tem, mid, [appealId]);
      if (!n) throw new InputError('appealId', 'у обращения нет ответа: оценивать нечего');
      [q] = await query(tem, 'SELECT verdict, model_verdict, overridden_by, override_comment FROM answer_quality WHERE appeal_id = ? FOR UPDATE', [appealId]);
    }
    await query(tem, `UPDATE answer_quality SET verdict = ?, overridden_by = ?, overridden_at = now(), override_comment = ? WHERE appeal_id = ?`,
      [verdict, actor.login, comment, appealId]);
    await query(tem, `INSERT INTO appeal_event (municipality_id, appeal_id, at, actor, kind, from_value, to_value, comment) VALUES (?, ?, now(), ?, 'QUALITY', ?, ?, ?)`,
      [mid, appealId, actor.login, q.verdict, verdict, comment]);
    await audit(tem, actor, {
      entity: 'answer_quality', entityId: appealId, action: 'override',
      before: { verdict: q.verdict, modelVerdict: q.model_verdict, overriddenBy: q.overridden_by, overrideComment: q.override_comment },
      after: { verdict, modelVerdict: q.model_verdict, overriddenBy: actor.login, overrideComment: comment },
    });
  });
}

/** The coordinators' overrides as labelled cases (newest first, at most `limit`). */
export async function overrideCases(em: EntityManager, municipalityId: number, limit = 5000): Promise<LabelledCase[]> {
  const rows = await query<{ text: string; address: string | null; keywords: string[] | null; answer_text: string; verdict: Verdict }>(em,
    `SELECT a.text, a.address, t.keywords, a.answer_text, q.verdict FROM answer_quality q JOIN appeal a ON a.id = q.appeal_id
       LEFT JOIN theme t ON t.id = a.theme_id
      WHERE q.municipality_id = ? AND q.overridden_by IS NOT NULL AND a.answer_text IS NOT NULL ORDER BY q.overridden_at DESC LIMIT ?`, [municipalityId, limit]);
  return rows.map((r) => ({ appealText: r.text, appealAddress: r.address, themeKeywords: r.keywords ?? [], answerText: r.answer_text, label: r.verdict }));
}

export interface RetrainReport {
  modelId: number;
  trainCases: number;
  overrides: number;
  cv: Figures;
  rulesCv: Figures;
  /** On the hand-written evaluation set, when it is present (test/fixtures): never trained on. */
  evaluation: Figures | null;
  weights: { feature: string; weight: number }[];
  rejudged: JudgeAllReport | null;
}

/** Trains on the training set plus the overrides, stores the model with its cross-validated figures, optionally re-judges all. */
export async function retrain(em: EntityManager, actor: AuditActor, opts: { rejudge?: boolean } = {}): Promise<RetrainReport> {
  const mid = actor.municipalityId;
  const overrides = await overrideCases(em, mid);
  const r = trainModel(overrides);
  let evaluation: Figures | null = null;
  if (fs.existsSync(EVAL_FILE())) {
    const cases = readLabelled(EVAL_FILE());
    evaluation = figures(cases.map((c) => c.label), predictAll(r.model, vectors(cases)));
  }
  const fig = { cv: r.cv, rulesCv: r.rulesCv, evaluation, trainCases: r.trainCases, overrides: r.overrides };
  const modelId = await em.transactional(async (tem) => {
    const [row] = await query<{ id: number }>(tem,
      'INSERT INTO quality_model (municipality_id, trained_by, weights, figures) VALUES (?, ?, ?::jsonb, ?::jsonb) RETURNING id',
      [mid, actor.user?.login ?? actor.actor ?? 'system', JSON.stringify(r.model.weights), JSON.stringify(fig)]);
    await audit(tem, actor, { entity: 'quality_model', entityId: row.id, action: 'retrain', after: { ...fig, weights: r.model.weights } });
    return row.id;
  });
  const rejudged = opts.rejudge ? await judgeAll(em, mid) : null;
  return {
    modelId, trainCases: r.trainCases, overrides: r.overrides, cv: r.cv, rulesCv: r.rulesCv, evaluation,
    weights: [{ feature: 'bias', weight: r.model.weights[0] }, ...FEATURES.map((f, i) => ({ feature: f, weight: r.model.weights[i + 1] }))],
    rejudged,
  };
}

export { templateFeature };
