import fs from 'node:fs';
import path from 'node:path';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import type { LabelledText, ThemeKeywords } from './classifier.js';
import { HISTORY_LIMIT, LinearThemeClassifier, trainingSet } from './linear-classifier.js';
import { repoRoot } from '../reference/files.js';
import type { IntakeRefs } from './normalize.js';

/** What one import needs to know about the municipality, read once per import. */
export interface IntakeContext {
  refs: IntakeRefs;
  classifier: LinearThemeClassifier;
  themeIdByCode: Map<string, number>;
}

const classifierCache = new Map<number, { model: LinearThemeClassifier; version: string }>();

/** Forget the trained model (after a person reclassifies an appeal, which becomes training data). */
export function invalidateClassifier(municipalityId: number) {
  classifierCache.delete(municipalityId);
}

/** Largest seed corpus read (bytes). */
const SEED_MAX_BYTES = 20 * 1024 * 1024;

/**
 * The seed corpus of a municipality: db/reference/<code>/classifier-seed.jsonl, lines {"text", "themeCode"} written for
 * training (many phrasings per leaf theme). Lines of unknown themes are skipped; no file = no seed.
 */
export function readSeedCorpus(municipalityCode: string, leafCodes: ReadonlySet<string>): LabelledText[] {
  if (!/^[a-z0-9_-]+$/.test(municipalityCode)) return [];
  const file = path.join(repoRoot(), 'db', 'reference', municipalityCode, 'classifier-seed.jsonl');
  if (!fs.existsSync(file) || fs.statSync(file).size > SEED_MAX_BYTES) return [];
  const out: LabelledText[] = [];
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const o = JSON.parse(line) as Partial<LabelledText>;
      if (typeof o.text === 'string' && typeof o.themeCode === 'string' && leafCodes.has(o.themeCode)) out.push({ text: o.text, themeCode: o.themeCode });
    } catch { /* a malformed line is skipped */ }
  }
  return out;
}

/**
 * The municipality's classifier: a linear model over its seed corpus and its labelled history (themes given by a
 * source or set by a person, newest first), cached until the history changes.
 */
export async function trainClassifier(em: EntityManager, municipalityId: number, force = false): Promise<LinearThemeClassifier> {
  const [v] = await query<{ version: string; code: string }>(
    em,
    `SELECT (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(max(updated_at)::text, '') FROM appeal
              WHERE municipality_id = m.id AND theme_id IS NOT NULL AND theme_source = 'PERSON')
            || '/' || (SELECT count(*) || ':' || coalesce(max(id), 0) FROM appeal
              WHERE municipality_id = m.id AND theme_id IS NOT NULL AND coalesce(theme_source, 'SOURCE') = 'SOURCE') AS version, m.code
       FROM municipality m WHERE m.id = ?`,
    [municipalityId],
  );
  const cached = classifierCache.get(municipalityId);
  if (!force && cached && v && cached.version === v.version) return cached.model;
  const keywords = await query<{ code: string; keywords: string[] }>(em, 'SELECT code, keywords FROM theme WHERE municipality_id = ? AND is_leaf', [municipalityId]);
  const samples = await query<{ text: string; code: string; person: boolean }>(
    em,
    `SELECT a.text, t.code, a.theme_source = 'PERSON' AS person FROM appeal a JOIN theme t ON t.id = a.theme_id
      WHERE a.municipality_id = ? AND t.is_leaf AND coalesce(a.theme_source, 'SOURCE') IN ('SOURCE', 'PERSON')
      ORDER BY (a.theme_source = 'PERSON') DESC, a.id DESC LIMIT ?`,
    [municipalityId, HISTORY_LIMIT * 2],
  );
  const seed = v ? readSeedCorpus(v.code, new Set(keywords.map((k) => k.code))) : [];
  const model = LinearThemeClassifier.train(
    trainingSet(seed, samples.map((s) => ({ text: s.text, themeCode: s.code, person: s.person }))),
    keywords.map((k): ThemeKeywords => ({ themeCode: k.code, keywords: k.keywords })),
  );
  classifierCache.set(municipalityId, { model, version: v?.version ?? '' });
  return model;
}

export async function loadIntakeContext(em: EntityManager, municipalityId: number): Promise<IntakeContext> {
  const [m] = await query<{ timezone: string; min_lon: number; min_lat: number; max_lon: number; max_lat: number }>(
    em,
    `SELECT m.timezone, ST_XMin(e) AS min_lon, ST_YMin(e) AS min_lat, ST_XMax(e) AS max_lon, ST_YMax(e) AS max_lat
       FROM municipality m
       CROSS JOIN LATERAL (SELECT ST_Expand(coalesce(ST_Extent(d.geom)::geometry, ST_Expand(m.center, 0.2)), 0.02) AS e
                             FROM district d WHERE d.municipality_id = m.id) x
      WHERE m.id = ?`,
    [municipalityId],
  );
  const themes = await query<{ id: number; code: string; name: string; is_leaf: boolean }>(
    em, 'SELECT id, code, name, is_leaf FROM theme WHERE municipality_id = ? ORDER BY is_leaf, id', [municipalityId]);
  const orgs = await query<{ id: number; code: string; name: string; short_name: string | null }>(
    em, 'SELECT id, code, name, short_name FROM organization WHERE municipality_id = ?', [municipalityId]);

  const districts = await query<{ id: number; code: string; name: string }>(
    em, 'SELECT id, code, name FROM district WHERE municipality_id = ? ORDER BY id', [municipalityId]);
  const themeMap = new Map<string, number>();
  for (const t of themes) {
    // Leaf themes come last, so a name shared with a group resolves to the leaf.
    themeMap.set(t.code, t.id);
    themeMap.set(t.name.toLowerCase(), t.id);
  }
  const orgMap = new Map<string, number>();
  for (const o of orgs) {
    orgMap.set(o.code, o.id);
    orgMap.set(o.name.toLowerCase(), o.id);
    if (o.short_name) orgMap.set(o.short_name.toLowerCase(), o.id);
  }
  return {
    refs: {
      timezone: m.timezone,
      extent: { minLon: m.min_lon, minLat: m.min_lat, maxLon: m.max_lon, maxLat: m.max_lat },
      themes: themeMap,
      organizations: orgMap,
      districts,
    },
    classifier: await trainClassifier(em, municipalityId),
    themeIdByCode: new Map(themes.map((t) => [t.code, t.id])),
  };
}
