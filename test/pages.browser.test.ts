// «Официальные страницы» in headless Chromium on each backend, over the demo pages: the registry with a traffic light
// per target, the failing list and the organisations, a page's card with its SVG charts by month, the edit form with a
// refused URL and a saved page, a rejected file import with its per-row report, and the Excel export link.
// Screenshots: test/artifacts/pages-*.png.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, type BrowserSession } from './helpers/browser.js';
import { backends } from './helpers/backends.js';

describe.each(backends)('official pages web page (browser, %s)', (backend) => {
  let session: BrowserSession | undefined;
  let page: Page;
  const pageErrors: string[] = [];
  const shot = (name: string) => path.join(artifacts, backend === 'embedded' ? `pages-${name}.png` : `pages-${name}-${backend}.png`);

  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 300, seed: 3 }, backend, viewport: { width: 1500, height: 950 } });
    page = await session.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${session.origin}/pages.html`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await session?.close();
  });

  it('shows the registry with a traffic light per target, the failing pages and the organisations', async () => {
    const rows = page.locator('#registry-body tr.pg-row');
    expect(await rows.count()).toBe(18);
    expect(await page.locator('#registry-head th').allTextContents()).toEqual(expect.arrayContaining(['Организация', 'Балл', 'Публ.', 'ПОС', 'Ответ']));
    // Every row carries 10 lights; the demo has passing and failing ones.
    expect(await page.locator('#registry-body tr.pg-row').first().locator('.tl').count()).toBe(10);
    expect(await page.locator('#registry-body .tl[data-status="PASS"]').count()).toBeGreaterThan(20);
    expect(await page.locator('#registry-body .tl[data-status="FAIL"]').count()).toBeGreaterThan(5);
    const tip = await page.locator('#registry-body .tl[data-status="FAIL"]').first().getAttribute('title');
    expect(tip).toMatch(/цель .* — не выполнено/);
    expect(Number(await page.locator('#failing-count').textContent())).toBeGreaterThan(0);
    expect(await page.locator('#orgs-body tr').count()).toBeGreaterThan(5);
    expect(await page.locator('#export-link').getAttribute('href')).toMatch(/^\/exports\/official-pages\.xlsx\?month=\d{4}-\d{2}$/);
    await page.screenshot({ path: shot('registry'), fullPage: true });
    await page.locator('#f-failing').check();
    const failing = await page.locator('#registry-body tr.pg-row').count();
    expect(failing).toBeGreaterThan(0);
    expect(failing).toBeLessThanOrEqual(18);
    await page.locator('#f-failing').uncheck();
  });

  it('opens a page’s card with its checks and SVG charts by month', async () => {
    await page.locator('#registry-body tr.pg-row').first().click();
    await page.waitForSelector('#card-dialog[open] #card-charts svg');
    expect(await page.locator('#card-charts figure').count()).toBe(6);
    expect(await page.locator('#card-body tr[data-check]').count()).toBe(10);
    expect(await page.locator('#card-charts svg').first().locator('circle').count()).toBe(12);
    await page.screenshot({ path: shot('card') });
    await page.locator('#card-close').click();
  });

  it('adds a page through the form: a broken URL is refused with its reason, a good one is saved', async () => {
    await page.locator('#add-page').click();
    await page.waitForSelector('#edit-dialog[open]');
    expect(await page.locator('#e-delete').isVisible()).toBe(false);
    await page.selectOption('#e-platform', 'VK');
    await page.fill('#e-url', 'https://ok.ru/not_vk');
    await page.fill('#e-name', 'Новая страница');
    await page.locator('#e-save').click();
    await page.waitForSelector('#edit-error:not([hidden])');
    expect(await page.locator('#edit-error').textContent()).toMatch(/не является адресом страницы ВКонтакте/);
    expect(await page.locator('#e-url').getAttribute('aria-invalid')).toBe('true');
    await page.screenshot({ path: shot('edit-error') });
    await page.fill('#e-url', 'https://vk.com/new_page_rub');
    await page.locator('#e-verified').check();
    await page.locator('#e-save').click();
    await page.waitForSelector('#edit-dialog:not([open])', { state: 'attached' });
    await page.waitForFunction(() => document.querySelectorAll('#registry-body tr.pg-row').length === 19);
    expect(await page.locator('#registry-body').textContent()).toContain('https://vk.com/new_page_rub');
  });

  it('rejects a bad statistics file whole and shows the rows', async () => {
    const csv = 'Страница;Месяц;Публикаций;Просмотров;Отметок «Нравится»;Репостов;Комментариев;Подписчиков\nhttps://vk.com/rubtsovsk_adm;2026-10;-3;1;1;1;1;1\nhttps://vk.com/unknown_x;2026-10;1;1;1;1;1;1\n';
    await page.selectOption('#i-kind', 'STATS');
    await page.setInputFiles('#i-file', { name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.locator('#i-submit').click();
    await page.waitForSelector('#import-status');
    expect(await page.locator('#import-status').textContent()).toMatch(/отклонён целиком, ничего не изменено: ошибок — 2/);
    const issues = await page.locator('#import-issues tr').allTextContents();
    expect(issues[0]).toMatch(/^2Публикацийошибкаотрицательное значение -3/);
    expect(issues[1]).toMatch(/^3Страницаошибкастраница «https:\/\/vk.com\/unknown_x» не найдена в реестре/);
    await page.locator('#import-card').scrollIntoViewIfNeeded();
    await page.screenshot({ path: shot('import'), fullPage: true });
  });

  it('edits a category’s targets: a bad value is refused by its field, a stricter target moves the lights', async () => {
    await page.locator('#cats-card').scrollIntoViewIfNeeded();
    expect(await page.locator('#cats-body tr').count()).toBe(3);
    const flagship = page.locator('#cats-body tr[data-code="flagship"]');
    expect(await flagship.locator('input[data-field="minPostsPerWeek"]').inputValue()).toBe('7');
    expect(await flagship.locator('input[data-field="minAnsweredShare"]').inputValue()).toBe('90'); // 0.9 shown as percent
    const card = page.locator('#cats-body tr[data-code="card"]');
    // Checked in the page (a negative target), and by the server (ER per post above 100 %), each shown at its field.
    await card.locator('input[data-field="maxReplyHours"]').fill('-2');
    await card.locator('button[data-save]').click();
    await page.waitForSelector('#cats-error');
    expect(await page.locator('#cats-error').textContent()).toBe('«Визитка», медиана ответа, раб. ч: не может быть меньше 0');
    expect(await card.locator('input[data-field="maxReplyHours"]').getAttribute('aria-invalid')).toBe('true');
    await card.locator('input[data-field="maxReplyHours"]').fill('24');
    await card.locator('input[data-field="minErPost"]').fill('150');
    await card.locator('button[data-save]').click();
    await page.waitForFunction(() => /вне допустимого диапазона/.test(document.querySelector('#cats-error')?.textContent ?? ''));
    expect(await page.locator('#cats-error').textContent()).toBe('«Визитка», ER на публикацию, %: значение 150 вне допустимого диапазона 0…100');
    expect(await card.locator('input[data-field="minErPost"]').getAttribute('aria-invalid')).toBe('true');
    expect(await card.locator('input[data-field="maxReplyHours"]').getAttribute('aria-invalid')).toBeNull();
    await page.screenshot({ path: shot('categories-error') });
    const failingBefore = Number(await page.locator('#failing-count').textContent());
    const monthBefore = await page.locator('#f-month').inputValue();
    const platformOptions = await page.locator('#f-platform option').count();
    const postsLights = () => page.locator('#registry-body tr.pg-row').evaluateAll((rows) => rows
      // Flagship pages with statistics (the page added above is flagship too, without any: no data).
      .filter((r) => r.textContent?.includes('Флагманский') && !r.querySelector('.score-none')).map((r) => r.querySelector('.tl')?.getAttribute('data-status')));
    await flagship.locator('input[data-field="minPostsPerWeek"]').fill('40');
    await flagship.locator('button[data-save]').click();
    await page.waitForSelector('#cats-ok');
    expect(await page.locator('#cats-ok').textContent()).toMatch(/«Флагманский» сохранены/);
    await page.waitForFunction(() => (document.querySelector('#cats-body tr[data-code="flagship"] input[data-field="minPostsPerWeek"]') as HTMLInputElement | null)?.value === '40');
    expect(await page.locator('#f-month').inputValue()).toBe(monthBefore);
    expect(await page.locator('#f-platform option').count()).toBe(platformOptions); // reloaded lists are not doubled
    const lights = await postsLights();
    expect(lights.length).toBeGreaterThan(0);
    expect(lights.every((x) => x === 'FAIL'), JSON.stringify(lights)).toBe(true); // nobody posts 40 times a week
    expect(Number(await page.locator('#failing-count').textContent())).toBeGreaterThanOrEqual(failingBefore);
    await page.locator('#cats-card').scrollIntoViewIfNeeded();
    await page.screenshot({ path: shot('categories'), fullPage: true });
  });

  it('downloads the Excel export and made no requests off the machine', async () => {
    const href = await page.locator('#export-link').getAttribute('href');
    const res = await session!.client!.fetch(href!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/spreadsheetml/);
    expect(session!.offsite()).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
