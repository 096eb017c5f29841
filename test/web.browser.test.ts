// End-to-end check of the web client in headless Chromium (WebGL through SwiftShader):
// the map page draws districts and appeals from the demo data, GraphiQL opens at /graphql,
// and no request leaves the machine.
import path from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, type BrowserSession } from './helpers/browser.js';
import { PAGES } from '../web/site.js';

let session: BrowserSession | undefined;
let app: BrowserSession['app'] | undefined;
let context: BrowserContext | undefined;
let origin = '';
let requests: string[] = [];
let failedResponses: string[] = [];
const pageErrors: string[] = [];

describe('web client (browser)', () => {
  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 3000, seed: 11 } });
    ({ app, context, origin, requests, failedResponses } = session);
  }, HOOK_TIMEOUT);

  afterAll(async () => {
    await session?.close();
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

    // The panel links every page of web/site.ts a municipal role can use; the regional view only for ЦУР roles.
    const shown = await page.locator('#panel nav a.page-link').evaluateAll((as) => as.filter((a) => (a as HTMLElement).offsetParent !== null).map((a) => a.id));
    expect(shown).toEqual(PAGES.filter((p) => p.label && !p.regionOnly).map((p) => `link-${p.name}`));
    expect(await page.locator('#link-region').isVisible()).toBe(false);

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
    const outside = requests.filter((u) => !/^(data|blob|about):/.test(u) && new URL(u).origin !== origin);
    expect(outside).toEqual([]);
    expect(failedResponses).toEqual([]);
  });
});
