// The «Open311: ключи доступа» page in headless Chromium: an ADMIN issues a key (shown once), the key works on the
// public endpoint and its uses are counted, then it is revoked; other roles are told the section is the administrator's.
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, type BrowserSession } from './helpers/browser.js';
import { Role } from '../server/auth/roles.js';
import { rawFetch } from './helpers/app.js';
import { SESSION_COOKIE } from '../server/auth/config.js';
import { createAndSignIn } from './helpers/app.js';

let session: BrowserSession | undefined;
let page: Page | undefined;
const pageErrors: string[] = [];

describe('Open311 keys page (browser)', () => {
  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 200, seed: 3 }, viewport: { width: 1360, height: 820 }, signIn: Role.ADMIN });
    page = await session.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, HOOK_TIMEOUT);

  afterAll(async () => {
    await session?.close();
  }, HOOK_TIMEOUT);

  it('is linked from the map page; an ADMIN issues a key shown once, sees its uses and revokes it', { timeout: 240_000 }, async () => {
    const p = page!;
    const { app } = session!;
    await p.goto(`${app.url}/`);
    const link = p.getByRole('link', { name: 'Open311: ключи доступа' });
    expect(await link.getAttribute('href')).toBe('/open311.html');
    await p.goto(`${app.url}/open311.html`);
    await p.waitForSelector('body[data-ready="1"], body[data-error]', { timeout: 60_000 });
    expect(await p.evaluate(() => document.body.dataset.error ?? null)).toBeNull();
    expect(await p.getAttribute('#keys-count', 'data-count')).toBe('0');
    expect(await p.inputValue('#k-channel')).toBe('OPEN311');

    // An empty name is refused in the page.
    await p.getByRole('button', { name: 'Выдать ключ' }).click();
    await p.waitForSelector('#error:not([hidden])');
    expect(await p.textContent('#error')).toContain('Укажите, кому выдан ключ');

    await p.fill('#k-name', 'Мобильное приложение «Мой Рубцовск»');
    await p.fill('#k-rate', '120');
    await p.getByRole('button', { name: 'Выдать ключ' }).click();
    await p.waitForSelector('#secret-box:not([hidden])');
    const secret = (await p.textContent('#secret-value'))!.trim();
    expect(secret).toMatch(/^o311_[A-Za-z0-9_-]{40,}$/);
    await p.waitForSelector('#keys-count[data-count="1"]');
    const row = p.locator('#keys-body tr').first();
    expect(await row.textContent()).toContain('Мобильное приложение «Мой Рубцовск»');
    expect(await row.textContent()).toContain(`${secret.slice(0, 9)}…`);
    expect(await row.textContent()).not.toContain(secret);
    expect(await row.textContent()).toContain('Действует');
    await p.screenshot({ path: path.join(artifacts, 'open311-keys-issued.png'), fullPage: true });

    // The key works on the public endpoint (a POST through intake); the page shows its use after a reload.
    const res = await rawFetch(`${app.url}/open311/v2/requests.json`, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ api_key: secret, service_code: 'roads.potholes', lat: '51.514', long: '81.212', description: 'Яма на дороге у остановки' }).toString(),
    });
    expect(res.status).toBe(201);
    // The use is logged after the reply: reload until it shows (at most 5 s).
    let uses: string | null = null;
    for (let i = 0; i < 25 && uses !== '1'; i++) {
      if (i) await new Promise((r) => setTimeout(r, 200));
      await p.reload();
      await p.waitForSelector('body[data-ready="1"]');
      uses = await p.getAttribute('#keys-body tr >> nth=0 >> td[data-uses]', 'data-uses');
    }
    expect(uses).toBe('1');
    // The secret is not shown again.
    expect(await p.isHidden('#secret-box')).toBe(true);

    p.once('dialog', (d) => void d.accept());
    await p.locator('[data-revoke]').first().click();
    await p.waitForSelector('#keys-body tr.revoked');
    expect(await p.textContent('#keys-body tr.revoked')).toContain('Отозван');
    await p.screenshot({ path: path.join(artifacts, 'open311-keys-revoked.png'), fullPage: true });
    const after = await rawFetch(`${app.url}/open311/v2/services.json?api_key=${encodeURIComponent(secret)}`);
    expect(after.status).toBe(403);
    expect(pageErrors).toEqual([]);
    expect(session!.offsite()).toEqual([]);
  });

  it('tells other roles the section is the administrator\'s', { timeout: 120_000 }, async () => {
    const { app, browser } = session!;
    const curator = await createAndSignIn(app, { login: 'browser-curator-o311', role: Role.CURATOR });
    const ctx = await browser.newContext({ viewport: { width: 1200, height: 500 }, locale: 'ru-RU' });
    try {
      await ctx.addCookies([{ name: SESSION_COOKIE, value: curator.token!, url: session!.origin, httpOnly: true, sameSite: 'Strict' }]);
      const p = await ctx.newPage();
      await p.goto(`${app.url}/open311.html`);
      await p.waitForSelector('body[data-ready="1"]');
      expect(await p.isVisible('#forbidden')).toBe(true);
      expect(await p.isHidden('#issue-card')).toBe(true);
      await p.screenshot({ path: path.join(artifacts, 'open311-keys-forbidden.png') });
    } finally {
      await ctx.close();
    }
  });
});
