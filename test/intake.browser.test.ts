// End-to-end check of the intake page (/intake.html) in headless Chromium: a channel file is
// imported through the page with its report, a salted file shows its rejected lines, an appeal
// with an unrecognisable text is sorted in the triage queue, and an unknown address is placed
// on the small map in the address review queue. No request leaves the app origin.
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, repoRoot, type BrowserSession } from './helpers/browser.js';

const IM_HEADER = 'ID;Дата создания;Соцсеть;Ссылка;Текст;Автор;Категория;Адрес;Статус;Ответ;Дата ответа';

let session: BrowserSession | undefined;
let app: BrowserSession['app'] | undefined;
let context: BrowserContext | undefined;
let page: Page | undefined;
let origin = '';
let requests: string[] = [];
let failedResponses: string[] = [];
const pageErrors: string[] = [];

async function gqlFromNode<T = any>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const res = await fetch(`${app!.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data: T; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  return body.data;
}

/** Chooses channel and file in the form, presses "Загрузить" and waits for the report (or an error). */
async function importThroughPage(p: Page, channel: string, file: string | { name: string; mimeType: string; buffer: Buffer }): Promise<'done' | 'error'> {
  const name = typeof file === 'string' ? path.basename(file) : file.name;
  await p.selectOption('#i-channel', channel);
  await p.setInputFiles('#i-file', file);
  await p.getByRole('button', { name: 'Загрузить' }).click();
  await p.waitForSelector(`#import-result[data-file="${name}"]:is([data-state="done"], [data-state="error"])`, { timeout: 60_000 });
  // The page refreshes the queues and the batch list after every import.
  await p.waitForFunction(() => !document.querySelector('#i-submit[disabled]'));
  return (await p.getAttribute('#import-result', 'data-state')) as 'done' | 'error';
}

async function stat(p: Page, key: string): Promise<string> {
  return (await p.textContent(`#import-result [data-stat="${key}"] .stat-num`))?.trim() ?? '';
}

describe('intake page (browser)', () => {
  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 800, seed: 5 }, viewport: { width: 1440, height: 1000 } });
    ({ app, context, origin, requests, failedResponses } = session);
    page = await context!.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, HOOK_TIMEOUT);

  afterAll(async () => {
    await session?.close();
  }, HOOK_TIMEOUT);

  it('is linked from the map page and links back', { timeout: 240_000 }, async () => {
    const p = page!;
    await p.goto(`${app!.url}/`);
    const link = p.getByRole('link', { name: 'Приём обращений' });
    expect(await link.getAttribute('href')).toBe('/intake.html');
    await p.waitForSelector('body[data-ready="1"], body[data-error]', { timeout: 120_000 });
    await p.screenshot({ path: path.join(artifacts, 'intake-map-link.png'), clip: { x: 0, y: 0, width: 460, height: 120 } });
    await link.click();
    await p.waitForURL(/\/intake\.html$/);
    await p.waitForSelector('body[data-ready="1"], body[data-error]', { timeout: 120_000 });
    expect(await p.evaluate(() => document.body.dataset.error ?? null)).toBeNull();
    expect(await p.getByRole('link', { name: 'Карта' }).getAttribute('href')).toBe('/');
    expect(await p.textContent('h1')).toContain('Приём обращений');
    // The demo data has nothing waiting: both queues start empty.
    expect(await p.getAttribute('#triage-count', 'data-count')).toBe('0');
    expect(await p.getAttribute('#places-count', 'data-count')).toBe('0');
    await p.screenshot({ path: path.join(artifacts, 'intake-empty.png'), fullPage: true });
  });

  it('imports a channel file and shows the report', { timeout: 240_000 }, async () => {
    const p = page!;
    const state = await importThroughPage(p, 'INCIDENT_MANAGEMENT', path.join(repoRoot, 'db/samples/incident-management.csv'));
    expect(state).toBe('done');
    expect(await p.locator('#import-result .error').count()).toBe(0);
    expect(await stat(p, 'read')).toBe('4');
    expect(await stat(p, 'inserted')).toBe('4');
    expect(await stat(p, 'rejected')).toBe('0');
    expect((await p.textContent('#import-result [data-stat="inserted"]'))?.replace(/\s+/g, ' ').trim()).toBe('добавлено 4');
    expect(await p.textContent('#import-result')).toContain('Замечаний нет');
    // The batch list shows it first.
    expect(await p.textContent('#batch-list tr:first-child')).toContain('incident-management.csv');
    await p.screenshot({ path: path.join(artifacts, 'intake-import.png'), fullPage: true });
  });

  it('lists the bad lines of a salted file, and shows request errors', { timeout: 240_000 }, async () => {
    const p = page!;
    const csv = [
      IM_HEADER,
      'S-1;01.03.2026 10:00;ВКонтакте;;Нет горячей воды в доме;Анна;Отопление;пр. Ленина, 85;Новый;;', // line 2: good
      'S-2;32.13.2026 10:00;ВКонтакте;;Яма на дороге;Анна;Дороги;;Новый;;', //                        line 3: bad date
      'S-3;01.03.2026 10:00;ВКонтакте;;;Анна;Дороги;;Новый;;', //                                       line 4: empty text
    ].join('\n');
    const state = await importThroughPage(p, 'INCIDENT_MANAGEMENT', { name: 'salted.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    expect(state).toBe('done');
    expect(await stat(p, 'read')).toBe('3');
    expect(await stat(p, 'inserted')).toBe('1');
    expect(await stat(p, 'rejected')).toBe('2');
    const badDate = p.locator('#import-result tr[data-line="3"][data-field="receivedAt"]');
    expect(await badDate.getAttribute('data-severity')).toBe('ERROR');
    expect(await badDate.textContent()).toContain('ошибка');
    expect(await badDate.textContent()).toContain('S-2');
    const emptyText = p.locator('#import-result tr[data-line="4"][data-field="text"]');
    expect(await emptyText.textContent()).toContain('пустой текст обращения');
    expect(await emptyText.textContent()).toContain('S-3');
    await p.screenshot({ path: path.join(artifacts, 'intake-issues.png'), fullPage: true });

    // A file the server cannot read: the GraphQL error is shown with the field it names.
    const failed = await importThroughPage(p, 'INCIDENT_MANAGEMENT', { name: 'notes.doc', mimeType: 'application/msword', buffer: Buffer.from('x') });
    expect(failed).toBe('error');
    const message = (await p.textContent('#import-result .error')) ?? '';
    expect(message).toMatch(/^Ошибка: /);
    expect(message).toContain('format');
    await p.locator('#import-card').screenshot({ path: path.join(artifacts, 'intake-error.png') });
  });

  it('sorts an unrecognised appeal in the triage queue', { timeout: 240_000 }, async () => {
    const p = page!;
    const line = JSON.stringify({ id: 't1', created_at: '2026-03-01T10:00:00+07:00', text: 'Ыыы ааа', address: 'в Западном микрорайоне' });
    const state = await importThroughPage(p, 'SOCIAL', { name: 'social.jsonl', mimeType: 'application/x-ndjson', buffer: Buffer.from(line + '\n') });
    expect(state).toBe('done');
    expect(await stat(p, 'inserted')).toBe('1');
    const batchId = await p.getAttribute('#import-result', 'data-batch');

    const row = p.locator('#triage-list tr.triage-row', { hasText: 'Ыыы ааа' });
    await row.waitFor({ timeout: 30_000 });
    const before = Number(await p.getAttribute('#triage-count', 'data-count'));
    expect(before).toBeGreaterThan(0);
    // An address that names only a district: placed to the district, and the row says so.
    expect(await row.locator('.place-precision').textContent()).toBe('в Западном микрорайоне · точность места: район «Западный»');
    // Only leaf themes, grouped by their parent.
    expect(await row.locator('select optgroup[label="Благоустройство"] option', { hasText: 'Уличное освещение' }).count()).toBe(1);
    expect(await row.locator('select option', { hasText: /^ЖКХ$/ }).count()).toBe(0);
    await row.locator('select').selectOption({ label: 'Уличное освещение' });
    await row.scrollIntoViewIfNeeded();
    await p.screenshot({ path: path.join(artifacts, 'intake-triage.png'), fullPage: true });
    await row.getByRole('button', { name: 'Подтвердить тему' }).click();
    await row.waitFor({ state: 'detached', timeout: 30_000 });
    expect(Number(await p.getAttribute('#triage-count', 'data-count'))).toBe(before - 1);
    expect(await p.textContent('#triage-status')).toContain('Уличное освещение');

    const left = await gqlFromNode(`{ appeals(filter: { triage: true }, first: 500) { edges { node { text } } } }`);
    expect(left.appeals.edges.map((e: any) => e.node.text)).not.toContain('Ыыы ааа');
    const t1 = await gqlFromNode(`query($b: ID!) { appeals(filter: { batchId: $b }, first: 5) { edges { node { externalId themeSource theme { name } } } } }`, { b: batchId });
    expect(t1.appeals.edges.find((e: any) => e.node.externalId === 't1')?.node).toMatchObject({ themeSource: 'PERSON', theme: { name: 'Уличное освещение' } });
  });

  it('places an appeal with an unknown address on the small map', { timeout: 240_000 }, async () => {
    const p = page!;
    const csv = `${IM_HEADER}\nA-1;05.03.2026 10:00;ВКонтакте;;Не горят фонари во дворе, темно;Анна;Освещение;ул. Выдуманная, 7;Новый;;`;
    const state = await importThroughPage(p, 'INCIDENT_MANAGEMENT', { name: 'unknown-address.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    expect(state).toBe('done');
    expect(await p.locator('#import-result tr[data-field="address"]').count()).toBe(1);

    const row = p.locator('#places-list tr.place-row', { hasText: 'ул. Выдуманная, 7' });
    await row.waitFor({ timeout: 30_000 });
    const before = Number(await p.getAttribute('#places-count', 'data-count'));
    expect(before).toBeGreaterThan(0);
    await row.click();
    expect(await row.getAttribute('aria-selected')).toBe('true');
    await p.waitForSelector('#place-map[data-loaded="1"]', { timeout: 60_000 });
    await expect(p.getByRole('button', { name: 'Сохранить место' }).isDisabled()).resolves.toBe(true);

    // Click the map at пр. Ленина (Центральный district), wherever that is on screen.
    await p.locator('#place-map').scrollIntoViewIfNeeded();
    const at = await p.evaluate(() => {
      const m = (window as unknown as { __placeMap: { project(p: [number, number]): { x: number; y: number } } }).__placeMap;
      const px = m.project([81.2118, 51.5141]);
      return { x: px.x, y: px.y };
    });
    await p.locator('#place-map canvas').click({ position: at });
    expect(await p.textContent('#place-coords')).toContain('51.514');
    await p.screenshot({ path: path.join(artifacts, 'intake-places.png'), fullPage: true });

    await p.getByRole('button', { name: 'Сохранить место' }).click();
    await row.waitFor({ state: 'detached', timeout: 30_000 });
    await p.waitForSelector('#place-result .ok-note');
    expect(await p.textContent('#place-result .district-name')).toBe('Центральный');
    expect(Number(await p.getAttribute('#places-count', 'data-count'))).toBe(before - 1);
    await p.screenshot({ path: path.join(artifacts, 'intake-places-saved.png'), fullPage: true });

    const left = await gqlFromNode(`{ appeals(filter: { placeStatuses: ["UNRESOLVED"] }, first: 500) { edges { node { externalId } } } }`);
    expect(left.appeals.edges.map((e: any) => e.node.externalId)).not.toContain('A-1');
  });

  it('made no request outside the app origin, none failed, no page errors', () => {
    expect(requests.length).toBeGreaterThan(0);
    const outside = requests.filter((u) => !/^(data|blob|about):/.test(u) && new URL(u).origin !== origin);
    expect(outside).toEqual([]);
    expect(failedResponses).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
