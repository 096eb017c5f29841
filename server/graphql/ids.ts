import { InputError } from '../errors.js';

/** At most this many ids in one list argument. */
export const MAX_IDS = 1000;

/** GraphQL ID arguments → numeric ids, or an InputError naming the list and position. Shared by every capability. */
export function parseIds(field: string, ids: string[] | undefined): number[] | undefined {
  if (ids == null) return undefined;
  if (ids.length > MAX_IDS) throw new InputError(field, `не более ${MAX_IDS} идентификаторов`);
  return ids.map((v, i) => {
    if (!/^\d{1,9}$/.test(v)) throw new InputError(`${field}[${i}]`, `неверный идентификатор «${String(v).slice(0, 40)}»`);
    return Number(v);
  });
}

/** One GraphQL ID → a positive integer id, or an InputError naming the field. */
export function parseId(field: string, v: string): number {
  const n = Number(v);
  if (!/^\d{1,10}$/.test(String(v)) || !Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1) throw new InputError(field, `неверный идентификатор «${String(v).slice(0, 40)}»`);
  return n;
}
