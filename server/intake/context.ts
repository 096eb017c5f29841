import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { ThemeClassifier, type ThemeKeywords } from './classifier.js';
import type { IntakeRefs } from './normalize.js';

/** What one import needs to know about the municipality, read once per import. */
export interface IntakeContext {
  refs: IntakeRefs;
  classifier: ThemeClassifier;
  themeIdByCode: Map<string, number>;
}

/** Labelled appeals used to train the classifier (newest first). */
const TRAINING_LIMIT = Number(process.env.INTAKE_TRAINING_LIMIT ?? 50_000);
const classifierCache = new Map<number, { model: ThemeClassifier; version: string }>();

/** Forget the trained model (after a person reclassifies an appeal, which becomes training data). */
export function invalidateClassifier(municipalityId: number) {
  classifierCache.delete(municipalityId);
}

export async function trainClassifier(em: EntityManager, municipalityId: number): Promise<ThemeClassifier> {
  const [v] = await query<{ version: string }>(
    em,
    `SELECT count(*) || ':' || coalesce(max(id), 0) AS version FROM appeal WHERE municipality_id = ? AND theme_id IS NOT NULL AND coalesce(theme_source, 'SOURCE') IN ('SOURCE', 'PERSON')`,
    [municipalityId],
  );
  const cached = classifierCache.get(municipalityId);
  if (cached && cached.version === v.version) return cached.model;
  const keywords = await query<{ code: string; keywords: string[] }>(em, 'SELECT code, keywords FROM theme WHERE municipality_id = ? AND is_leaf', [municipalityId]);
  const samples = await query<{ text: string; code: string }>(
    em,
    `SELECT a.text, t.code FROM appeal a JOIN theme t ON t.id = a.theme_id
      WHERE a.municipality_id = ? AND t.is_leaf AND coalesce(a.theme_source, 'SOURCE') IN ('SOURCE', 'PERSON')
      ORDER BY a.id DESC LIMIT ?`,
    [municipalityId, TRAINING_LIMIT],
  );
  const model = ThemeClassifier.train(
    samples.map((s) => ({ text: s.text, themeCode: s.code })),
    keywords.map((k): ThemeKeywords => ({ themeCode: k.code, keywords: k.keywords })),
  );
  classifierCache.set(municipalityId, { model, version: v.version });
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
    },
    classifier: await trainClassifier(em, municipalityId),
    themeIdByCode: new Map(themes.map((t) => [t.code, t.id])),
  };
}
