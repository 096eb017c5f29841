// «Информационные риски» in headless Chromium: a planted spike in demo history becomes a signal; the list, the card
// with its SVG chart and bound, the appeals on the small map (offline: nothing fetched off the origin), the
// lifecycle actions, and the badge of NEW signals on the main page's link. Screenshots: test/artifacts/risks-*.png.
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, type BrowserSession } from './helpers/browser.js';
import { backends } from './helpers/backends.js';

describe.each(backends)('information risks page (browser, %s)', (backend) => {
  const shot = (name: string) => path.join(artifacts, backend === 'embedded' ? `risks-${name}.png` : `risks-${name}-${backend}.png`);
  let session: BrowserSession | undefined;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 3000, seed: 7 }, viewport: { width: 1400, height: 1000 }, backend });
    const sql = (q: string) => session!.app.orm.em.fork().execute(q);
    await sql(`INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, point, district_id, theme_id, organization_id, status, author_key, due_at)
      SELECT a.municipality_id, (ARRAY['SOCIAL','MESSENGER','POS','DIRECT'])[1 + g % 4], 'SPIKE-' || g, (SELECT max(received_at) FROM appeal) - make_interval(hours => g % 5),
             'CITIZEN', CASE WHEN g % 6 = 0 THEN 'Напишем в прокуратуру, нет отопления' ELSE 'Нет отопления в доме' END,
             ST_SetSRID(ST_MakePoint(ST_X(a.point) + (g % 5) * 0.0002, ST_Y(a.point) + (g % 3) * 0.0002), 4326), a.district_id, a.theme_id, a.organization_id, 'NEW',
             'spike-author-' || g, (SELECT max(received_at) FROM appeal) - interval '1 hour'
        FROM (SELECT * FROM appeal WHERE theme_id IS NOT NULL AND district_id IS NOT NULL AND point IS NOT NULL ORDER BY id LIMIT 1) a, generate_series(1, 26) g`);
    const r = await session.client!.gql('mutation { detectRisks { created notes } }');
    expect(r.errors).toBeUndefined();
    expect(r.data.detectRisks.created).toBeGreaterThan(0);
    page = await session.context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
  }, HOOK_TIMEOUT);
  afterAll(async () => { await session?.close(); });

  it('lists the signals and opens a card with the chart, the map and the actions', async () => {
    await page.goto(`${session!.origin}/risks.html`);
    await page.waitForFunction(() => (window as any).__risksReady || document.getElementById('error')?.hidden === false, undefined, { timeout: 60_000 });
    expect(await page.locator('#error').isHidden()).toBe(true);
    const rows = await page.locator('#risks-list tr[data-id]').count();
    expect(rows).toBeGreaterThan(0);
    // the planted spike: the COUNT signal of its district × theme
    const list = await session!.client!.gql('{ riskSignals(first: 500, filter: { kinds: [COUNT] }) { edges { node { id seriesKey observed } } } }');
    const planted = list.data.riskSignals.edges.map((e: any) => e.node).filter((s: any) => s.seriesKey.startsWith('dt:')).sort((a: any, b: any) => b.observed - a.observed)[0];
    expect(planted.observed).toBeGreaterThanOrEqual(26);
    await page.locator(`#risks-list tr[data-id="${planted.id}"]`).click();
    await page.waitForFunction((id) => document.querySelector('#risks-list tr.selected')?.getAttribute('data-id') === id, planted.id);
    await page.waitForFunction(() => document.querySelectorAll('#c-chart svg rect').length > 10, undefined, { timeout: 20_000 });
    expect(await page.locator('#c-method').textContent()).toMatch(/EARS_C2|FARRINGTON/);
    expect(await page.locator('#c-note').textContent()).toMatch(/EARS|Фаррингтон/);
    expect(Number(await page.locator('#c-observed').textContent())).toBeGreaterThanOrEqual(26);
    expect(await page.locator('#c-chart svg path[stroke-dasharray]').count()).toBe(1);
    await page.waitForFunction(() => {
      const m = (window as any).__riskMap;
      return m && m.getSource('risk-appeals') && m.querySourceFeatures('risk-appeals').length > 0;
    }, undefined, { timeout: 30_000 });
    expect(await page.locator('#c-appeals').textContent()).toMatch(/Обращений за сигналом: \d+, на карте: \d+/);
    await page.waitForTimeout(500);
    await page.screenshot({ path: shot('card'), fullPage: true });

    // lifecycle: accept, then a false alarm needs a comment
    await page.locator('#c-ack').click();
    await page.waitForFunction(() => document.getElementById('c-status')?.textContent === 'принят', undefined, { timeout: 15_000 });
    expect(await page.locator('#c-history').textContent()).toMatch(/принял: /);
    await page.locator('#c-false').click();
    await page.waitForFunction(() => /комментарий обязателен/.test(document.getElementById('c-result')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await page.locator('#c-comment').fill('Проверено: учения, повторов нет');
    await page.locator('#c-false').click();
    await page.waitForFunction(() => document.getElementById('c-status')?.textContent === 'ложная тревога', undefined, { timeout: 15_000 });
    await page.screenshot({ path: shot('closed'), fullPage: true });
  });

  it('the main page shows the count of NEW signals on its link', async () => {
    const { data } = await session!.client!.gql('{ newRiskSignalCount }');
    const main = await session!.context.newPage();
    main.on('pageerror', (e) => errors.push(e.message));
    await main.goto(`${session!.origin}/`);
    await main.waitForFunction(() => !document.getElementById('risk-badge')?.hidden, undefined, { timeout: 60_000 });
    expect(await main.locator('#risk-badge').textContent()).toBe(String(data.newRiskSignalCount));
    await main.locator('header').first().screenshot({ path: shot('badge') });
    expect(session!.offsite()).toEqual([]);
    expect(errors).toEqual([]);
  });
});
