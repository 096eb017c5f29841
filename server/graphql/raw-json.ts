import crypto from 'node:crypto';

/**
 * A JSON value that is already serialised (the GeoJSON of a heat-map cell, built from cached
 * coordinate strings): a response carrying hundreds of them would otherwise have every
 * coordinate turned into a number and back into text by JSON.stringify.
 *
 * It is an object (so JSON-object scalars accept it). stringifyResponse() (the Apollo
 * stringifyResult) splices its text into the response as it is; any other JSON.stringify
 * of it (tests, logs) gets the parsed value through toJSON(), so it reads the same either way.
 */
export class RawJson {
  constructor(readonly json: string) {}

  toJSON(): unknown {
    const sink = collecting;
    if (!sink) return JSON.parse(this.json);
    sink.push(this.json);
    // JSON.stringify writes U+0000 as the 6 characters \u0000: with the process's random nonce
    // no string sent by a client can look like a placeholder.
    return `\u0000${NONCE}${sink.length - 1}`;
  }
}

const NONCE = crypto.randomBytes(12).toString('hex');
const MARK = `"\\u0000${NONCE}`;
/** Texts of the RawJson values met by the JSON.stringify running now (it is synchronous). */
let collecting: string[] | undefined;

/** JSON.stringify with RawJson values written out verbatim. */
export function stringifyResponse(value: unknown): string {
  const raws: string[] = [];
  collecting = raws;
  let s: string;
  try {
    s = JSON.stringify(value);
  } finally {
    collecting = undefined;
  }
  if (!raws.length) return s;
  const pieces = s.split(MARK);
  let out = pieces[0];
  for (let i = 1; i < pieces.length; i++) {
    const p = pieces[i];
    const end = p.indexOf('"');
    out += raws[Number(p.slice(0, end))] + p.slice(end + 1);
  }
  return out;
}
