// The heat-map overlay in headless Chromium: switch Обращения / ЦУР / Сводная, the district
// choropleth and the time slider; screenshots go to test/artifacts/heatmap-*.png.
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, type BrowserSession } from './helpers/browser.js';


let session: BrowserSession | undefined;
let app: BrowserSession['app'] | undefined;
let context: BrowserContext | undefined;
let origin = '';
let requests: string[] = [];
let failed: string[] = [];
const pageErrors: string[] = [];

async function waitReady(page: Page, heat?: string) {
  await page.waitForFunction(
    (h) => document.body.dataset.error || (document.body.dataset.ready === '1' && (!h || document.body.dataset.heat === h)),
    heat,
    { timeout: 120_000 },
  );
  expect(await page.evaluate(() => document.body.dataset.error ?? null)).toBeNull();
}

function heatFeatures(page: Page) {
  return page.evaluate(() => {
    const map = (window as unknown as { __map: { queryRenderedFeatures(o: object): { properties: Record<string, number> }[] } }).__map;
    const f = map.queryRenderedFeatures({ layers: ['mcu-heat-fill'] });
    return { n: f.length, max: Math.max(0, ...f.map((x) => Number(x.properties.value))) };
  });
}

describe('heat map overlay (browser)', () => {
  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 3000, seed: 11 } });
    ({ app, context, origin, requests, failedResponses: failed } = session);
  }, HOOK_TIMEOUT);

  afterAll(async () => {
    await session?.close();
  }, HOOK_TIMEOUT);

  it('switches the heat map between appeals, ЦУР and merged, shows the choropleth and steps through time', { timeout: 300_000 }, async () => {
    const page = await context!.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${app!.url}/`);
    await waitReady(page);
    expect(await page.locator('#heat-modes button').allTextContents()).toEqual(['Нет', 'Обращения', 'ЦУР', 'Сводная']);

    const seen: Record<string, { n: number; max: number }> = {};
    for (const [mode, label] of [['appeals', 'Обращения'], ['cur', 'ЦУР'], ['merged', 'Сводная']] as const) {
      await page.click(`#heat-modes button[data-mode="${mode}"]`);
      await waitReady(page, mode);
      seen[mode] = await heatFeatures(page);
      expect(seen[mode].n, mode).toBeGreaterThan(0);
      expect(seen[mode].max, mode).toBeGreaterThan(0);
      const legend = await page.locator('#heat-legend').textContent();
      expect(legend).toContain(`Тепловая карта: ${label}`);
      await page.screenshot({ path: path.join(artifacts, `heatmap-${mode}.png`) });
    }
    // The merged map is in ‰ of the whole; appeals are counts: different scales.
    expect(seen.merged.max).not.toBe(seen.appeals.max);

    // The choropleth replaces the hexagons (one picture at a time).
    await page.check('#choropleth');
    await page.waitForFunction(() => document.body.dataset.choropleth === '1' && document.body.dataset.ready === '1', undefined, { timeout: 120_000 });
    expect(await page.getAttribute('#heat-modes button[data-mode="off"]', 'aria-pressed')).toBe('true');
    expect(await page.locator('#heat-legend').textContent()).toContain('на 1 000 жителей');
    expect((await heatFeatures(page)).n).toBe(0);
    await page.screenshot({ path: path.join(artifacts, 'heatmap-choropleth.png') });

    // Time slider: one month per step; moving it rewrites the period and redraws.
    await page.click('#heat-modes button[data-mode="appeals"]');
    await waitReady(page, 'appeals');
    expect(await page.isChecked('#choropleth')).toBe(false);
    await page.check('#t-on');
    await waitReady(page, 'appeals');
    const lastMonth = [await page.inputValue('#f-from'), await page.inputValue('#f-to')];
    expect(lastMonth[0]).toMatch(/^\d{4}-\d\d-01$/);
    await page.locator('#t-slider').fill('20');
    await page.locator('#t-slider').dispatchEvent('change');
    await waitReady(page, 'appeals');
    const earlier = [await page.inputValue('#f-from'), await page.inputValue('#f-to')];
    expect(earlier[0] < lastMonth[0]).toBe(true);
    expect(await page.textContent('#t-label')).toMatch(/20\d\d/);
    await page.selectOption('#t-step', 'week');
    await waitReady(page, 'appeals');
    const week = [await page.inputValue('#f-from'), await page.inputValue('#f-to')];
    expect((Date.parse(week[1]) - Date.parse(week[0])) / 86_400_000).toBe(6);
    await page.screenshot({ path: path.join(artifacts, 'heatmap-slider.png') });
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it('fetched tiles from the app only, and none failed', () => {
    const tiles = requests.filter((u) => u.includes('/tiles/'));
    expect(tiles.length).toBeGreaterThan(0);
    expect(requests.filter((u) => !/^(data|blob|about):/.test(u) && new URL(u).origin !== origin)).toEqual([]);
    expect(failed).toEqual([]);
  });
});
