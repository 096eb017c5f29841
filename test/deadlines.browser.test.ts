// The page «Сроки и календарь» (/deadlines.html) and the deadline part of the appeal card, in headless Chromium:
// the rules table and its edit form (a bad norm named, a good one saved as a new version), the calendar of a year with
// its shortened and moved days, the import of a year's file, and «Продлить срок» in an appeal's card. Screenshots go to
// test/artifacts/. No request leaves the app origin.
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, type BrowserSession } from './helpers/browser.js';

let session: BrowserSession | undefined;
let page: Page | undefined;
const pageErrors: string[] = [];

describe('deadlines page (browser)', () => {
  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 600, seed: 3 }, viewport: { width: 1440, height: 1000 } });
    page = await session.context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, HOOK_TIMEOUT);

  afterAll(async () => {
    await session?.close();
  }, HOOK_TIMEOUT);

  it('is linked from the map page; shows the rules, the working hours and the calendar', { timeout: 120_000 }, async () => {
    const p = page!;
    await p.goto(`${session!.app.url}/`);
    expect(await p.getByRole('link', { name: 'Сроки и календарь' }).getAttribute('href')).toBe('/deadlines.html');
    await p.goto(`${session!.app.url}/deadlines.html`);
    await p.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
    expect(await p.textContent('#rules-count')).toBe('13');
    const direct = await p.textContent('#rules-list tr:has-text("Прямое обращение"):has-text("обычные")');
    expect(direct).toContain('30 кал. дн.');
    expect(direct).toContain('по умолчанию');
    expect(await p.textContent('#hours')).toContain('08:00–12:00, 12:48–16:00');
    await p.selectOption('#cal-year', '2025');
    expect(await p.getAttribute('#calendar [data-date="2025-03-07"]', 'class')).toContain('short');
    expect(await p.getAttribute('#calendar [data-date="2025-01-08"]', 'class')).toContain('off');
    expect(await p.textContent('#cal-summary')).toContain('рабочих дней 247');
    await p.selectOption('#cal-year', '2024');
    expect(await p.getAttribute('#calendar [data-date="2024-04-27"]', 'class')).toContain('moved');
    await p.screenshot({ path: path.join(artifacts, 'deadlines-page.png'), fullPage: true });
  });

  it('edits a rule: a bad norm is named and nothing changes; a good one becomes a new version', { timeout: 120_000 }, async () => {
    const p = page!;
    await p.click('#rules-list tr:has-text("Прямое обращение"):has-text("обычные") button:has-text("Изменить")');
    await p.waitForSelector('#rule-form-card:not([hidden])');
    await p.fill('#r-answer', '-5');
    await p.click('#r-save');
    await p.waitForSelector('#r-result.bad');
    expect(await p.textContent('#r-result')).toContain('rule.answerNorm');
    expect(await p.getAttribute('#r-answer', 'class')).toContain('field-error');
    await p.screenshot({ path: path.join(artifacts, 'deadlines-rule-error.png') });
    await p.fill('#r-answer', '25');
    await p.fill('#r-source', 'Местный регламент (проверка)');
    await p.click('#r-save');
    await p.waitForSelector('#rule-form-card[hidden]', { state: 'attached' });
    await p.waitForFunction(() => document.querySelector('#rules-list')?.textContent?.includes('25 кал. дн.'));
    await p.check('#rules-history');
    await p.waitForSelector('#rules-list tr.old');
    expect(await p.textContent('#rules-list tr.old')).toContain('30 кал. дн.');
    await p.screenshot({ path: path.join(artifacts, 'deadlines-rule-versions.png'), fullPage: true });
  });

  it('imports a calendar year from a file; a broken file changes nothing', { timeout: 120_000 }, async () => {
    const p = page!;
    const xml = fs.readFileSync('db/reference/calendar/ru-2026.xml', 'utf8').replace('year="2026"', 'year="2027"');
    await p.setInputFiles('#cal-file', { name: 'ru-2027.xml', mimeType: 'text/xml', buffer: Buffer.from(xml) });
    await p.click('#cal-submit');
    await p.waitForSelector('#cal-result.ok');
    expect(await p.textContent('#cal-result')).toContain('2027 год загружен');
    expect(await p.inputValue('#cal-year')).toBe('2027');
    await p.setInputFiles('#cal-file', { name: 'broken.xml', mimeType: 'text/xml', buffer: Buffer.from(xml.replace('year="2027"', 'year="2028"').replace('d="01.02"', 'd="13.40"')) });
    await p.click('#cal-submit');
    await p.waitForSelector('#cal-result.bad');
    expect(await p.textContent('#cal-result')).toContain('13.40');
    expect(await p.$$eval('#cal-year option', (o) => o.map((x) => (x as HTMLOptionElement).value))).toEqual(['2024', '2025', '2026', '2027']);
    await p.screenshot({ path: path.join(artifacts, 'deadlines-calendar-import.png') });
  });

  it('shows due times, state and extensions in the appeal card and extends a deadline', { timeout: 180_000 }, async () => {
    const p = page!;
    const [a] = await session!.app.orm.em.fork().execute(`SELECT id FROM appeal WHERE channel = 'DIRECT' AND answered_at IS NULL AND point IS NOT NULL
      AND answer_due_at IS NOT NULL AND status NOT IN ('CLOSED', 'REJECTED') ORDER BY received_at DESC LIMIT 1`);
    expect(a).toBeDefined();
    await p.goto(`${session!.app.url}/`);
    await p.waitForFunction(() => (window as any).__map?.loaded(), undefined, { timeout: 60_000 });
    await p.evaluate(async (appealId) => {
      const res = await fetch('/graphql', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: `{ appeal(id: "${appealId}") { point } }` }) });
      const { data } = await res.json();
      // the point near the top of the map, so that the card (below it) fits
      (window as any).__map.easeTo({ center: data.appeal.point.coordinates, zoom: 17, offset: [0, -330], duration: 0 });
    }, a.id);
    await p.waitForTimeout(1500);
    await p.evaluate((appealId) => {
      const map = (window as any).__map;
      const f = map.queryRenderedFeatures({ layers: ['mcu-appeal-points'] }).find((x: any) => String(x.properties.id) === String(appealId));
      if (!f) throw new Error('appeal point not rendered');
      map.fire('click', { point: map.project(f.geometry.coordinates), lngLat: f.geometry.coordinates, features: [f], originalEvent: new MouseEvent('click') });
    }, a.id);
    await p.waitForSelector(`.mcu-popup [data-deadline="${a.id}"] .dl-state`, { timeout: 30_000 });
    const card = await p.textContent('.mcu-popup .deadline-box');
    expect(card).toContain('Ответ до');
    await p.click('.mcu-popup [data-action="extend"]');
    await p.fill('.mcu-popup .dl-form input[type=text]', 'Запрошены документы в Росреестре');
    await p.fill('.mcu-popup .dl-form input[type=number]', '5');
    await p.selectOption('.mcu-popup .dl-form select', 'CALENDAR_DAYS');
    // 59-ФЗ: without the notice the server refuses, naming the field
    await p.click('.mcu-popup .dl-form button[type=submit]');
    await p.waitForSelector('.mcu-popup .dl-form .bad');
    expect(await p.textContent('.mcu-popup .dl-form .bad')).toContain('authorNotified');
    await p.check('.mcu-popup .dl-form input[type=checkbox]');
    await p.click('.mcu-popup .dl-form button[type=submit]');
    await p.waitForSelector('.mcu-popup [data-extension]', { timeout: 30_000 });
    expect(await p.textContent('.mcu-popup [data-extension]')).toContain('Запрошены документы в Росреестре; автор уведомлён');
    expect(await p.isHidden('.mcu-popup .dl-form')).toBe(true);
    await p.screenshot({ path: path.join(artifacts, 'deadlines-appeal-card.png') });
    expect(session!.offsite()).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('an interim answer in the card moves an Инцидент Менеджмент answer to 7 working days from registration', { timeout: 180_000 }, async () => {
    const p = page!;
    const em = session!.app.orm.em.fork();
    const [a] = await em.execute(`SELECT a.id FROM appeal a WHERE a.channel = 'INCIDENT_MANAGEMENT' AND a.answered_at IS NULL AND a.point IS NOT NULL
      AND a.answer_due_at IS NOT NULL AND a.status NOT IN ('CLOSED', 'REJECTED')
      AND NOT EXISTS (SELECT 1 FROM appeal_event e WHERE e.appeal_id = a.id AND e.kind = 'EXTENSION')
      -- alone at its point (a repeat shares its first appeal's point; the click must reach this one)
      AND NOT EXISTS (SELECT 1 FROM appeal b WHERE b.id <> a.id AND b.point IS NOT NULL AND ST_DWithin(b.point, a.point, 0.0002))
      ORDER BY a.received_at DESC LIMIT 1`);
    expect(a).toBeDefined();
    await p.goto(`${session!.app.url}/`);
    await p.waitForFunction(() => (window as any).__map?.loaded(), undefined, { timeout: 60_000 });
    await p.evaluate(async (appealId) => {
      const res = await fetch('/graphql', { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: `{ appeal(id: "${appealId}") { point } }` }) });
      const { data } = await res.json();
      (window as any).__map.easeTo({ center: data.appeal.point.coordinates, zoom: 17, offset: [0, -330], duration: 0 });
    }, a.id);
    await p.waitForTimeout(1500);
    await p.evaluate((appealId) => {
      const map = (window as any).__map;
      const f = map.queryRenderedFeatures({ layers: ['mcu-appeal-points'] }).find((x: any) => String(x.properties.id) === String(appealId));
      if (!f) throw new Error('appeal point not rendered');
      map.fire('click', { point: map.project(f.geometry.coordinates), lngLat: f.geometry.coordinates, features: [f], originalEvent: new MouseEvent('click') });
    }, a.id);
    await p.waitForSelector(`.mcu-popup [data-deadline="${a.id}"] .dl-state`, { timeout: 30_000 })
      .catch(async (e) => { await p.screenshot({ path: path.join(artifacts, 'deadlines-interim-not-found.png') }); throw e; });
    await p.click('.mcu-popup [data-action="extend"]');
    expect(await p.textContent('.mcu-popup .dl-form')).toContain('от регистрации');
    await p.fill('.mcu-popup .dl-form textarea', 'Заявка передана подрядчику, работы назначены на четверг');
    await p.click('.mcu-popup .dl-form button[type=submit]');
    await p.waitForSelector('.mcu-popup [data-extension]', { timeout: 30_000 });
    expect(await p.textContent('.mcu-popup [data-extension]')).toContain('промежуточный ответ: «Заявка передана подрядчику, работы назначены на четверг»');
    const [x] = await em.execute(`SELECT a.answer_due_at, a.received_at, a.first_response_at FROM appeal a WHERE a.id = ?`, [a.id]);
    expect(x.first_response_at).not.toBeNull();
    // 7 working days from registration: the end of a working day 9–15 calendar days later
    const days = (new Date(x.answer_due_at).getTime() - new Date(x.received_at).getTime()) / 86_400_000;
    expect(days).toBeGreaterThan(7);
    expect(days).toBeLessThan(16);
    await p.screenshot({ path: path.join(artifacts, 'deadlines-interim-answer.png') });
    expect(session!.offsite()).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
