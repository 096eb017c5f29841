import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (works from sources and from dist/). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'db', 'reference'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find db/reference above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** Folder of a municipality's reference data, e.g. db/reference/rubtsovsk. */
export function referenceDir(municipality = 'rubtsovsk'): string {
  if (!/^[a-z0-9_-]+$/.test(municipality)) throw new Error(`bad municipality code "${municipality}"`);
  const dir = path.join(repoRoot(), 'db', 'reference', municipality);
  if (!fs.existsSync(path.join(dir, 'municipality.json'))) throw new Error(`no reference data for municipality "${municipality}" in ${dir}`);
  return dir;
}

/**
 * The path of a municipality's reference file. A municipality may name a `base` in its municipality.json: the files
 * it does not have itself come from the base's folder (the shared regional rubricator, deadline rules, indicators,
 * classifier seed). Its own municipality.json, districts and organisations are always its own.
 */
export function referenceFile(municipality: string, file: string): string {
  const own = path.join(referenceDir(municipality), file);
  if (fs.existsSync(own) || file === 'municipality.json') return own;
  const base = (JSON.parse(fs.readFileSync(path.join(referenceDir(municipality), 'municipality.json'), 'utf8')) as { base?: string }).base;
  if (base && base !== municipality) return referenceFile(base, file);
  return own;
}

export function readReference<T>(municipality: string, file: string): T {
  return JSON.parse(fs.readFileSync(referenceFile(municipality, file), 'utf8')) as T;
}

/** The municipality codes that have reference data (db/reference/<code>/municipality.json). */
export function referenceMunicipalities(): string[] {
  const root = path.join(repoRoot(), 'db', 'reference');
  return fs.readdirSync(root).filter((d) => fs.existsSync(path.join(root, d, 'municipality.json'))).sort();
}

export interface RegionFile { code: string; name: string; okato?: string; center: [number, number]; zoom?: number; population?: number }

/** The regions (db/reference/regions.json); a municipality names its region by `regionCode`. */
export function readRegions(): RegionFile[] {
  return JSON.parse(fs.readFileSync(path.join(repoRoot(), 'db', 'reference', 'regions.json'), 'utf8')) as RegionFile[];
}
