// «Контроль исполнения» (/control.html) in headless Chromium on the rating fixture: the rating table with its
// breakdown bars, ranks and change arrows, the unranked organisations apart, the card (SVG trend, overdue / at-risk,
// formal answers), the queues, the export link, the weights panel for a curator; an ORG_OFFICER sees the table,
// its own organisation's card and its own appeals only. Screenshots in test/artifacts/.
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, type BrowserSession } from './helpers/browser.js';
import { createAndSignIn } from './helpers/app.js';
import { loadRatingFixture } from './helpers/rating-fixture.js';
import { Role } from '../server/auth/roles.js';
import { SESSION_COOKIE } from '../server/auth/config.js';

let session: BrowserSession | undefined;
let ids: Map<string, number>;
let orgs: Map<string, string>;
const pageErrors: string[] = [];
const URL_MARCH = '/control.html?kind=MONTH&start=2026-03-01';

async function ready(p: Page) {
  await p.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
}

describe('control page (browser)', () => {
  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 0, seed: 1 }, viewport: { width: 1680, height: 1050 } });
    const sql = (q: string, p?: unknown[]) => session!.app.orm.em.fork().execute(q, p ?? []);
    ids = await loadRatingFixture(sql);
    await sql(`INSERT INTO rating_setting (municipality_id, min_appeals) VALUES (1, 3) ON CONFLICT (municipality_id) DO UPDATE SET min_appeals = 3`);
    orgs = new Map((await sql('SELECT id, code FROM organization') as { id: number; code: string }[]).map((o) => [o.code, String(o.id)]));
  }, HOOK_TIMEOUT);
  afterAll(async () => session?.close(), HOOK_TIMEOUT);

  it('is linked from the map page', { timeout: 120_000 }, async () => {
    const p = await session!.context.newPage();
    await p.goto(`${session!.app.url}/`);
    expect(await p.getByRole('link', { name: 'Контроль исполнения' }).getAttribute('href')).toBe('/control.html');
    await p.close();
  });

  it('shows the rating, the card, the queues and the weights to a curator', { timeout: 180_000 }, async () => {
    const p = await session!.context.newPage();
    p.on('pageerror', (e) => pageErrors.push(e.message));
    await p.goto(`${session!.app.url}${URL_MARCH}`);
    await ready(p);
    expect(await p.textContent('#p-label')).toBe('март 2026');
    const rows = p.locator('#rating-rows tr.row');
    expect(await rows.count()).toBe(3);
    expect((await rows.nth(0).locator('td.org').textContent())).toMatch(/Водоканал/);
    expect(await rows.nth(0).locator('td.rank').textContent()).toBe('1');
    expect(await rows.nth(0).locator('td.change').textContent()).toBe('▲ 1');
    expect(await rows.nth(1).locator('td.change').textContent()).toBe('▼ 1');
    expect(await rows.nth(0).locator('.score').textContent()).toBe('98,1');
    expect(await rows.nth(1).locator('.seg-part').count()).toBe(7);
    expect(await p.locator('#unranked-list li').count()).toBe(1);
    expect(await p.textContent('#unranked-list')).toMatch(/Комбинат благоустройства/);
    expect(await p.getAttribute('#export', 'href')).toBe('/exports/rating.xlsx?kind=MONTH&start=2026-03-01');
    // Queues.
    expect(await p.textContent('#q-overdue-count')).toBe('3');
    expect(await p.textContent('#q-risk-count')).toBe('2');
    expect(await p.locator('#q-rows tr').nth(0).locator('td').nth(0).textContent()).toBe(String(ids.get('d3')));
    // The card of teploseti.
    await rows.nth(1).click();
    await p.waitForSelector('#org-card:not([hidden]) .trend-svg');
    expect(await p.textContent('#org-title')).toMatch(/тепловые сети/i);
    expect(await p.locator('.trend-svg circle.dot').count()).toBe(2);
    expect(await p.textContent('#org-overdue-count')).toBe('1');
    expect(await p.textContent('#org-risk-count')).toBe('1');
    expect(await p.textContent('#org-formal')).toMatch(/нет конкретного действия/);
    // the card's own workbook (its queues, months and formal answers)
    expect(await p.getAttribute('#org-export', 'href')).toBe(`/exports/rating.xlsx?kind=MONTH&start=2026-03-01&organizationId=${orgs.get('teploseti')}`);
    // Weights are editable for a curator.
    expect(await p.locator('#weights-fields input:not([disabled])').count()).toBe(9);
    await p.evaluate(() => window.scrollTo(0, 0));
    await p.screenshot({ path: path.join(artifacts, 'control-curator.png'), fullPage: true });
    // The at-risk tab.
    await p.getByRole('tab', { name: /Под угрозой/ }).click();
    await p.waitForFunction(() => document.querySelector('#q-left-head')?.textContent === 'Осталось');
    await p.waitForFunction(() => document.querySelectorAll('#q-rows tr').length === 2);
    // Changing a weight re-scores the table.
    await p.fill('input[name="w:onTime"]', '1');
    for (const f of ['answerTime', 'overdue', 'formal', 'satisfaction', 'repeats']) await p.fill(`input[name="w:${f}"]`, '0');
    for (const f of ['official_pages_score', 'services_online_share']) await p.fill(`input[name="i:${f}"]`, '0');
    await p.getByRole('button', { name: 'Сохранить веса' }).click();
    await p.waitForFunction(() => document.querySelectorAll('#rating-rows tr.row')[1]?.querySelector('.score')?.textContent === '50,0');
    expect(await p.textContent('#weights-status')).toMatch(/browser-curator/);
    // A quarter.
    await p.getByRole('button', { name: 'Квартал' }).click();
    await p.waitForFunction(() => document.querySelector('#p-label')?.textContent === '1 квартал 2026');
    expect(pageErrors).toEqual([]);
    expect(session!.offsite()).toEqual([]);
    await p.close();
  });

  it('shows an ORG_OFFICER the table, its own card and only its appeals', { timeout: 180_000 }, async () => {
    const officer = await createAndSignIn(session!.app, { login: 'browser-officer', role: Role.ORG_OFFICER, organization: 'uzhkh' });
    const ctx = await session!.browser.newContext({ viewport: { width: 1680, height: 1050 }, locale: 'ru-RU', timezoneId: 'Asia/Barnaul' });
    await ctx.addCookies([{ name: SESSION_COOKIE, value: officer.token!, url: session!.origin, httpOnly: true, sameSite: 'Strict' }]);
    const p = await ctx.newPage();
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`${session!.app.url}${URL_MARCH}&org=${orgs.get('teploseti')}`);
    await ready(p);
    await p.waitForSelector('#org-card:not([hidden]) .trend-svg');
    expect(await p.locator('#rating-rows tr.row').count()).toBe(3);
    // Its queues: teploseti and vodokanal (subordinates of uzhkh), never uo's urgent appeal.
    expect(await p.textContent('#q-overdue-count')).toBe('2');
    const firstCol = await p.locator('#q-rows tr td:first-child').allTextContents();
    expect(firstCol).not.toContain(String(ids.get('d3')));
    // Weights are read-only.
    expect(await p.locator('#weights-fields input[disabled]').count()).toBe(9);
    expect(await p.locator('#weights-save').isHidden()).toBe(true);
    await p.evaluate(() => window.scrollTo(0, 0));
    await p.screenshot({ path: path.join(artifacts, 'control-officer.png'), fullPage: true });
    // Another organisation's card is refused with a clear message.
    await p.locator('#rating-rows tr.row', { hasText: 'Управление образования' }).click();
    await p.waitForSelector('#error:not([hidden])');
    expect(await p.textContent('#error')).toMatch(/другой организации вам недоступна/);
    expect(errors).toEqual([]);
    await ctx.close();
  });
});
