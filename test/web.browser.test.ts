// End-to-end check of the web client in headless Chromium (WebGL through SwiftShader):
// the map page draws districts and appeals from the demo data, GraphiQL opens at /graphql,
// and no request leaves the machine.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp } from '../server/app.js';
import { freshDatabase, type FreshDatabase } from './helpers/backends.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const artifacts = path.join(here, 'artifacts');

// Flags verified with Debian Chromium 156: WebGL2 via ANGLE + SwiftShader, no GPU, no background traffic.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-gpu',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
];

const HOOK_TIMEOUT = 240_000;

let app: { url: string; close(): Promise<void> } | undefined;
let browser: Browser | undefined;
let context: BrowserContext | undefined;
let db: FreshDatabase | undefined;
let origin = '';
const requests: string[] = [];
const failedResponses: string[] = [];
const pageErrors: string[] = [];

/** Requests that never touch the network (inline data, in-page blobs). */
function isLocalScheme(url: string): boolean {
  return url.startsWith('data:') || url.startsWith('blob:') || url.startsWith('about:');
}

describe('web client (browser)', () => {
  beforeAll(async () => {
    // The server serves the built client from dist/web; build it when running this file alone.
    if (!fs.existsSync(path.join(repoRoot, 'dist/web/index.html')) || !fs.existsSync(path.join(repoRoot, 'dist/web/graphiql.html'))) {
      const { build } = await import('vite');
      await build({ configFile: path.join(repoRoot, 'web/vite.config.ts'), logLevel: 'warn' });
    }

    // Embedded backend in a fresh temp folder (a copy of the global-setup template when present).
    db = await freshDatabase('embedded');
    app = await startApp({
      dataDir: db.dataDir,
      host: '127.0.0.1',
      port: 0,
      demo: { count: 3000, seed: 11 },
      basemapStyleUrl: null,
      log: () => undefined,
    });
    origin = new URL(app.url).origin;

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'ru-RU', timezoneId: 'Asia/Barnaul' });
    context.on('request', (req) => requests.push(req.url()));
    context.on('response', (res) => {
      if (res.status() >= 400) failedResponses.push(`${res.status()} ${res.url()}`);
    });
    fs.mkdirSync(artifacts, { recursive: true });
  }, HOOK_TIMEOUT);

  afterAll(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await app?.close();
    await db?.drop();
  }, HOOK_TIMEOUT);

  it('draws districts and appeals on the map, offline', { timeout: 240_000 }, async () => {
    const page = await context!.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));

    await page.goto(`${app!.url}/`);
    await page.waitForSelector('body[data-ready="1"], body[data-error]', { timeout: 120_000 });

    const state = await page.evaluate(() => ({
      ready: document.body.dataset.ready,
      error: document.body.dataset.error ?? null,
      appeals: Number(document.body.dataset.appeals ?? '0'),
      districtItems: document.querySelectorAll('#district-list li[data-id]').length,
      latestItems: document.querySelectorAll('#latest-list li button').length,
      title: document.querySelector('#panel h1')?.textContent ?? '',
    }));
    expect(state.error).toBeNull();
    expect(state.ready).toBe('1');
    expect(state.appeals).toBeGreaterThan(0);
    expect(state.districtItems).toBeGreaterThan(0);
    expect(state.latestItems).toBeGreaterThan(0);
    expect(state.title).toContain('МЦУ Hub');

    // The map really rendered our layers with WebGL.
    const rendered = await page.evaluate(() => {
      const map = (window as unknown as { __map: { queryRenderedFeatures(o: object): unknown[] } }).__map;
      return {
        points: map.queryRenderedFeatures({ layers: ['mcu-appeal-points', 'mcu-appeal-clusters'] }).length,
        districts: map.queryRenderedFeatures({ layers: ['mcu-district-fill'] }).length,
      };
    });
    expect(rendered.points).toBeGreaterThan(0);
    expect(rendered.districts).toBeGreaterThan(0);

    await page.screenshot({ path: path.join(artifacts, 'map.png') });
    await page.close();

    expect(pageErrors).toEqual([]);
  });

  it('serves offline GraphiQL at /graphql for browsers', { timeout: 240_000 }, async () => {
    const page = await context!.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));

    // A normal navigation: Chromium sends Accept: text/html.
    const res = await page.goto(`${app!.url}/graphql`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-type'] ?? '').toContain('text/html');
    await page.waitForSelector('.graphiql-container .graphiql-query-editor .CodeMirror', { timeout: 60_000 });
    expect(await page.title()).toBe('МЦУ Hub — GraphQL');

    // Run the example query and expect data back.
    await page.click('.graphiql-execute-button');
    await page.waitForFunction(
      () => (document.querySelector('.graphiql-response .CodeMirror') as unknown as { CodeMirror?: { getValue(): string } })?.CodeMirror?.getValue().includes('"data"'),
      undefined,
      { timeout: 60_000 },
    );
    const response = await page.evaluate(
      () => (document.querySelector('.graphiql-response .CodeMirror') as unknown as { CodeMirror: { getValue(): string } }).CodeMirror.getValue(),
    );
    expect(response).toContain('totalCount');
    expect(response).not.toContain('"errors"');

    await page.screenshot({ path: path.join(artifacts, 'graphiql.png') });
    await page.close();

    expect(pageErrors).toEqual([]);
  });

  it('made no request outside the app origin and none failed', () => {
    expect(requests.length).toBeGreaterThan(0);
    const outside = requests.filter((u) => !isLocalScheme(u) && new URL(u).origin !== origin);
    expect(outside).toEqual([]);
    expect(failedResponses).toEqual([]);
  });
});
