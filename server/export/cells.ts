/**
 * Cells of exported tables (CSV, XLSX) that spreadsheets can not turn into formulas (CSV/formula injection, CWE-1236).
 * A text cell that begins with = + - @ tab or carriage return is opened by Excel or LibreOffice as a formula
 * (`=HYPERLINK(…)` in a district's name would become a live link); it is written with a leading apostrophe,
 * the convention spreadsheets show as text. Numbers, dates and booleans are left as they are (a negative number
 * is a number, not a formula). Shared by every export (below the capabilities).
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function neutraliseCell<T>(value: T): T | string {
  if (typeof value !== 'string') return value;
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/** The same for every value of a row object (a new object; non-string values unchanged). */
export function neutraliseRow<T extends Record<string, unknown>>(row: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k] = neutraliseCell(v);
  return out as T;
}

/**
 * An XLSX cell value that is never a formula: ExcelJS writes an object `{ formula }` / `{ sharedFormula }` as a
 * formula, so such objects become their text; strings are neutralised as for CSV (Excel re-evaluates a pasted
 * or edited cell that starts with =).
 */
export function xlsxCell(value: unknown): unknown {
  if (value && typeof value === 'object' && !(value instanceof Date) && ('formula' in value || 'sharedFormula' in value)) return neutraliseCell(JSON.stringify(value));
  return neutraliseCell(value);
}
