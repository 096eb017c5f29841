// «Аналитические справки» in headless Chromium: order a report for a chosen period, see it in the list, download its
// PDF and DOCX through the page's links, schedule a weekly report (curator), and a BLOCK_LEAD's page limited to
// their block. Nothing leaves the machine. Screenshots: test/artifacts/reports-*.png.
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, type BrowserSession } from './helpers/browser.js';
import { Role } from '../server/auth/roles.js';

describe('analytic reports page (browser)', () => {
  let session: BrowserSession | undefined;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 2000, seed: 7 }, viewport: { width: 1300, height: 950 } });
    page = await session.context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
  }, HOOK_TIMEOUT);
  afterAll(async () => { await session?.close(); });

  it('orders a report, lists it with its files, downloads them and schedules a weekly report', async () => {
    const [last] = await session!.app.orm.em.fork().execute(`SELECT to_char(max(received_at AT TIME ZONE 'Asia/Barnaul'), 'YYYY-MM-DD') AS d FROM appeal`);
    const to = String(last.d);
    const from = `${to.slice(0, 8)}01`;
    await page.goto(`${session!.origin}/reports.html`);
    await page.waitForFunction(() => (window as any).__reportsReady || document.getElementById('error')?.hidden === false, undefined, { timeout: 60_000 });
    expect(await page.locator('#error').isHidden()).toBe(true);
    expect(await page.locator('#r-list').textContent()).toContain('Справок пока нет');
    // A district report for the month of the demo's last appeal.
    await page.selectOption('#o-kind', 'DISTRICT');
    expect(await page.locator('#o-scope-wrap').isVisible()).toBe(true);
    expect(await page.locator('#o-scope option').count()).toBeGreaterThan(3);
    await page.fill('#o-from', from);
    await page.fill('#o-to', to);
    expect(await page.locator('#o-preset').inputValue()).toBe('custom');
    await page.click('#o-submit');
    await page.waitForFunction(() => /готова/.test(document.getElementById('o-result')?.textContent ?? ''), undefined, { timeout: 120_000 });
    const row = page.locator('#r-list tr[data-id]').first();
    expect(await row.locator('.report-state').textContent()).toBe('готова');
    expect(await row.textContent()).toContain(`${from.split('-').reverse().join('.')} — ${to.split('-').reverse().join('.')}`);
    const pdfLink = row.locator('a[data-format="pdf"]');
    expect(await pdfLink.textContent()).toMatch(/PDF, \d+ стр\. \(\d+ КБ\)/);
    const [download] = await Promise.all([page.waitForEvent('download'), pdfLink.click()]);
    expect(download.suggestedFilename()).toMatch(/^report-\d+-.*\.pdf$/);
    const [docx] = await Promise.all([page.waitForEvent('download'), row.locator('a[data-format="docx"]').click()]);
    expect(docx.suggestedFilename()).toMatch(/\.docx$/);

    // A weekly city report on Mondays at 08:00.
    expect(await page.locator('#sched-card').isVisible()).toBe(true);
    await page.selectOption('#s-weekday', '1');
    await page.fill('#s-hour', '8');
    await page.click('#s-submit');
    await page.waitForFunction(() => document.querySelectorAll('#s-list tr td').length > 2 && /понедельник, 08:00/.test(document.getElementById('s-list')!.textContent ?? ''));
    expect(await page.locator('#s-scope-wrap').isHidden()).toBe(true);
    await page.screenshot({ path: path.join(artifacts, 'reports-page.png'), fullPage: true });
    // A bad period: a clear message naming the field.
    await page.fill('#o-from', to);
    await page.fill('#o-to', from);
    await page.click('#o-submit');
    await page.waitForFunction(() => document.getElementById('error')?.hidden === false);
    expect(await page.locator('#error').textContent()).toMatch(/period\.to: .*период пуст/);
    expect(errors).toEqual([]);
    expect(session!.offsite()).toEqual([]);
  }, 240_000);

  it('limits a BLOCK_LEAD to their block', async () => {
    const lead = await openBrowserSession({ demo: { count: 200, seed: 7 }, viewport: { width: 1300, height: 800 }, signIn: Role.BLOCK_LEAD });
    try {
      const p = await lead.context.newPage();
      await p.goto(`${lead.origin}/reports.html`);
      await p.waitForFunction(() => (window as any).__reportsReady || document.getElementById('error')?.hidden === false, undefined, { timeout: 60_000 });
      expect(await p.locator('#error').isHidden()).toBe(true);
      expect(await p.locator('#o-kind option').allTextContents()).toEqual(['тематический блок']);
      expect(await p.locator('#o-scope option').count()).toBe(1);
      expect(await p.locator('#sched-card').isHidden()).toBe(true);
    } finally {
      await lead.close();
    }
  }, HOOK_TIMEOUT);
});
