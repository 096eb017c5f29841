// The regional view in headless Chromium: a regional analyst sees the municipalities of Altai Krai on the map and in
// the comparison table, switches the measure, and drills down into Aleisk's own map (read-only); a municipal curator
// gets a clear refusal. Nothing is fetched off the origin. Screenshots: test/artifacts/region-*.png.
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, type BrowserSession } from './helpers/browser.js';
import { backends } from './helpers/backends.js';
import { createAndSignIn } from './helpers/app.js';
import { Role } from '../server/auth/roles.js';
import { SESSION_COOKIE } from '../server/auth/config.js';

describe.each(backends)('regional view (browser, %s)', (backend) => {
  const shot = (name: string) => path.join(artifacts, backend === 'embedded' ? `region-${name}.png` : `region-${name}-${backend}.png`);
  let session: BrowserSession | undefined;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 1500, seed: 7 }, viewport: { width: 1400, height: 1000 }, backend, municipalities: ['aleisk'], signIn: Role.REGION_ANALYST });
    page = await session.context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
  }, HOOK_TIMEOUT);
  afterAll(async () => { await session?.close(); });

  it('shows the municipalities of the region on the map and in the comparison table', async () => {
    await page.goto(`${session!.origin}/region.html`);
    await page.waitForFunction(() => (window as any).__regionReady, undefined, { timeout: 60_000 });
    expect(await page.locator('#error').isHidden()).toBe(true);
    expect(await page.locator('#region-name').textContent()).toBe('Алтайский край');
    const names = await page.locator('#region-rows th').allTextContents();
    expect(names).toEqual(['город Алейск', 'город Рубцовск']);
    // Appeals per 1 000 residents from the server's figures, in the table.
    const overview = await session!.client!.gql('{ regionOverview { municipalities { code appeals appealsPer1000 } } }');
    const ale = overview.data.regionOverview.municipalities.find((m: any) => m.code === 'aleisk');
    expect(ale.appeals).toBeGreaterThan(0);
    const cells = await page.locator('#region-rows tr[data-code="aleisk"] td').allTextContents();
    expect(cells[1].replace(/\s/g, '')).toBe(String(ale.appeals));
    expect(Number(cells[2].replace(',', '.'))).toBeCloseTo(ale.appealsPer1000, 0);
    await page.waitForFunction(() => {
      const m = (window as any).__regionMap;
      const count = (id: string) => (m?.getSource(id)?.serialize().data?.features ?? []).length;
      return m && m.loaded() && count('mun-points') === 2 && count('mun-areas') === 2;
    }, undefined, { timeout: 30_000 });
    expect(await page.locator('.region-marker').count()).toBe(2);
    await page.waitForTimeout(500);
    await page.screenshot({ path: shot('overview'), fullPage: true });
    await page.selectOption('#r-measure', 'problems');
    await page.waitForFunction(() => /проблем/.test(document.querySelector('.region-marker')?.textContent ?? ''));
    await page.screenshot({ path: shot('problems'), fullPage: true });
  });

  it('drills down into a municipality\'s own map, read-only, and back', async () => {
    await page.locator('#region-rows tr[data-code="aleisk"] button').click();
    await page.waitForURL(`${session!.origin}/`);
    await page.waitForFunction(() => document.getElementById('municipality-name')?.textContent === 'город Алейск', undefined, { timeout: 60_000 });
    await page.waitForFunction(() => {
      const m = (window as any).__map;
      return m && m.getSource('districts') && m.querySourceFeatures('districts').length > 0;
    }, undefined, { timeout: 60_000 }).catch(() => undefined);
    expect(await page.locator('#link-region').isVisible()).toBe(true);
    await page.waitForTimeout(1500);
    await page.screenshot({ path: shot('aleisk-map'), fullPage: false });
    // Every request of the drilled-down page answers Aleisk's data: the district list is Aleisk's.
    const districts = await session!.client!.gql('{ districts { name } }');
    expect(districts.data.districts.map((d: any) => d.name)).toContain('Привокзальный');
    await page.locator('#link-region').click();
    await page.waitForFunction(() => (window as any).__regionReady, undefined, { timeout: 60_000 });
    expect(await page.locator('#r-current').textContent()).toBe('Открыт: город Алейск');
    expect(session!.offsite()).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('refuses the regional view to a municipal curator, clearly', async () => {
    const curator = await createAndSignIn(session!.app, { login: 'browser-region-curator-m', role: Role.CURATOR });
    const ctx = await session!.browser.newContext({ viewport: { width: 1200, height: 700 }, locale: 'ru-RU' });
    await ctx.addCookies([{ name: SESSION_COOKIE, value: curator.token!, url: session!.origin, httpOnly: true, sameSite: 'Strict' }]);
    const p = await ctx.newPage();
    await p.goto(`${session!.origin}/region.html`);
    await p.waitForFunction(() => (window as any).__regionReady, undefined, { timeout: 60_000 });
    expect(await p.locator('#error').textContent()).toContain('доступен ролям региона');
    expect(await p.locator('#region-rows tr').count()).toBe(0);
    await p.screenshot({ path: shot('refused') });
    await ctx.close();
  });
});
