// The bundled production calendar (db/reference/calendar/ru-YYYY.xml) is stored once, with each file's SHA-256;
// a start that finds every year stored with the same hash reads the table and nothing else.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { bundledCalendarFiles } from '../server/worktime/bundled.js';
import { ensureBundledCalendar } from '../server/worktime/store.js';

const sha = (y: number) => createHash('sha256').update(fs.readFileSync(`db/reference/calendar/ru-${y}.xml`)).digest('hex');

describe.each(backends)('bundled production calendar on %s', (backend) => {
  let app: TestApp;
  const years = () => app.sql<{ year: number; imported_by: string; content_sha256: string | null; imported_at: string; days: number }>(
    `SELECT y.year, y.imported_by, y.content_sha256, y.imported_at::text, (SELECT count(*)::int FROM production_calendar_day d WHERE d.year = y.year) AS days
       FROM production_calendar_year y ORDER BY y.year`);
  /** ensureBundledCalendar with the statements it sent. */
  const ensure = async () => {
    const before = app.statements.length;
    const n = await ensureBundledCalendar(app.orm.em.fork());
    return { n, statements: app.statements.slice(before) };
  };

  beforeAll(async () => {
    app = await startTestApp(backend, 0);
  });
  afterAll(async () => {
    await app?.close();
  });

  it('stores every bundled year at the first start, with its file\'s hash', async () => {
    const files = bundledCalendarFiles();
    expect(files.map((f) => f.year)).toEqual([2024, 2025, 2026]);
    expect(files.map((f) => f.sha256)).toEqual(files.map((f) => sha(f.year)));
    const rows = await years();
    expect(rows.map((r) => [r.year, r.imported_by, r.content_sha256])).toEqual(files.map((f) => [f.year, 'system:reference', f.sha256]));
    for (const [i, r] of rows.entries()) expect(r.days, String(r.year)).toBe(files[i].parse().days.length);
  });

  it('does nothing at a later start: one read, no write', async () => {
    const before = await years();
    const { n, statements } = await ensure();
    expect(n).toBe(0);
    expect(statements.length).toBe(1);
    expect(statements[0]).toMatch(/SELECT year, imported_by, content_sha256 FROM production_calendar_year/);
    expect(await years()).toEqual(before);
  });

  it('reloads a bundled year whose file changed (or that was stored without a hash), and a missing year', async () => {
    await app.sql(`UPDATE production_calendar_year SET content_sha256 = 'changed' WHERE year = 2025`);
    await app.sql(`UPDATE production_calendar_year SET content_sha256 = NULL WHERE year = 2026`);
    await app.sql(`DELETE FROM production_calendar_year WHERE year = 2024`);
    expect((await ensure()).n).toBe(3);
    const rows = await years();
    expect(rows.map((r) => [r.year, r.content_sha256])).toEqual([[2024, sha(2024)], [2025, sha(2025)], [2026, sha(2026)]]);
    expect(rows.map((r) => r.days)).toEqual(bundledCalendarFiles().map((f) => f.parse().days.length));
    expect((await ensure()).n).toBe(0);
  });

  it('never overwrites a year imported by a person', async () => {
    await app.sql(`UPDATE production_calendar_year SET imported_by = 'curator', content_sha256 = NULL WHERE year = 2025`);
    await app.sql(`DELETE FROM production_calendar_day WHERE year = 2025 AND kind = 'SHORT'`);
    const before = await years();
    const { n, statements } = await ensure();
    expect(n).toBe(0);
    expect(statements.length).toBe(1);
    expect(await years()).toEqual(before);
  });
});
