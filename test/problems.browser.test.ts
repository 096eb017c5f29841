// The territorial problem list on the map page in headless Chromium, on each backend: the demo
// problems ranked beside the map, the card with the score's reasons, history, lifecycle and appeals,
// the list following the map, meeting mode with a URL that restores the same step, and the Excel
// and CSV exports. Screenshots: test/artifacts/problems-*.png.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ExcelJS from 'exceljs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, type BrowserSession } from './helpers/browser.js';
import { backends } from './helpers/backends.js';
import { createAndSignIn } from './helpers/app.js';
import { Role } from '../server/auth/roles.js';
import { SESSION_COOKIE } from '../server/auth/config.js';

interface ApiProblem {
  id: string;
  title: string;
  score: number;
  source: string;
  status: string;
  appealCount: number;
  hull: { type: string; coordinates: unknown };
}

const outerRing = (hull: ApiProblem['hull']): number[][] =>
  hull.type === 'Polygon' ? (hull.coordinates as number[][][])[0] : (hull.coordinates as number[][][][])[0][0];

const XSS_TEXT = '<img src=x id="xss-probe" onerror="window.__xss=1">Лужа у подъезда <b>третий день</b>';

describe.each(backends)('territorial problems on the map (browser, %s)', (backend) => {
  let session: BrowserSession | undefined;
  let context: BrowserContext | undefined;
  let base = '';
  const pageErrors: string[] = [];
  const shot = (name: string) => path.join(artifacts, backend === 'embedded' ? `problems-${name}.png` : `problems-${name}-${backend}.png`);

  async function api<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
    const r = await session!.client!.gql<T>(query, variables);
    expect(r.errors).toBeUndefined();
    return r.data!;
  }

  async function apiProblems(filter: Record<string, unknown> = {}, first = 300): Promise<{ totalCount: number; nodes: ApiProblem[] }> {
    const d = await api<{ problems: { totalCount: number; edges: { node: ApiProblem }[] } }>(
      `query($filter: ProblemFilter, $first: Int) { problems(filter: $filter, first: $first) { totalCount edges { node { id title score source status appealCount hull } } } }`,
      { filter, first },
    );
    return { totalCount: d.problems.totalCount, nodes: d.problems.edges.map((e) => e.node) };
  }

  async function openMap(url = `${base}/`): Promise<Page> {
    const page = await context!.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(url);
    await page.waitForFunction(
      () => document.body.dataset.error || (document.body.dataset.ready === '1' && document.body.dataset.problems === 'ready'),
      undefined,
      { timeout: 150_000 },
    );
    expect(await page.evaluate(() => document.body.dataset.error ?? null)).toBeNull();
    return page;
  }

  const listIds = (page: Page) => page.$$eval('#problem-list li[data-id]', (lis) => lis.map((li) => (li as HTMLElement).dataset.id!));
  const ruNumber = (s: string) => Number(s.replace(/[^\d,.-]/g, '').replace(',', '.'));

  async function waitList(page: Page) {
    await page.waitForFunction(() => document.body.dataset.problems === 'ready', undefined, { timeout: 60_000 });
  }

  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 3000, seed: 11 }, backend });
    context = session.context;
    base = session.app.url;
  }, HOOK_TIMEOUT);

  afterAll(async () => {
    await session?.close();
  }, HOOK_TIMEOUT);

  it('ranks the demo problems beside the map, follows the map and opens a card with reasons, history, actions and appeals', { timeout: 400_000 }, async () => {
    const all = await apiProblems();
    expect(all.totalCount).toBeGreaterThan(3);
    const target = all.nodes.find((p) => p.source === 'APPEALS' && p.appealCount > 0);
    expect(target, 'the demo has a problem made of appeals').toBeDefined();
    // An appeal text with markup must be shown as text, never parsed as HTML.
    const em = session!.app.orm.em.fork();
    await em.execute(
      `UPDATE appeal SET text = ? WHERE id = (SELECT appeal_id FROM problem_appeal WHERE problem_id = ? ORDER BY appeal_id LIMIT 1)`,
      [XSS_TEXT, Number(target!.id)],
    );

    const page = await openMap();
    // The list is the API's ranking, in order, with its size.
    expect(await listIds(page)).toEqual(all.nodes.map((p) => p.id));
    const scores = (await page.locator('#problem-list .pp-score').allTextContents()).map(ruNumber);
    expect(scores.length).toBe(all.nodes.length);
    for (let i = 1; i < scores.length; i++) expect(scores[i]).toBeLessThanOrEqual(scores[i - 1]);
    expect(await page.textContent('#pp-count')).toContain(String(all.totalCount));
    expect(await page.textContent('#problem-list li:first-child .pp-rank')).toBe('1');
    expect(await page.textContent('#problem-list li:first-child .pp-title')).toBe(all.nodes[0].title);
    // The map draws every problem of the list (circles at the centres, numbered discs above them).
    const drawn = await page.evaluate(() => {
      const map = (window as unknown as { __map: { querySourceFeatures(s: string): { properties: { id: string } }[] } }).__map;
      return [...new Set(map.querySourceFeatures('mcu-problems').map((f) => f.properties.id))].sort();
    });
    expect(drawn).toEqual(all.nodes.map((p) => p.id).sort());
    expect(await page.locator('.pp-marker').count()).toBe(all.nodes.length);

    // Hovering a row highlights its problem on the map.
    await page.hover(`#problem-list li[data-id="${all.nodes[1].id}"] button`);
    await page.waitForSelector(`.pp-marker.hover[data-id="${all.nodes[1].id}"]`, { timeout: 10_000 });

    // A district filter narrows the list exactly as the API does.
    const districtOf = await api<{ problem: { district: { id: string } | null } }>(`query($id: ID!) { problem(id: $id) { district { id } } }`, { id: target!.id });
    const districtId = districtOf.problem.district!.id;
    await page.selectOption('#pp-district', districtId);
    await page.waitForFunction((d) => location.hash.includes(`district=${d}`), districtId);
    await waitList(page);
    const inDistrict = await apiProblems({ districtIds: [districtId] });
    expect(await listIds(page)).toEqual(inDistrict.nodes.map((p) => p.id));
    expect(inDistrict.totalCount).toBeLessThan(all.totalCount);
    await page.selectOption('#pp-district', '');
    await waitList(page);
    expect(await listIds(page)).toEqual(all.nodes.map((p) => p.id));

    // Clicking a problem flies to its hull and opens its card.
    const zoomBefore = await page.evaluate(() => (window as unknown as { __map: { getZoom(): number } }).__map.getZoom());
    await page.click(`#problem-list li[data-id="${target!.id}"] button`);
    await page.waitForSelector(`body[data-problem-card="${target!.id}"]`, { timeout: 60_000 });
    await page.waitForFunction(() => {
      const map = (window as unknown as { __map: { isMoving(): boolean; loaded(): boolean } }).__map;
      return !map.isMoving() && map.loaded();
    }, undefined, { timeout: 30_000 });
    const view = await page.evaluate(() => {
      const map = (window as unknown as { __map: { getZoom(): number; getCenter(): { lng: number; lat: number }; queryRenderedFeatures(o: object): unknown[] } }).__map;
      return { zoom: map.getZoom(), center: map.getCenter(), selected: map.queryRenderedFeatures({ layers: ['mcu-problem-selected-fill'] }).length };
    });
    expect(view.zoom).toBeGreaterThan(zoomBefore);
    expect(view.selected).toBeGreaterThan(0);
    const ring = outerRing(target!.hull);
    const lons = ring.map((c) => c[0]), lats = ring.map((c) => c[1]);
    expect(view.center.lng).toBeGreaterThanOrEqual(Math.min(...lons));
    expect(view.center.lng).toBeLessThanOrEqual(Math.max(...lons));
    expect(view.center.lat).toBeGreaterThanOrEqual(Math.min(...lats));
    expect(view.center.lat).toBeLessThanOrEqual(Math.max(...lats));
    expect(page.url()).toContain(`problem=${target!.id}`);
    expect(await page.getAttribute(`#problem-list li[data-id="${target!.id}"]`, 'class')).toContain('selected');

    // The card: the title, the score broken down by factor (the parts add up to the score), history, appeals.
    const card = page.locator('#problem-card');
    expect(await card.locator('.pp-card-title').textContent()).toBe(target!.title);
    const factors = card.locator('.pp-breakdown li');
    expect(await factors.count()).toBe(8);
    expect(await card.locator('.pp-breakdown').textContent()).toContain('Число обращений');
    const points = (await card.locator('.pp-factor-points').allTextContents()).map(ruNumber);
    expect(Math.abs(points.reduce((s, x) => s + x, 0) - target!.score)).toBeLessThan(0.5);
    expect(await card.locator('.pp-table tbody tr').count()).toBeGreaterThan(0);
    expect(await card.locator('.pp-appeal').count()).toBe(Math.min(50, target!.appealCount));
    // Markup in an appeal's text is shown literally.
    expect(await card.locator('.pp-appeal-text').allTextContents()).toContain(XSS_TEXT);
    expect(await page.evaluate(() => ({ probe: !!document.getElementById('xss-probe'), fired: (window as unknown as { __xss?: number }).__xss ?? null }))).toEqual({ probe: false, fired: null });
    // The list beside the card, scrolled to the reasons; then the card's lower part (actions, history, appeals).
    await card.locator('.pp-breakdown').evaluate((n) => n.closest('.pp-section')!.scrollIntoView({ block: 'start' }));
    await page.waitForTimeout(500);
    await page.screenshot({ path: shot('list-card') });
    await card.locator('.pp-appeals').evaluate((n) => n.closest('.pp-section')!.scrollIntoView({ block: 'start' }));
    await page.screenshot({ path: shot('card-appeals') });
    await card.locator('.pp-actions').evaluate((n) => n.closest('.pp-section')!.scrollIntoView({ block: 'start' }));

    // Lifecycle: confirm, then reject — which needs a reason.
    expect(await card.locator('.pp-status-buttons button').evaluateAll((bs) => bs.map((b) => (b as HTMLElement).dataset.status))).toEqual(['CONFIRMED', 'REJECTED']);
    await card.locator('button[data-status="CONFIRMED"]').click();
    await page.waitForFunction(() => document.querySelector('#problem-card .pp-card-meta .chip')?.textContent === 'подтверждена', undefined, { timeout: 30_000 });
    expect(await card.locator('.pp-status-buttons button').evaluateAll((bs) => bs.map((b) => (b as HTMLElement).dataset.status))).toEqual(['IN_PROGRESS', 'PLANNED', 'RESOLVED', 'REJECTED']);
    expect(await page.textContent(`#problem-list li[data-id="${target!.id}"] .chip`)).toBe('подтверждена');
    await card.locator('button[data-status="REJECTED"]').click();
    await card.locator('button[data-action="confirm-reject"]').click();
    expect(await card.locator('.pp-action-msg').textContent()).toBe('Укажите причину отклонения.');
    const still = await api<{ problem: { status: string } }>(`query($id: ID!) { problem(id: $id) { status } }`, { id: target!.id });
    expect(still.problem.status).toBe('CONFIRMED');
    await card.locator('.pp-reason').fill('Дубль проблемы по ул. Ленина');
    await card.locator('button[data-action="confirm-reject"]').click();
    await page.waitForFunction(() => document.querySelector('#problem-card .pp-card-meta .chip')?.textContent === 'отклонена', undefined, { timeout: 30_000 });
    const after = await api<{ problem: { status: string; events: { kind: string; toValue: string | null; comment: string | null; actor: string }[] } }>(
      `query($id: ID!) { problem(id: $id) { status events { kind toValue comment actor } } }`, { id: target!.id });
    expect(after.problem.status).toBe('REJECTED');
    const rejected = after.problem.events.find((e) => e.kind === 'STATUS' && e.toValue === 'REJECTED');
    expect(rejected?.comment).toBe('Дубль проблемы по ул. Ленина');
    expect(rejected?.actor).toBe(session!.client!.login);
    expect(await card.locator('.pp-events').textContent()).toContain('Дубль проблемы по ул. Ленина');
    // Back to work for the rest of the tests.
    await card.locator('button[data-status="DETECTED"]').click();
    await page.waitForFunction(() => document.querySelector('#problem-card .pp-card-meta .chip')?.textContent === 'выявлена', undefined, { timeout: 30_000 });

    // «только в границах карты»: the list is what the API returns for the map's rectangle.
    await page.check('#pp-inview');
    await page.waitForFunction(() => location.hash.includes('inview=1'));
    await waitList(page);
    const bbox = await page.evaluate(() => {
      const b = (window as unknown as { __map: { getBounds(): { getWest(): number; getSouth(): number; getEast(): number; getNorth(): number } } }).__map.getBounds();
      return { minLon: b.getWest(), minLat: b.getSouth(), maxLon: b.getEast(), maxLat: b.getNorth() };
    });
    const inView = await apiProblems({ bbox });
    expect(inView.totalCount).toBeLessThan(all.totalCount);
    expect(await listIds(page)).toEqual(inView.nodes.map((p) => p.id));
    expect(inView.nodes.map((p) => p.id)).toContain(target!.id);
    await page.uncheck('#pp-inview');
    await waitList(page);
    await page.close();
  });

  it('meeting mode steps through the top problems over the merged heat map, and its URL restores the same step', { timeout: 400_000 }, async () => {
    const top = (await apiProblems({}, 10)).nodes;
    const n = top.length;
    expect(n).toBeGreaterThanOrEqual(3);
    const page = await openMap();
    await page.click('#pp-meeting');
    await page.waitForSelector('body[data-meeting-ready="1"]', { timeout: 60_000 });
    await page.waitForFunction(() => document.body.dataset.heat === 'merged' && document.body.dataset.ready === '1', undefined, { timeout: 120_000 });
    expect(await page.textContent('#meeting-counter')).toBe(`Проблема 1 из ${n}`);
    expect(await page.textContent('#meeting-title')).toBe(top[0].title);
    expect(await page.isVisible('#problems-panel')).toBe(false);
    expect(await page.isVisible('#panel')).toBe(false);

    for (const step of [2, 3]) {
      await page.keyboard.press('ArrowRight');
      await page.waitForSelector(`body[data-meeting-step="${step}"][data-meeting-ready="1"]`, { timeout: 60_000 });
    }
    await page.waitForFunction(() => document.body.dataset.ready === '1', undefined, { timeout: 60_000 });
    expect(await page.textContent('#meeting-counter')).toBe(`Проблема 3 из ${n}`);
    expect(await page.textContent('#meeting-title')).toBe(top[2].title);
    expect(await page.locator('#meeting-reasons li').count()).toBeGreaterThan(0);
    expect(await page.evaluate(() => document.body.dataset.meetingProblem)).toBe(top[2].id);
    // Only the meeting's problems are drawn, over the merged heat map.
    await page.waitForTimeout(800);
    const rendered = await page.evaluate(() => {
      const map = (window as unknown as { __map: { queryRenderedFeatures(o: object): { properties: { id: string } }[] } }).__map;
      return {
        heat: map.queryRenderedFeatures({ layers: ['mcu-heat-fill'] }).length,
        problems: [...new Set(map.queryRenderedFeatures({ layers: ['mcu-problem-circles'] }).map((f) => String(f.properties.id)))],
      };
    });
    expect(rendered.heat).toBeGreaterThan(0);
    expect(rendered.problems).toContain(top[2].id);
    for (const id of rendered.problems) expect(top.map((p) => p.id)).toContain(id);
    const url = page.url();
    expect(url).toMatch(/meeting=1/);
    expect(url).toMatch(/step=3/);
    const savedView = await page.evaluate(() => {
      const map = (window as unknown as { __map: { getZoom(): number; getCenter(): { lng: number; lat: number } } }).__map;
      return { zoom: map.getZoom(), ...map.getCenter() };
    });
    await page.screenshot({ path: shot('meeting') });
    await page.close();

    // The same URL in a new tab: the same problem, the same step, the same view.
    const again = await openMap(url);
    await again.waitForSelector('body[data-meeting-ready="1"]', { timeout: 60_000 });
    expect(await again.evaluate(() => document.body.dataset.meetingStep)).toBe('3');
    expect(await again.evaluate(() => document.body.dataset.meetingProblem)).toBe(top[2].id);
    expect(await again.textContent('#meeting-counter')).toBe(`Проблема 3 из ${n}`);
    expect(await again.textContent('#meeting-title')).toBe(top[2].title);
    const restoredView = await again.evaluate(() => {
      const map = (window as unknown as { __map: { getZoom(): number; getCenter(): { lng: number; lat: number } } }).__map;
      return { zoom: map.getZoom(), ...map.getCenter() };
    });
    expect(restoredView.zoom).toBeCloseTo(savedView.zoom, 1);
    expect(restoredView.lng).toBeCloseTo(savedView.lng, 4);
    expect(restoredView.lat).toBeCloseTo(savedView.lat, 4);
    await again.waitForFunction(() => document.body.dataset.heat === 'merged' && document.body.dataset.ready === '1', undefined, { timeout: 120_000 });
    await again.screenshot({ path: shot('meeting-restored') });

    // Back one step with the on-screen button, then leave: the list returns with that problem's card.
    await again.click('#meeting-prev');
    await again.waitForSelector('body[data-meeting-step="2"][data-meeting-ready="1"]', { timeout: 60_000 });
    expect(await again.textContent('#meeting-title')).toBe(top[1].title);
    await again.keyboard.press('Escape');
    await again.waitForSelector(`body[data-problem-card="${top[1].id}"]`, { timeout: 60_000 });
    expect(await again.evaluate(() => document.body.classList.contains('meeting'))).toBe(false);
    expect(await again.isVisible('#problems-panel')).toBe(true);
    expect(again.url()).not.toMatch(/meeting=1/);
    await again.waitForFunction(() => document.body.dataset.heat === 'off', undefined, { timeout: 60_000 });
    await again.close();
  });

  it('exports the list to Excel and CSV with the current filter', { timeout: 300_000 }, async () => {
    const all = await apiProblems({}, 500);
    const page = await openMap();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-problems-export-'));
    try {
      const [xlsx] = await Promise.all([page.waitForEvent('download'), page.click('#pp-export-xlsx')]);
      expect(xlsx.suggestedFilename()).toMatch(/\.xlsx$/);
      const file = path.join(dir, 'problems.xlsx');
      await xlsx.saveAs(file);
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.readFile(file);
      const ws = wb.getWorksheet('Перечень проблем')!;
      expect(ws).toBeDefined();
      const header = (ws.getRow(1).values as unknown[]).slice(1).map(String);
      expect(header).toContain('Проблема');
      expect(header).toContain('Балл (0–100)');
      const titleCol = header.indexOf('Проблема') + 1;
      const titles: string[] = [];
      ws.eachRow((row, i) => {
        if (i > 1) titles.push(String(row.getCell(titleCol).value));
      });
      expect(titles).toEqual(all.nodes.map((p) => p.title));

      // With a filter: the link carries it, and the file has only those rows.
      await page.selectOption('#pp-source', 'CUR');
      await waitList(page);
      const cur = await apiProblems({ sources: ['CUR'] }, 500);
      expect(cur.totalCount).toBeGreaterThan(0);
      expect(cur.totalCount).toBeLessThan(all.totalCount);
      expect(await listIds(page)).toEqual(cur.nodes.map((p) => p.id));
      expect(await page.getAttribute('#pp-export-csv', 'href')).toContain('sources=CUR');
      const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#pp-export-csv')]);
      const csvFile = path.join(dir, 'problems.csv');
      await csv.saveAs(csvFile);
      const text = fs.readFileSync(csvFile, 'utf8');
      expect(text.charCodeAt(0)).toBe(0xfeff);
      const lines = text.slice(1).split('\r\n').filter(Boolean);
      expect(lines[0].split(';')).toContain('Проблема');
      expect(lines.length - 1).toBe(cur.totalCount);
      const [xlsx2] = await Promise.all([page.waitForEvent('download'), page.click('#pp-export-xlsx')]);
      const file2 = path.join(dir, 'cur.xlsx');
      await xlsx2.saveAs(file2);
      const wb2 = new ExcelJS.Workbook();
      await wb2.xlsx.readFile(file2);
      expect(wb2.getWorksheet('Перечень проблем')!.rowCount - 1).toBe(cur.totalCount);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      await page.close();
    }
  });

  it('a link restores the normal view (filters, order, selected problem); an analyst gets a read-only card', { timeout: 300_000 }, async () => {
    const discussion = await apiProblems({ sources: ['DISCUSSION'] });
    expect(discussion.totalCount).toBeGreaterThan(1);
    const analyst = await createAndSignIn(session!.app, { login: 'browser-analyst', role: Role.ANALYST });
    const ctx = await session!.browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'ru-RU', timezoneId: 'Asia/Barnaul' });
    const seen: string[] = [];
    ctx.on('request', (r) => seen.push(r.url()));
    try {
      await ctx.addCookies([{ name: SESSION_COOKIE, value: analyst.token!, url: base, httpOnly: true, sameSite: 'Strict' }]);
      const second = discussion.nodes[1];
      const page = await ctx.newPage();
      page.on('pageerror', (e) => pageErrors.push(e.message));
      const [lon, lat] = outerRing(second.hull)[0];
      await page.goto(`${base}/#problem=${second.id}&source=DISCUSSION&z=14.00&lon=${lon}&lat=${lat}`);
      await page.waitForSelector(`body[data-problem-card="${second.id}"]`, { timeout: 150_000 });
      await waitList(page);
      expect(await page.inputValue('#pp-source')).toBe('DISCUSSION');
      expect(await listIds(page)).toEqual(discussion.nodes.map((p) => p.id));
      expect(await page.getAttribute(`#problem-list li[data-id="${second.id}"]`, 'class')).toContain('selected');
      expect(await page.textContent('#problem-card .pp-card-title')).toBe(second.title);
      // The view of the link, not a flight to the hull.
      expect(await page.evaluate(() => (window as unknown as { __map: { getZoom(): number } }).__map.getZoom())).toBeCloseTo(14, 1);
      // Read-only: reasons and appeals, no lifecycle buttons.
      expect(await page.locator('#problem-card .pp-breakdown li').count()).toBe(8);
      expect(await page.locator('#problem-card .pp-actions').count()).toBe(0);
      expect(await page.getAttribute('#pp-export-xlsx', 'href')).toBe('/exports/problems.xlsx?sources=DISCUSSION');
      await page.close();
    } finally {
      await ctx.close();
    }
    expect(seen.filter((u) => !/^(data|blob|about):/.test(u) && new URL(u).origin !== new URL(base).origin)).toEqual([]);
  });

  it('made no request outside the app, none failed, and no page error', () => {
    expect(session!.offsite()).toEqual([]);
    expect(session!.failedResponses).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
