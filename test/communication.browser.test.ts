// The page «Ошибки коммуникации» in headless Chromium: a check run by the curator over demo answers with planted
// rude, blaming and wrong-address answers and a contradictory pair, the table per organisation, the examples of one
// organisation with explanations and excerpts, and the «try a text» box. Screenshots go to test/artifacts/.
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, type BrowserSession } from './helpers/browser.js';

let session: BrowserSession | undefined;
let page: Page;
const pageErrors: string[] = [];

describe('communication errors page (browser)', () => {
  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 1500, seed: 5 }, viewport: { width: 1440, height: 1100 } });
    page = await session.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const em = session.app.orm.em.fork();
    // Plant a few errors into demo answers of one organisation, and a contradictory pair between two bodies.
    const rows = await em.execute<{ id: number; organization_id: number }[]>(`SELECT id, organization_id FROM appeal WHERE answer_text IS NOT NULL AND organization_id IS NOT NULL ORDER BY received_at DESC LIMIT 400`);
    const org = rows[0].organization_id;
    const mine = rows.filter((r) => r.organization_id === org).slice(0, 3);
    const other = rows.find((r) => r.organization_id !== org)!;
    await em.execute(`UPDATE appeal SET answer_text = 'Не морочьте голову, батареи у вас горячие, мы проверяли.' WHERE id = ${mine[0].id}`);
    await em.execute(`UPDATE appeal SET answer_text = 'Протечка произошла по вашей вине — вы самовольно заменили радиатор без согласования.' WHERE id = ${mine[1].id}`);
    await em.execute(`UPDATE appeal SET address = 'ул. Октябрьская, 54', answer_text = 'Кровля дома № 45 по ул. Октябрьской отремонтирована 10.05.2026.' WHERE id = ${mine[2].id}`);
    await em.execute(`UPDATE appeal SET answer_text = 'Ремонт дороги у дома выполнен в мае.' WHERE id = ${other.id}`);
    await em.execute(`UPDATE appeal SET duplicate_of_id = ${other.id}, received_at = (SELECT received_at FROM appeal WHERE id = ${other.id}), answer_text = 'Ремонт дороги в этом году не планируется, финансирование не выделено.' WHERE id = (SELECT id FROM appeal WHERE organization_id = ${org} AND answer_text IS NOT NULL AND id NOT IN (${mine.map((m) => m.id).join(',')}) ORDER BY received_at DESC LIMIT 1)`);
  }, HOOK_TIMEOUT);
  afterAll(async () => session?.close());

  it('runs the check and shows errors per organisation with examples', async () => {
    await page.goto(`${session!.origin}/communication.html`);
    await page.waitForFunction(() => /Проверки ещё не было|Последняя проверка/.test(document.querySelector('#run-status')?.textContent ?? ''));
    await page.getByRole('button', { name: 'Проверить ответы' }).click();
    await page.waitForFunction(() => /найдено ошибок: [1-9]/.test(document.querySelector('#run-status')?.textContent ?? ''), undefined, { timeout: 60_000 }).catch(async (e) => { throw new Error(`${e.message}: ${await page.textContent('#run-status')}`); });
    const headers = await page.$$eval('#sum-head th', (ths) => ths.map((t) => t.textContent));
    expect(headers).toEqual(['Организация', 'Ответов', 'С ошибками', 'Доля', 'Грубость', 'Пренебрежение', 'Обвинение гражданина', 'Ответ о другом адресе', 'Ответ не тому адресату', 'Противоречивые ответы']);
    await page.click('#sum-body tr:first-child');
    await page.waitForSelector('#findings li.k-RUDE');
    const text = await page.textContent('#findings');
    expect(text).toMatch(/Не морочьте голову/);
    expect(text).toMatch(/по вашей вине/);
    expect(text).toMatch(/дома № 45 по ул\. Октябрьской.*ул\. Октябрьская, 54/);
    expect(text).toMatch(/не планируется.*выполнено/);
    await page.screenshot({ path: path.join(artifacts, 'communication-errors.png'), fullPage: true });
    await page.selectOption('#kind-filter', 'BLAME');
    await page.waitForFunction(() => document.querySelectorAll('#findings li').length === 1 && !!document.querySelector('#findings li.k-BLAME'));
    expect(pageErrors).toEqual([]);
    expect(session!.offsite()).toEqual([]);
  });

  it('checks a text typed into the page', async () => {
    await page.fill('#try-text', 'Уважаемый Пётр Иванович! Ваши претензии к работе дворника являются субъективными. Сами разбирайтесь с соседями.');
    await page.fill('#try-author', 'Кузнецов Сергей Николаевич');
    await page.getByRole('button', { name: 'Проверить', exact: true }).click();
    await page.waitForSelector('#try-result li');
    const kinds = await page.$$eval('#try-result li .kind', (s) => s.map((x) => x.textContent));
    expect(kinds).toEqual(['Пренебрежение', 'Ответ не тому адресату']);
    await page.screenshot({ path: path.join(artifacts, 'communication-try.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
