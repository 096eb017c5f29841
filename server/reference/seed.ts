import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { readReference, readRegions } from './files.js';
import { importDistricts } from './districts.js';
import { ensureDeadlineDefaults } from '../deadlines/store.js';

interface MunicipalityFile {
  code: string; name: string; region?: string; regionCode?: string; oktmo?: string; timezone: string; center: [number, number]; population?: number;
}

/** The region of db/reference/regions.json with this code, created when missing; its id. */
export async function ensureRegion(em: EntityManager, code: string): Promise<number> {
  const [have] = await query<{ id: number }>(em, 'SELECT id FROM region WHERE code = ?', [code]);
  if (have) return have.id;
  const r = readRegions().find((x) => x.code === code);
  if (!r) throw new Error(`region ${code}: not in db/reference/regions.json`);
  const [row] = await query<{ id: number }>(em,
    `INSERT INTO region (code, name, okato, population, center, zoom) VALUES (?, ?, ?, ?, ST_SetSRID(ST_MakePoint(?, ?), 4326), ?)
     ON CONFLICT (code) DO UPDATE SET name = excluded.name RETURNING id`,
    [r.code, r.name, r.okato ?? null, r.population ?? null, r.center[0], r.center[1], r.zoom ?? 7]);
  return row.id;
}
interface OrganizationFile { code: string; name: string; shortName?: string; kind: string; parentCode?: string | null }
interface BlockFile { code: string; name: string; ownerTitle?: string }
interface ThemeFile { code: string; name: string; parentCode?: string | null; blockCode?: string | null; organizationCode?: string | null; keywords?: string[] }
interface ChannelFile { code: string; name: string }

/** Orders items so that every parent comes before its children. */
function parentsFirst<T extends { code: string; parentCode?: string | null }>(items: T[], what: string): T[] {
  const byCode = new Map(items.map((i) => [i.code, i]));
  const out: T[] = [];
  const done = new Set<string>();
  const visit = (i: T, path: string[]) => {
    if (done.has(i.code)) return;
    if (path.includes(i.code)) throw new Error(`${what}: cycle through ${[...path, i.code].join(' → ')}`);
    if (i.parentCode) {
      const p = byCode.get(i.parentCode);
      if (!p) throw new Error(`${what} ${i.code}: unknown parentCode ${i.parentCode}`);
      visit(p, [...path, i.code]);
    }
    done.add(i.code);
    out.push(i);
  };
  items.forEach((i) => visit(i, []));
  return out;
}

/**
 * Loads a municipality's reference data (db/reference/<code>/) when it is not in the
 * database yet. Returns the municipality id. One transaction: all or nothing.
 */
export async function ensureMunicipality(em: EntityManager, code: string): Promise<{ id: number; created: boolean }> {
  const existing = await query<{ id: number }>(em, 'SELECT id FROM municipality WHERE code = ?', [code]);
  if (existing.length) {
    // Loaded before regions existed: its region from its reference file.
    const file = readReference<MunicipalityFile>(code, 'municipality.json');
    if (file.regionCode) {
      const regionId = await ensureRegion(em, file.regionCode);
      await query(em, 'UPDATE municipality SET region_id = ? WHERE id = ? AND region_id IS NULL', [regionId, existing[0].id]);
    }
    await ensureDeadlineDefaults(em, existing[0].id, code);
    return { id: existing[0].id, created: false };
  }

  const m = readReference<MunicipalityFile>(code, 'municipality.json');
  const channels = readReference<ChannelFile[]>(code, 'channels.json');
  const blocks = readReference<BlockFile[]>(code, 'thematic_blocks.json');
  const orgs = parentsFirst(readReference<OrganizationFile[]>(code, 'organizations.json'), 'organization');
  const themes = parentsFirst(readReference<ThemeFile[]>(code, 'themes.json'), 'theme');
  const districts = readReference<unknown>(code, 'districts.geojson');

  const id = await em.transactional(async (tem) => {
    const regionId = m.regionCode ? await ensureRegion(tem, m.regionCode) : null;
    const [row] = await query<{ id: number }>(tem, 
      `INSERT INTO municipality (code, name, region, oktmo, timezone, population, center, region_id)
       VALUES (?, ?, ?, ?, ?, ?, ST_SetSRID(ST_MakePoint(?, ?), 4326), ?) RETURNING id`,
      [m.code, m.name, m.region ?? null, m.oktmo ?? null, m.timezone, m.population ?? null, m.center[0], m.center[1], regionId],
    );
    const mid = row.id;
    for (const c of channels) {
      await query(tem, 'INSERT INTO channel (code, name) VALUES (?, ?) ON CONFLICT (code) DO NOTHING', [c.code, c.name]);
    }
    const blockIds = new Map<string, number>();
    for (const b of blocks) {
      const [r] = await query<{ id: number }>(tem, 
        'INSERT INTO thematic_block (municipality_id, code, name, owner_title) VALUES (?, ?, ?, ?) RETURNING id',
        [mid, b.code, b.name, b.ownerTitle ?? null],
      );
      blockIds.set(b.code, r.id);
    }
    const orgIds = new Map<string, number>();
    for (const o of orgs) {
      const [r] = await query<{ id: number }>(tem, 
        'INSERT INTO organization (municipality_id, code, name, short_name, kind, parent_id) VALUES (?, ?, ?, ?, ?, ?) RETURNING id',
        [mid, o.code, o.name, o.shortName ?? null, o.kind, o.parentCode ? orgIds.get(o.parentCode)! : null],
      );
      orgIds.set(o.code, r.id);
    }
    const parents = new Set(themes.map((t) => t.parentCode).filter(Boolean));
    const themeIds = new Map<string, number>();
    for (const t of themes) {
      const ref = (map: Map<string, number>, key: string | null | undefined, what: string) => {
        if (!key) return null;
        const v = map.get(key);
        if (v == null) throw new Error(`theme ${t.code}: unknown ${what} ${key}`);
        return v;
      };
      const [r] = await query<{ id: number }>(tem, 
        `INSERT INTO theme (municipality_id, code, name, parent_id, block_id, organization_id, keywords, is_leaf)
         VALUES (?, ?, ?, ?, ?, ?, ?::text[], ?) RETURNING id`,
        [
          mid, t.code, t.name,
          ref(themeIds, t.parentCode, 'parentCode'),
          ref(blockIds, t.blockCode, 'blockCode'),
          ref(orgIds, t.organizationCode, 'organizationCode'),
          t.keywords ?? [],
          !parents.has(t.code),
        ],
      );
      themeIds.set(t.code, r.id);
    }
    await importDistricts(tem, mid, districts);
    return mid;
  });
  await ensureDeadlineDefaults(em, id, code);
  return { id, created: true };
}
