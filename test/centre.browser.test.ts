// The page «Работа центра» in headless Chromium: the indicators dashboard (cards grouped by block, statuses,
// reasons instead of made-up numbers) and an activity plan drafted, filled and approved through the page.
// Screenshots go to test/artifacts/. No request leaves the app's origin.
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, type BrowserSession } from './helpers/browser.js';

let session: BrowserSession | undefined;
let page: Page;
const pageErrors: string[] = [];

describe('centre page (browser)', () => {
  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 3000, seed: 11 }, viewport: { width: 1440, height: 1100 } });
    page = await session.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, HOOK_TIMEOUT);
  afterAll(async () => session?.close());

  it('shows the indicators grouped by block, with values, targets and reasons', async () => {
    await page.goto(`${session!.origin}/centre.html`);
    await page.waitForSelector('.ind-card');
    const groups = await page.$$eval('.ind-group h2', (hs) => hs.map((h) => h.textContent));
    expect(groups[0]).toBe('Показатели центра');
    expect(groups).toContain('ЖКХ и благоустройство');
    // The appeals-per-1000 card has a number; an imported indicator without values explains why.
    const appeals = await page.textContent('[data-code="appeals_per_1000"] .big');
    expect(appeals).toMatch(/\d/);
    expect(await page.textContent('[data-code="digital.services_online_share"] .reason')).toMatch(/не загружено/);
    await page.screenshot({ path: path.join(artifacts, 'centre-indicators.png'), fullPage: true });
  });

  it('drafts a plan, adds an item and approves it as the curator', async () => {
    await page.getByRole('tab', { name: 'Планы' }).click();
    await page.fill('#np-title', 'Основные мероприятия МЦУ');
    await page.selectOption('#np-kind', 'QUARTER');
    await page.fill('#np-year', '2026');
    await page.selectOption('#np-quarter', '4');
    await page.getByRole('button', { name: 'Создать проект плана' }).click();
    await page.waitForSelector('#item-form');
    // Without a due date the server names the field.
    await page.fill('#it-title', 'Семинар для специалистов органов: как отвечать по существу');
    await page.fill('#it-resp', 'Отдел аналитики МЦУ');
    await page.getByRole('button', { name: 'Добавить' }).click();
    await page.waitForFunction(() => /dueDate/.test(document.querySelector('#plan-error')?.textContent ?? ''));
    await page.fill('#it-due', '2026-11-20');
    await page.fill('#it-ind', 'formal_share');
    await page.getByRole('button', { name: 'Добавить' }).click();
    await page.waitForSelector('.plan-table tbody tr:has-text("Семинар")');
    await page.fill('#it-title', 'Анализ жалоб на отопление в начале отопительного сезона');
    await page.fill('#it-resp', 'Ответственный за блок ЖКХ');
    await page.fill('#it-due', '2026-12-25');
    await page.getByRole('button', { name: 'Добавить' }).click();
    await page.waitForSelector('.plan-table tbody tr:has-text("отопление")');
    await page.getByRole('button', { name: 'Утвердить план' }).click();
    await page.waitForSelector('.plan-head:has-text("Утвердил")');
    // The November item is overdue on the test date (December 2026); the export link is there.
    const rows = await page.$$eval('.plan-table tbody tr', (trs) => trs.map((tr) => tr.className));
    expect(rows[0]).toContain('row-overdue');
    expect(await page.getAttribute('a.button', 'href')).toMatch(/\/exports\/plan\.xlsx\?id=\d+/);
    await page.screenshot({ path: path.join(artifacts, 'centre-plan.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    expect(session!.offsite()).toEqual([]);
  });

  it('runs the data-quality check, sends a notice and lists it', async () => {
    await session!.app.orm.em.fork().execute(`UPDATE appeal SET answer_text = NULL WHERE id IN (SELECT id FROM appeal WHERE answered_at IS NOT NULL ORDER BY id LIMIT 5)`);
    await page.getByRole('tab', { name: 'Качество данных' }).click();
    await page.getByRole('button', { name: 'Проверить данные' }).click();
    await page.waitForFunction(() => /Найдено ошибок: \d+/.test(document.querySelector('#dq-status')?.textContent ?? ''));
    await page.waitForSelector('#dq-body tr button');
    await page.click('#dq-body tr:first-child button');
    await page.waitForSelector('#dq-findings tr');
    await page.getByRole('button', { name: 'Направить уведомление руководителю' }).click();
    await page.waitForSelector('#dq-notices tr a[href*="notice.docx"]');
    expect(await page.textContent('#dq-notices tr:first-child')).toMatch(/направлено/);
    await page.screenshot({ path: path.join(artifacts, 'centre-data-quality.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
    expect(session!.offsite()).toEqual([]);
  });

  it('plans a seminar inviting the organisations the figures point to', async () => {
    await page.getByRole('tab', { name: 'Семинары и практики' }).click();
    await page.selectOption('#sg-basis', 'DATA_ERRORS');
    await page.waitForSelector('#sg-list li strong');
    await page.fill('#sem-topic', 'Достоверность данных об ответах на обращения');
    await page.getByRole('button', { name: 'Запланировать и пригласить предложенных' }).click();
    await page.waitForSelector('#sem-list .seminar');
    expect(await page.textContent('#sem-list .seminar')).toMatch(/приглашено [1-9]/);
    await page.screenshot({ path: path.join(artifacts, 'centre-seminars.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
