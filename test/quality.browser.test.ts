// The answer-quality verdict in the appeal card on the map (with the override control for a curator) and the
// «Отписки» page (formal answers by organisation, templates, the list), in headless Chromium; screenshots in test/artifacts.
import path from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, type BrowserSession } from './helpers/browser.js';
import { createAndSignIn } from './helpers/app.js';
import { Role } from '../server/auth/roles.js';
import { SESSION_COOKIE } from '../server/auth/config.js';

let session: BrowserSession | undefined;
let context: BrowserContext | undefined;
const pageErrors: string[] = [];

describe('answer quality in the browser', () => {
  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 1500, seed: 11 } });
    context = session.context;
  }, HOOK_TIMEOUT);

  afterAll(async () => {
    await session?.close();
  }, HOOK_TIMEOUT);

  it('shows the verdict with its reasons in the appeal card, and a curator overrides it', { timeout: 240_000 }, async () => {
    const app = session!.app;
    // A day two months back, when most appeals are answered: the map's period is set to that day.
    const [a] = await app.orm.em.fork().execute(`SELECT a.id, to_char(a.received_at AT TIME ZONE 'Asia/Barnaul', 'YYYY-MM-DD') AS day
      FROM appeal a JOIN answer_quality q ON q.appeal_id = a.id
     WHERE a.point IS NOT NULL AND a.received_at < (SELECT max(received_at) - interval '60 days' FROM appeal) ORDER BY a.received_at DESC LIMIT 1`);
    const page = await context!.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${app.url}/`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 120_000 });
    await page.evaluate((day) => {
      const from = document.getElementById('f-from') as HTMLInputElement;
      const to = document.getElementById('f-to') as HTMLInputElement;
      from.value = day; to.value = day;
      to.dispatchEvent(new Event('change'));
    }, a.day as string);
    // The list shows the day's appeals once the refresh is done (their dates all fall on that day).
    await page.waitForFunction(() => document.querySelectorAll('#latest-list button:not(.no-geo)').length > 0, null, { timeout: 60_000 });
    await page.waitForTimeout(1500);
    // Open the cards of the day's appeals until one shows a verdict (locators re-resolve if the list is redrawn).
    const items = page.locator('#latest-list button:not(.no-geo)');
    const count = Math.min(await items.count(), 20);
    let found = false;
    for (let i = 0; i < count && !found; i++) {
      try {
        await items.nth(i).click({ timeout: 5000 });
        await page.waitForSelector('.mcu-popup .aq', { timeout: 8000 });
        found = true;
      } catch { /* not answered (or redrawn): the next one */ }
    }
    if (!found) await page.screenshot({ path: path.join(artifacts, 'quality-card-not-found.png') });
    expect(found).toBe(true);
    // Let the map settle (an interrupted fly-to of an earlier click may still open its card once).
    await page.waitForTimeout(3000);
    await page.waitForSelector('.mcu-popup .aq', { timeout: 10_000 });
    const card = await page.evaluate(() => {
      const aq = document.querySelector('.mcu-popup .aq')!;
      return {
        verdict: aq.getAttribute('data-verdict'),
        chip: aq.querySelector('.aq-chip')?.textContent,
        reasons: [...aq.querySelectorAll('.aq-reasons li')].map((li) => li.textContent),
        answer: document.querySelector('.mcu-popup .popup-answer')?.textContent ?? '',
        control: !!aq.querySelector('.aq-override button'),
      };
    });
    expect(['FORMAL', 'SUBSTANTIVE']).toContain(card.verdict);
    expect(card.chip).toMatch(/Отписка|Ответ по существу/);
    expect(card.reasons.length).toBeGreaterThan(0);
    expect(card.answer).toMatch(/^Ответ: ./);
    expect(card.control).toBe(true);
    await page.screenshot({ path: path.join(artifacts, 'quality-card.png') });

    // The override: a comment is required; then the verdict flips and says who decided.
    await page.click('.mcu-popup .aq-override button');
    await page.waitForFunction(() => /Укажите причину/.test(document.querySelector('.mcu-popup .aq-status')?.textContent ?? ''), null, { timeout: 10_000 });
    await page.fill('.mcu-popup .aq-input', 'Проверено по фотографиям: работы выполнены');
    await page.click('.mcu-popup .aq-override button');
    const flipped = card.verdict === 'FORMAL' ? 'SUBSTANTIVE' : 'FORMAL';
    await page.waitForFunction((v) => !!document.querySelector(`.mcu-popup .aq[data-verdict="${v}"]`) || /Ошибка/.test(document.querySelector('.mcu-popup .aq-status')?.textContent ?? ''),
      flipped, { timeout: 30_000 }).catch(() => undefined);
    await page.screenshot({ path: path.join(artifacts, 'quality-card-after-override.png') });
    expect(await page.textContent('.mcu-popup .aq-status')).not.toMatch(/Ошибка/);
    expect(await page.getAttribute('.mcu-popup .aq', 'data-verdict')).toBe(flipped);
    expect(await page.textContent('.mcu-popup .aq')).toMatch(/решение: browser-curator/);
    expect(await page.textContent('.mcu-popup .aq-comment')).toMatch(/Проверено по фотографиям/);
    await page.screenshot({ path: path.join(artifacts, 'quality-card-overridden.png') });
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it('lists formal answers by organisation with reasons and templates; an analyst reads them without the control', { timeout: 240_000 }, async () => {
    const app = session!.app;
    const page = await context!.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${app.url}/quality.html`);
    await page.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
    const state = await page.evaluate(() => ({
      orgs: document.querySelectorAll('#q-orgs tbody tr').length,
      templates: [...document.querySelectorAll('#q-templates .q-template')].map((li) => li.textContent ?? ''),
      items: document.querySelectorAll('#q-list .q-item').length,
      formalCards: document.querySelectorAll('#q-list .aq[data-verdict="FORMAL"]').length,
      summary: document.getElementById('q-summary')?.textContent ?? '',
      error: (document.getElementById('error') as HTMLElement).hidden ? null : document.getElementById('error')?.textContent,
    }));
    expect(state.error).toBeNull();
    expect(state.orgs).toBeGreaterThan(0);
    expect(state.templates.length).toBeGreaterThan(0);
    expect(state.templates[0]).toMatch(/отписок с этим текстом: \d+/);
    expect(state.items).toBeGreaterThan(0);
    expect(state.formalCards).toBe(state.items);
    expect(state.summary).toMatch(/отписок/);
    await page.screenshot({ path: path.join(artifacts, 'quality-page.png') });
    await page.locator('#q-templates').screenshot({ path: path.join(artifacts, 'quality-templates.png') });
    await page.locator('#q-list .q-item').first().screenshot({ path: path.join(artifacts, 'quality-formal-item.png') });

    // One organisation's formal answers.
    await page.click('#q-orgs tbody tr:first-child .q-org-link');
    await page.waitForFunction(() => /:/.test(document.getElementById('q-list-org')?.textContent ?? ''), null, { timeout: 20_000 });
    await page.close();

    // An analyst sees the verdicts and reasons, without the override control.
    const analyst = await createAndSignIn(app, { login: 'browser-analyst', role: Role.ANALYST });
    const ctx2 = await session!.browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ru-RU', timezoneId: 'Asia/Barnaul' });
    await ctx2.addCookies([{ name: SESSION_COOKIE, value: analyst.token!, url: session!.origin, httpOnly: true, sameSite: 'Strict' }]);
    const p2 = await ctx2.newPage();
    await p2.goto(`${app.url}/quality.html`);
    await p2.waitForSelector('body[data-ready="1"]', { timeout: 60_000 });
    const a2 = await p2.evaluate(() => ({
      cards: document.querySelectorAll('#q-list .aq').length,
      reasons: document.querySelectorAll('#q-list .aq-reasons li').length,
      controls: document.querySelectorAll('#q-list .aq-override').length,
    }));
    expect(a2.cards).toBeGreaterThan(0);
    expect(a2.reasons).toBeGreaterThan(0);
    expect(a2.controls).toBe(0);
    await p2.screenshot({ path: path.join(artifacts, 'quality-page-analyst.png') });
    await ctx2.close();
    expect(pageErrors).toEqual([]);
    expect(session!.offsite()).toEqual([]);
  });
});
