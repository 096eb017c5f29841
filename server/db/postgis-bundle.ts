import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Extension } from '@electric-sql/pglite';
import { postgis } from '@electric-sql/pglite-postgis';

/**
 * PostGIS for PGlite with only what CREATE EXTENSION postgis needs.
 *
 * The bundle of @electric-sql/pglite-postgis (20 MB gzipped, 91 MB unpacked) also carries postgis_raster and
 * postgis_topology (15-16 MB of WebAssembly each), the TIGER geocoder, upgrade scripts and contrib SQL. PGlite
 * unpacks every file of a bundle into its in-memory file system and compiles every .so of it at start, so the
 * unused parts cost ~320 MB of resident memory in every process that opens the database (measured: 800 MB
 * right after PGlite.create with the full bundle, 477 MB with this one). We keep postgis-3.so, the PROJ data
 * (ST_Transform) and the extension's control file and install script, and cache the trimmed bundle in the
 * temporary folder (keyed by the original's size and mtime); if anything goes wrong the full bundle is used.
 */
const KEEP = [
  /^lib\/postgresql\/postgis-3\.so$/,
  /^share\/proj\//,
  /^share\/postgresql\/extension\/postgis\.control$/,
  // The install script (postgis--3.6.2.sql), not the upgrade scripts (postgis--3.5.0--3.6.2.sql, …--ANY.sql).
  /^share\/postgresql\/extension\/postgis--[0-9][^-]*\.sql$/,
];

/**
 * Keeps the tar entries whose name matches KEEP (and directories), copying their blocks unchanged. Archives
 * with pax or GNU extension headers are refused (the bundle has none; the caller then uses the full bundle).
 */
class TarFilter extends Transform {
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes of the current entry's data (whole blocks) still to copy or to skip. */
  private remaining = 0;
  private keeping = false;
  private ended = false;

  _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    try {
      this.drain();
      cb();
    } catch (e) {
      cb(e as Error);
    }
  }

  _flush(cb: TransformCallback) {
    if (!this.ended) return cb(new Error('truncated tar archive'));
    this.push(Buffer.alloc(1024)); // end-of-archive marker
    cb();
  }

  private drain() {
    while (!this.ended) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, this.buf.length);
        if (n === 0) return;
        if (this.keeping) this.push(Buffer.from(this.buf.subarray(0, n)));
        this.buf = this.buf.subarray(n);
        this.remaining -= n;
        continue;
      }
      if (this.buf.length < 512) return;
      const header = Buffer.from(this.buf.subarray(0, 512));
      this.buf = this.buf.subarray(512);
      if (header.every((b) => b === 0)) { this.ended = true; return; }
      const type = String.fromCharCode(header[156] || 48);
      if (!/^[0-7]$/.test(type)) throw new Error(`unsupported tar entry type '${type}'`);
      const size = parseInt(header.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
      const name = entryName(header).replace(/^\.\//, '');
      this.keeping = type === '5' || (type === '0' && KEEP.some((r) => r.test(name)));
      if (this.keeping) this.push(header);
      this.remaining = Math.ceil(size / 512) * 512;
    }
  }
}

function entryName(h: Buffer): string {
  const name = h.toString('utf8', 0, 100).replace(/\0.*$/s, '');
  const prefix = h.toString('latin1', 257, 262) === 'ustar' ? h.toString('utf8', 345, 500).replace(/\0.*$/s, '') : '';
  return prefix ? `${prefix}/${name}` : name;
}

async function trimmedBundle(full: string): Promise<string> {
  const st = fs.statSync(full);
  const target = path.join(os.tmpdir(), `mcu-pglite-postgis-${st.size}-${Math.round(st.mtimeMs)}.tar.gz`);
  if (fs.existsSync(target)) return target;
  const tmp = `${target}.${process.pid}.tmp`;
  try {
    await pipeline(fs.createReadStream(full), zlib.createGunzip(), new TarFilter(), zlib.createGzip({ level: 1 }), fs.createWriteStream(tmp));
    fs.renameSync(tmp, target);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  return target;
}

/** The postgis extension for PGlite.create, with the trimmed bundle (the full one when trimming fails). */
export const postgisMinimal: Extension = {
  name: 'postgis',
  async setup(pg, emscriptenOpts) {
    const r = await postgis.setup(pg, emscriptenOpts);
    if (!r.bundlePath || process.env.MCU_PGLITE_FULL_POSTGIS) return r;
    try {
      const full = r.bundlePath instanceof URL ? fileURLToPath(r.bundlePath) : String(r.bundlePath);
      return { ...r, bundlePath: pathToFileURL(await trimmedBundle(full)) };
    } catch (e) {
      console.error(`[embedded] PostGIS bundle not trimmed, using the full one: ${(e as Error).message}`);
      return r;
    }
  },
};
