import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { Extension } from '@electric-sql/pglite';
import { postgis } from '@electric-sql/pglite-postgis';

/**
 * PostGIS for PGlite with only what CREATE EXTENSION postgis needs, served from files on disk.
 *
 * The bundle of @electric-sql/pglite-postgis (20 MB gzipped, 91 MB unpacked) also carries postgis_raster and
 * postgis_topology (15-16 MB of WebAssembly each), the TIGER geocoder, upgrade scripts and contrib SQL. PGlite
 * unpacks every file of a bundle into its in-memory file system and compiles every .so of it at start, so the
 * unused parts cost ~320 MB of resident memory in every process that opens the database (measured: 800 MB
 * right after PGlite.create with the full bundle, 477 MB with a trimmed one). We keep postgis-3.so, the PROJ data
 * (ST_Transform) and the extension's control file and install script (32 MB unpacked).
 *
 * Even trimmed, PGlite's bundle loading holds the data several times at once — the decompressed Blob, its
 * ArrayBuffer, the untarred entries, the in-memory file system's copies — and the process's malloc heap, once
 * grown, stays resident: 320 MB right after PGlite.create vs 125 MB without PostGIS. So we do not give PGlite a
 * bundle at all: the kept files are unpacked once into a cache folder in the temporary folder (keyed by the
 * bundle's size and mtime), that folder is mounted into PGlite's file system with Emscripten's NODEFS (files read
 * from disk on demand, nothing held in memory), the files are symlinked to where Postgres and PROJ look for them
 * (/pglite/lib/postgresql, /pglite/share/...), and postgis-3.so is compiled from the file read from disk, as PGlite
 * would have compiled it from the bundle. Measured: 208 MB right after PGlite.create instead of 320; the peak of a
 * CLI import's database process 291-295 MB instead of 390-393 at 20 000 rows (306 MB at 100 000: with the fixed
 * part smaller, the slow growth of Postgres's WebAssembly heap during an import shows). If anything goes wrong
 * before the database starts, PGlite's full bundle is used (MCU_PGLITE_FULL_POSTGIS=1 forces that).
 */
const KEEP = [
  /^lib\/postgresql\/postgis-3\.so$/,
  /^share\/proj\//,
  /^share\/postgresql\/extension\/postgis\.control$/,
  // The install script (postgis--3.6.2.sql), not the upgrade scripts (postgis--3.5.0--3.6.2.sql, …--ANY.sql).
  /^share\/postgresql\/extension\/postgis--[0-9][^-]*\.sql$/,
];

/**
 * Writes the regular files of a tar stream whose name matches KEEP into `dir` (the data written as it arrives) and
 * records their names. Archives with pax or GNU extension headers are refused (the bundle has none; the caller
 * then uses the full bundle).
 */
class TarExtract extends Writable {
  readonly files: string[] = [];
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes of the current entry's data (whole blocks) still to write or to skip, and of them the file's own. */
  private remaining = 0;
  private fileBytes = 0;
  private fd: number | null = null;
  private ended = false;

  constructor(private readonly dir: string) {
    super();
  }

  _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    try {
      this.drain();
      cb();
    } catch (e) {
      this.closeFile();
      cb(e as Error);
    }
  }

  _final(cb: (e?: Error | null) => void) {
    this.closeFile();
    cb(this.ended ? null : new Error('truncated tar archive'));
  }

  private closeFile() {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private drain() {
    while (!this.ended) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, this.buf.length);
        if (n === 0) return;
        const data = Math.min(n, this.fileBytes);
        if (this.fd !== null && data > 0) fs.writeSync(this.fd, this.buf, 0, data);
        this.fileBytes -= data;
        this.buf = this.buf.subarray(n);
        this.remaining -= n;
        if (this.remaining === 0) this.closeFile();
        continue;
      }
      if (this.buf.length < 512) return;
      const header = this.buf.subarray(0, 512);
      this.buf = this.buf.subarray(512);
      if (header.every((b) => b === 0)) { this.ended = true; return; }
      const type = String.fromCharCode(header[156] || 48);
      if (!/^[0-7]$/.test(type)) throw new Error(`unsupported tar entry type '${type}'`);
      const size = parseInt(header.toString('latin1', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
      const name = entryName(header).replace(/^\.\//, '');
      if (type === '0' && KEEP.some((r) => r.test(name))) {
        if (name.split('/').includes('..')) throw new Error(`unsafe tar entry name '${name}'`);
        const file = path.join(this.dir, name);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        this.fd = fs.openSync(file, 'w');
        this.files.push(name);
      }
      this.remaining = Math.ceil(size / 512) * 512;
      this.fileBytes = size;
      if (this.remaining === 0) this.closeFile();
    }
  }
}

function entryName(h: Buffer): string {
  const name = h.toString('utf8', 0, 100).replace(/\0.*$/s, '');
  const prefix = h.toString('latin1', 257, 262) === 'ustar' ? h.toString('utf8', 345, 500).replace(/\0.*$/s, '') : '';
  return prefix ? `${prefix}/${name}` : name;
}

const MANIFEST = 'mcu-manifest.json';

/** The kept files listed in a cache folder's manifest, if they are all there (a temp cleaner may have removed some). */
function cachedFiles(dir: string): string[] | null {
  try {
    const files = (JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')) as { files: [string, number][] }).files;
    return files.every(([f, size]) => fs.statSync(path.join(dir, f)).size === size) ? files.map(([f]) => f) : null;
  } catch {
    return null;
  }
}

/** The cache folder with the kept files of the bundle `full` unpacked, and their paths relative to it. */
async function unpackedBundle(full: string): Promise<{ dir: string; files: string[] }> {
  const st = fs.statSync(full);
  const dir = path.join(os.tmpdir(), `mcu-pglite-postgis-${st.size}-${Math.round(st.mtimeMs)}`);
  let files = cachedFiles(dir);
  if (files) return { dir, files };
  const tmp = `${dir}.${process.pid}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  try {
    fs.mkdirSync(tmp, { recursive: true });
    const extract = new TarExtract(tmp);
    await pipeline(fs.createReadStream(full), zlib.createGunzip(), extract);
    if (!extract.files.some((f) => f.endsWith('.so'))) throw new Error('postgis-3.so not found in the bundle');
    const manifest = extract.files.map((f) => [f, fs.statSync(path.join(tmp, f)).size]);
    fs.writeFileSync(path.join(tmp, MANIFEST), JSON.stringify({ files: manifest }));
    // A broken cache folder (files missing) is replaced; a complete one made meanwhile by another process is used.
    if (fs.existsSync(dir) && !cachedFiles(dir)) fs.rmSync(dir, { recursive: true, force: true });
    try {
      fs.renameSync(tmp, dir);
    } catch (e) {
      if (!cachedFiles(dir)) throw e;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  files = cachedFiles(dir);
  if (!files) throw new Error(`cache folder ${dir} is incomplete`);
  return { dir, files };
}

/** A tar archive with one directory entry that already exists: an extension bundle that adds nothing. */
function emptyBundle(): Blob {
  const h = Buffer.alloc(512);
  h.write('lib/postgresql/', 0);
  h.write('0000755\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write('00000000000\0', 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('5', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return new Blob([h, Buffer.alloc(1024)]);
}

/** The parts of PGlite's Emscripten module used here. */
interface EmscriptenFS {
  filesystems: { NODEFS: unknown };
  mkdirTree(p: string): void;
  mount(type: unknown, opts: { root: string }, mountpoint: string): void;
  symlink(target: string, p: string): void;
  analyzePath(p: string): { exists: boolean };
  createPreloadedFile(parent: string, name: string, data: Uint8Array, canRead: boolean, canWrite: boolean,
    onload: () => void, onerror: () => void, dontCreateFile: boolean): void;
}
interface PostgresModule {
  FS: EmscriptenFS;
  WASM_PREFIX?: string;
  pg_extensions: Record<string, PromiseLike<Blob | null>>;
}

/**
 * Makes the unpacked files visible to Postgres: NODEFS mount of the cache folder, symlinks from PGlite's paths,
 * and postgis-3.so compiled (Emscripten's wasm preload plugin: dlopen then finds the compiled module; with
 * dontCreateFile the file itself is not copied into memory — the symlink is what Postgres stats before dlopen).
 */
async function install(mod: PostgresModule, dir: string, files: string[]) {
  const FS = mod.FS;
  const prefix = mod.WASM_PREFIX ?? '/pglite';
  const mountpoint = '/mcu-postgis';
  FS.mkdirTree(mountpoint);
  FS.mount(FS.filesystems.NODEFS, { root: dir }, mountpoint);
  for (const f of files) {
    const target = `${prefix}/${f}`;
    FS.mkdirTree(target.slice(0, target.lastIndexOf('/')));
    if (!FS.analyzePath(target).exists) FS.symlink(`${mountpoint}/${f}`, target);
  }
  for (const f of files.filter((f) => f.endsWith('.so'))) {
    const target = `${prefix}/${f}`;
    const bytes = new Uint8Array(await fs.promises.readFile(path.join(dir, f)));
    await new Promise<void>((resolve, reject) =>
      FS.createPreloadedFile(target.slice(0, target.lastIndexOf('/')), target.slice(target.lastIndexOf('/') + 1), bytes, true, false,
        resolve, () => reject(new Error(`could not compile ${f}`)), true));
  }
}

/** The postgis extension for PGlite.create, from the unpacked files (PGlite's full bundle when unpacking fails). */
export const postgisMinimal: Extension = {
  name: 'postgis',
  async setup(pg, emscriptenOpts) {
    // PGlite-postgis's own setup sets the environment (PROJ_DATA, …) and names the bundle.
    const r = await postgis.setup(pg, emscriptenOpts);
    if (!r.bundlePath || process.env.MCU_PGLITE_FULL_POSTGIS) return r;
    let unpacked: { dir: string; files: string[] };
    try {
      unpacked = await unpackedBundle(r.bundlePath instanceof URL ? fileURLToPath(r.bundlePath) : String(r.bundlePath));
    } catch (e) {
      console.error(`[embedded] PostGIS files not unpacked, using the full bundle: ${(e as Error).message}`);
      return r;
    }
    const opts = (r.emscriptenOpts ?? emscriptenOpts) as { preRun?: ((mod: PostgresModule) => void)[] };
    return {
      ...r,
      bundlePath: undefined,
      emscriptenOpts: {
        ...opts,
        preRun: [
          ...(opts.preRun ?? []),
          // PGlite loads extension bundles after the module has started and before Postgres does, awaiting each
          // entry of pg_extensions: this entry installs the files at that moment, then hands PGlite an empty bundle.
          (mod: PostgresModule) => {
            mod.pg_extensions.postgis = {
              then: (resolve, reject) => install(mod, unpacked.dir, unpacked.files).then(() => emptyBundle()).then(resolve, reject),
            };
          },
        ],
      },
    };
  },
};
