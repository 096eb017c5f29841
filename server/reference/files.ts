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

export function readReference<T>(municipality: string, file: string): T {
  return JSON.parse(fs.readFileSync(path.join(referenceDir(municipality), file), 'utf8')) as T;
}
