// XSS through appeal texts, answers and addresses (headless Chromium): markup that citizens or a
// hostile export put into an appeal is shown as text on the map page (latest list, popup) and on the
// intake page (triage and address queues), and nothing of it runs: no dialog, no injected element,
// no request for the injected image, no global set by an injected handler.
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, type BrowserSession } from './helpers/browser.js';

const TEXT = `<img src=x onerror="window.__xss=(window.__xss||0)+1;alert('xss')"> Яма у дома <b>bold</b> <script>window.__xss=1</script>`;
const ANSWER = `<svg onload="window.__xss=1"></svg><iframe src="javascript:window.__xss=1"></iframe>Ответ <a href="javascript:window.__xss=1">ссылка</a>`;
const ADDRESS = `пр. Ленина, 85<img src=x2 onerror="window.__xss=1">`;

let session: BrowserSession | undefined;
let appealId = 0;
const dialogs: string[] = [];

async function open(page: Page, url: string) {
  page.on('dialog', async (d) => {
    dialogs.push(d.message());
    await d.dismiss();
  });
  await page.goto(url, { waitUntil: 'networkidle' });
}

async function noInjection(page: Page) {
  const state = await page.evaluate(() => ({
    xss: (window as any).__xss ?? null,
    imgs: document.querySelectorAll('img[src="x"], img[src="x2"]').length,
    scripts: [...document.querySelectorAll('script')].filter((s) => s.textContent?.includes('__xss')).length,
    svgs: [...document.querySelectorAll('svg')].filter((s) => s.getAttribute('onload')).length,
    iframes: document.querySelectorAll('iframe').length,
    links: [...document.querySelectorAll('a')].filter((a) => a.getAttribute('href')?.startsWith('javascript:')).length,
  }));
  expect(state).toEqual({ xss: null, imgs: 0, scripts: 0, svgs: 0, iframes: 0, links: 0 });
  expect(dialogs).toEqual([]);
  expect(session!.requests.filter((u) => /\/x2?$/.test(new URL(u).pathname))).toEqual([]);
}

describe('hostile appeal texts in the web client (browser)', () => {
  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 300, seed: 9 } });
    const em = session.app.orm.em.fork();
    // The newest appeal (first in «Последние обращения») gets the hostile text, answer and address,
    // and waits in both queues of the intake page.
    const [row] = await em.execute('SELECT id FROM appeal ORDER BY received_at DESC, id DESC LIMIT 1');
    appealId = row.id;
    await em.execute(`UPDATE appeal SET text = ?, answer_text = ?, address = ?, triage = true, place_status = 'UNRESOLVED', status = 'ANSWERED', answered_at = received_at + interval '1 day' WHERE id = ?`,
      [TEXT, ANSWER, ADDRESS, appealId]);
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await session?.close();
  });

  it('the map page shows the markup as text in the latest list and the popup, and runs none of it', async () => {
    const page = await session!.context.newPage();
    await open(page, `${session!.origin}/`);
    const item = page.locator('.latest-text', { hasText: 'onerror=' }).first();
    await item.waitFor({ timeout: 60_000 });
    expect(await item.textContent()).toBe(TEXT);
    // The popup with the full appeal (text, address, answer).
    await page.evaluate(async (id) => {
      const res = await fetch('/graphql', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: `{ appeal(id: "${id}") { point } }` }) });
      const { data } = await res.json();
      (window as any).__map.jumpTo({ center: data.appeal.point.coordinates, zoom: 17 });
    }, appealId);
    await page.waitForTimeout(2000);
    await page.evaluate((id) => {
      const map = (window as any).__map;
      const f = map.queryRenderedFeatures({ layers: ['mcu-appeal-points'] }).find((x: any) => String(x.properties.id) === String(id));
      if (!f) throw new Error('appeal point not rendered');
      map.fire('click', { point: map.project(f.geometry.coordinates), lngLat: f.geometry.coordinates, features: [f], originalEvent: new MouseEvent('click') });
    }, appealId);
    const popupText = page.locator('.maplibregl-popup .popup-text').first();
    await popupText.waitFor({ timeout: 30_000 });
    expect(await popupText.textContent()).toBe(TEXT);
    await page.waitForTimeout(1000);
    const popup = await page.locator('.maplibregl-popup').first().textContent();
    expect(popup).toContain('<img src=x2 onerror=');
    await page.screenshot({ path: path.join(artifacts, 'xss-map.png') });
    await noInjection(page);
    await page.close();
  });

  it('the intake page shows it as text in the triage and address queues, and runs none of it', async () => {
    const page = await session!.context.newPage();
    await open(page, `${session!.origin}/intake.html`);
    const cells = page.locator('.appeal-text', { hasText: 'onerror=' });
    await cells.first().waitFor({ timeout: 60_000 });
    expect(await cells.count()).toBeGreaterThanOrEqual(2); // triage queue and address queue
    for (const t of await cells.allTextContents()) expect(t).toBe(TEXT);
    expect(await page.locator('body').textContent()).toContain(ADDRESS);
    await page.screenshot({ path: path.join(artifacts, 'xss-intake.png'), fullPage: true });
    await noInjection(page);
    await page.close();
  });

  it('GraphQL returns the text exactly as stored (escaping is the client\'s job, and it does it)', async () => {
    const r = await session!.app.orm.em.fork().execute('SELECT text, answer_text, address FROM appeal WHERE id = ?', [appealId]);
    expect(r[0]).toEqual({ text: TEXT, answer_text: ANSWER, address: ADDRESS });
  });
});
