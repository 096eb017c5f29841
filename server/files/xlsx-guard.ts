import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import yauzl from 'yauzl';
import { InputError } from '../errors.js';
import { intVar } from '../config.js';

/**
 * An XLSX workbook is a zip of XML parts; a 3 MB file may inflate to gigabytes (shared strings repeated),
 * and a reader that materialises them (ExcelJS keeps every shared string) runs the process out of memory.
 * Before a workbook is read, its parts are inflated as a stream and counted: the bytes actually inflated
 * (the sizes in the zip headers are not trusted), the number of parts and the length of every cell (a shared
 * string, an inline string or a value); over a limit the file is refused with a clear message and nothing is
 * materialised.
 */
export interface XlsxLimits {
  /** XLSX_MAX_UNCOMPRESSED_MB: all parts together, inflated. */
  maxUncompressedBytes: number;
  /** XLSX_MAX_CELL_CHARS: one cell (Excel's own limit is 32 767 characters). */
  maxCellChars: number;
  /** Parts in the zip. */
  maxEntries: number;
  /** What sets maxUncompressedBytes, named in the refusal (default XLSX_MAX_UNCOMPRESSED_MB). */
  sizeSetting?: string;
}

export function xlsxLimits(env: NodeJS.ProcessEnv = process.env): XlsxLimits {
  return {
    maxUncompressedBytes: intVar(env, 'XLSX_MAX_UNCOMPRESSED_MB', 200, 1, 10_240) * 1024 * 1024,
    maxCellChars: intVar(env, 'XLSX_MAX_CELL_CHARS', 32_767, 100, 10_000_000),
    maxEntries: 10_000,
  };
}

const mb = (bytes: number) => `${Math.round(bytes / 1024 / 1024)} МБ`;

/**
 * Counts characters of the text inside <si>…</si> (shared strings) and <c>…</c> (cells) of an XML part as it
 * streams, without keeping it: an entity (&amp;) counts as one character, UTF-8 continuation bytes as none.
 */
class CellScanner {
  private inTag = false;
  private tag = '';
  private inEntity = false;
  private depth = 0;
  private chars = 0;
  private last = 0;
  constructor(private readonly part: string, private readonly max: number) {}
  write(b: Buffer) {
    for (let i = 0; i < b.length; i++) {
      const c = b[i];
      if (this.inTag) {
        if (c === 0x3e /* > */) {
          this.inTag = false;
          this.endTag();
        } else if (this.tag.length < 4) this.tag += String.fromCharCode(c);
        this.last = c;
        continue;
      }
      if (c === 0x3c /* < */) {
        this.inTag = true;
        this.tag = '';
        this.inEntity = false;
        continue;
      }
      if (this.depth === 0) continue;
      if (this.inEntity) {
        if (c === 0x3b /* ; */) this.inEntity = false;
        continue;
      }
      if (c === 0x26 /* & */) this.inEntity = true;
      if ((c & 0xc0) === 0x80) continue;
      if (++this.chars > this.max) {
        throw new InputError('file', `ячейка длиннее ${this.max} символов (${this.part}, XLSX_MAX_CELL_CHARS): файл не принят`);
      }
    }
  }
  private endTag() {
    // The first characters of the tag: <si>, <si …>, <c r="A1">, </si>, </c>; a self-closing <c …/> holds no text.
    const t = this.tag;
    const is = (x: string, name: string) => x === name || (x.length > name.length && x.startsWith(name) && /[\s/]/.test(x[name.length]));
    if (t.startsWith('/')) {
      if (is(t.slice(1), 'si') || is(t.slice(1), 'c')) {
        if (this.depth > 0) this.depth--;
        this.chars = 0;
      }
    } else if ((is(t, 'si') || is(t, 'c')) && this.last !== 0x2f /* / */) {
      this.depth++;
      this.chars = 0;
    }
  }
}

function openZip(source: string | Buffer): Promise<yauzl.ZipFile> {
  const done = (resolve: (z: yauzl.ZipFile) => void, reject: (e: Error) => void) => (e: Error | null, z?: yauzl.ZipFile) => (e ? reject(e) : resolve(z!));
  return new Promise((resolve, reject) => (typeof source === 'string'
    ? yauzl.open(source, { lazyEntries: true, validateEntrySizes: true, autoClose: true }, done(resolve, reject))
    : yauzl.fromBuffer(source, { lazyEntries: true, validateEntrySizes: true }, done(resolve, reject))));
}

/**
 * Inflates every part of the workbook (a file, or the bytes of an upload read into memory) as a stream, counting;
 * throws InputError over a limit. A part that inflates to more than its header says is refused as damaged.
 */
export async function checkXlsx(file: string | Buffer, limits: XlsxLimits = xlsxLimits()): Promise<void> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(file);
  } catch (e) {
    throw new InputError('file', `файл не является книгой XLSX (zip): ${(e as Error).message}`);
  }
  let total = 0;
  let entries = 0;
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('error', reject);
      zip.on('end', () => resolve());
      zip.on('entry', (entry: yauzl.Entry) => {
        if (++entries > limits.maxEntries) return reject(new InputError('file', `в книге XLSX более ${limits.maxEntries} частей: файл не принят`));
        if (/\/$/.test(entry.fileName)) return zip.readEntry();
        const name = entry.fileName;
        const scan = /^xl\/(sharedStrings\.xml|worksheets\/[^/]+\.xml)$/i.test(name) ? new CellScanner(name, limits.maxCellChars) : undefined;
        zip.openReadStream(entry, (err, stream) => {
          if (err) return reject(new InputError('file', `часть ${name} книги XLSX не читается: ${err.message}`));
          stream!.on('data', (chunk: Buffer) => {
            total += chunk.length;
            try {
              if (total > limits.maxUncompressedBytes) {
                throw new InputError('file', `книга XLSX в распакованном виде больше ${mb(limits.maxUncompressedBytes)} (${limits.sizeSetting ?? 'XLSX_MAX_UNCOMPRESSED_MB'}): файл не принят — разделите его на части или сохраните как CSV`);
              }
              scan?.write(chunk);
            } catch (e) {
              stream!.destroy();
              reject(e);
            }
          });
          stream!.on('error', (e) => reject(e instanceof InputError ? e : new InputError('file', `часть ${name} книги XLSX повреждена: ${e.message}`)));
          stream!.on('end', () => zip.readEntry());
        });
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

/**
 * Writes an uploaded workbook to a temporary file (a zip needs random access), checks it and returns its path
 * with a function that removes it.
 */
export async function spoolXlsx(input: Readable, limits: XlsxLimits = xlsxLimits()): Promise<{ file: string; remove(): void }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-xlsx-'));
  const file = path.join(dir, 'book.xlsx');
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    await pipeline(input, fs.createWriteStream(file));
    await checkXlsx(file, limits);
  } catch (e) {
    remove();
    throw e;
  }
  return { file, remove };
}
