// The sign-in page and roles in the web client (headless Chromium): an anonymous visit goes to /login.html,
// a wrong password is shown in Russian, the demo analyst sees the map and their name and role but never an
// author, a worker sees the author in the appeal popup (and the read is logged), and sign-out ends the session.
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, type BrowserSession } from './helpers/browser.js';
import { Role } from '../server/auth/roles.js';

let session: BrowserSession | undefined;
const pageErrors: string[] = [];

async function signIn(page: Page, login: string, password: string) {
  await page.fill('#login', login);
  await page.fill('#password', password);
  await page.click('#login-submit');
}

/** Opens the popup of the first appeal in the latest list whose author has a name (in the current viewport). */
async function openPopupOfAppealWithAuthor(page: Page, id: number) {
  await page.evaluate(async (appealId) => {
    const res = await fetch('/graphql', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ appeal(id: "${appealId}") { point } }` }) });
    const { data } = await res.json();
    const map = (window as any).__map;
    map.jumpTo({ center: data.appeal.point.coordinates, zoom: 17 });
  }, id);
  await page.waitForTimeout(1500);
  await page.evaluate((appealId) => {
    const map = (window as any).__map;
    const f = map.queryRenderedFeatures({ layers: ['mcu-appeal-points'] }).find((x: any) => String(x.properties.id) === String(appealId));
    if (!f) throw new Error('appeal point not rendered');
    const p = map.project(f.geometry.coordinates);
    map.fire('click', { point: p, lngLat: f.geometry.coordinates, features: [f], originalEvent: new MouseEvent('click') });
  }, id);
}

describe('sign-in and roles in the web client (browser)', () => {
  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 1500, seed: 5 }, signIn: false });
  }, HOOK_TIMEOUT);

  afterAll(async () => {
    await session?.close();
  }, HOOK_TIMEOUT);

  it('sends an anonymous visitor to the sign-in page, rejects a wrong password, lets the analyst in without author data, signs out', { timeout: 240_000 }, async () => {
    const { app, context } = session!;
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${app.url}/`);
    await page.waitForURL(/\/login\.html\?next=%2F$/, { timeout: 60_000 });
    expect(await page.textContent('h1')).toBe('МЦУ Hub');

    const analyst = app.demoAccounts.find((a) => a.role === Role.ANALYST)!;
    await signIn(page, analyst.login, 'неверный пароль');
    await page.waitForSelector('#login-error:not([hidden])');
    expect(await page.textContent('#login-error')).toBe('Неверный логин или пароль');
    await page.screenshot({ path: path.join(artifacts, 'login-error.png') });

    await signIn(page, analyst.login, analyst.password);
    await page.waitForURL(`${app.url}/`);
    await page.waitForSelector('body[data-ready="1"], body[data-error]', { timeout: 120_000 });
    expect(await page.evaluate(() => document.body.dataset.error ?? null)).toBeNull();
    expect(await page.textContent('#user-role')).toBe('Аналитик');
    expect(await page.textContent('#user-name')).toBe('Аналитик (демо)');

    const [withAuthor] = await app.orm.em.fork().execute(`SELECT a.id FROM appeal a JOIN appeal_author au ON au.id = a.author_id
      WHERE au.full_name IS NOT NULL AND a.point IS NOT NULL ORDER BY a.received_at DESC LIMIT 1`);
    await openPopupOfAppealWithAuthor(page, withAuthor.id);
    await page.waitForSelector('.mcu-popup .popup-full');
    await page.waitForTimeout(800);
    expect(await page.textContent('.mcu-popup')).not.toContain('Автор');
    await page.screenshot({ path: path.join(artifacts, 'analyst-popup.png') });

    // The intake page: no import for the analyst.
    await page.goto(`${app.url}/intake.html`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
    expect(await page.textContent('#import-denied')).toContain('Импорт недоступен для роли «Аналитик»');
    expect(await page.textContent('#user-role')).toBe('Аналитик');

    await page.click('#sign-out');
    await page.waitForURL(/\/login\.html$/);
    const after = await page.evaluate(async () => (await fetch('/auth/me', { credentials: 'same-origin' })).status);
    expect(after).toBe(401);
    await page.close();
  });

  it('shows the author to a worker in the appeal popup and logs the read', { timeout: 240_000 }, async () => {
    const { app, context } = session!;
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${app.url}/intake.html`);
    await page.waitForURL(/\/login\.html\?next=%2Fintake\.html$/);
    const worker = app.demoAccounts.find((a) => a.role === Role.WORKER)!;
    await signIn(page, worker.login, worker.password);
    await page.waitForURL(`${app.url}/intake.html`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
    expect(await page.$('#import-denied')).toBeNull();
    await page.goto(`${app.url}/`);
    await page.waitForSelector('body[data-ready="1"], body[data-error]', { timeout: 120_000 });

    const em = app.orm.em.fork();
    const [a] = await em.execute(`SELECT a.id, au.full_name FROM appeal a JOIN appeal_author au ON au.id = a.author_id
      WHERE au.full_name IS NOT NULL AND a.point IS NOT NULL ORDER BY a.received_at DESC LIMIT 1`);
    await em.execute('DELETE FROM pd_access_log');
    await openPopupOfAppealWithAuthor(page, a.id);
    await page.waitForFunction(() => document.querySelector('.mcu-popup')?.textContent?.includes('Автор'), undefined, { timeout: 30_000 });
    expect(await page.textContent('.mcu-popup')).toContain(a.full_name);
    await page.screenshot({ path: path.join(artifacts, 'worker-popup.png') });
    const log = await em.execute(`SELECT actor, appeal_id FROM pd_access_log`);
    expect(log).toContainEqual({ actor: 'worker', appeal_id: a.id });
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
