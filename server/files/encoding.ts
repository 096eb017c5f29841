import { Readable } from 'node:stream';
import iconv from 'iconv-lite';
import { InputError } from '../errors.js';

/**
 * The text encoding of an uploaded file: what Russian Excel writes by default is Windows-1251, not UTF-8.
 * Detection on the head of the file: a BOM (UTF-8; UTF-16 is refused), else valid UTF-8, else Windows-1251
 * when the bytes look like Cyrillic in it, else a clear refusal. A file that starts as UTF-8 and breaks later
 * is refused where it breaks (never stored with «�»).
 */
export type TextEncoding = 'utf-8' | 'windows-1251';

const HEAD_BYTES = 65_536;
const STREAM_HEAD_BYTES = 8192;

function validUtf8(head: Buffer, complete: boolean): boolean {
  try {
    // A multi-byte sequence cut at the end of the head is not an error unless the file ends there.
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: !complete });
    return true;
  } catch {
    return false;
  }
}

/** Windows-1251 Cyrillic: most bytes ≥ 0x80 are letters (0xC0–0xFF, Ё 0xA8/0xB8), and there are no C1 controls. */
function looksCp1251(head: Buffer): boolean {
  let high = 0;
  let letters = 0;
  for (const b of head) {
    if (b < 0x80) continue;
    high++;
    if (b >= 0xc0 || b === 0xa8 || b === 0xb8) letters++;
    if (b === 0x98) return false; // undefined in Windows-1251
  }
  return high > 0 && letters / high >= 0.8;
}

export function detectEncoding(head: Buffer, complete: boolean): TextEncoding {
  if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return 'utf-8';
  if ((head[0] === 0xff && head[1] === 0xfe) || (head[0] === 0xfe && head[1] === 0xff)) {
    throw new InputError('file', 'файл в кодировке UTF-16: сохраните его как CSV в UTF-8 или Windows-1251');
  }
  if (validUtf8(head, complete)) return 'utf-8';
  if (looksCp1251(head)) return 'windows-1251';
  throw new InputError('file', 'кодировка файла не распознана: ожидается UTF-8 или Windows-1251 (сохраните файл как «CSV UTF-8»)');
}

/** Decodes a whole text file (small files: address register, heat-map layers) with the detected encoding. */
export function decodeText(buf: Buffer): { text: string; encoding: TextEncoding } {
  const encoding = detectEncoding(buf.subarray(0, HEAD_BYTES), buf.length <= HEAD_BYTES);
  if (encoding === 'windows-1251') return { text: iconv.decode(buf, 'win1251'), encoding };
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(buf).replace(/^\uFEFF/, ''), encoding };
  } catch {
    throw new InputError('file', 'файл начинается в кодировке UTF-8, но дальше содержит байты не в UTF-8: проверьте кодировку файла');
  }
}

/**
 * A byte stream → a stream of UTF-8 text chunks (strings), the encoding detected on its head. UTF-8 is validated
 * as it streams: the first invalid byte fails the stream with a clear message naming the line.
 */
export async function decodeStream(input: Readable): Promise<{ encoding: TextEncoding; text: Readable }> {
  const it = input[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const head: Buffer[] = [];
  let size = 0;
  let done = false;
  // The first 8 KB decide (a stream is not held back longer than that before its rows start to flow).
  while (size < STREAM_HEAD_BYTES) {
    const next = await it.next();
    if (next.done) { done = true; break; }
    const b = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    head.push(b);
    size += b.length;
  }
  const headBuf = Buffer.concat(head);
  const encoding = detectEncoding(headBuf, done);
  async function* bytes() {
    yield headBuf;
    if (done) return;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    }
  }
  async function* text() {
    if (encoding === 'windows-1251') {
      const dec = iconv.getDecoder('win1251');
      for await (const b of bytes()) yield dec.write(b);
      const end = dec.end();
      if (end) yield end;
      return;
    }
    const dec = new TextDecoder('utf-8', { fatal: true });
    let line = 1;
    let first = true;
    for await (const b of bytes()) {
      let s: string;
      try {
        s = dec.decode(b, { stream: true });
      } catch {
        throw new InputError('file', `строка ${line}: байты не в кодировке UTF-8 — файл в смешанной кодировке; сохраните его как «CSV UTF-8»`);
      }
      if (first) {
        s = s.replace(/^\uFEFF/, '');
        first = false;
      }
      for (let i = s.indexOf('\n'); i >= 0; i = s.indexOf('\n', i + 1)) line++;
      if (s) yield s;
    }
    try {
      const s = dec.decode();
      if (s) yield s;
    } catch {
      throw new InputError('file', `строка ${line}: файл обрывается посреди символа UTF-8`);
    }
  }
  return { encoding, text: Readable.from(text(), { objectMode: false }) };
}
