// «Адресное информирование» and «Рекомендации» in headless Chromium: planned works added from the page, the audience by
// district and by an area drawn on the map (offline style), a call-back drafted from a template, recorded and its list
// of consenting authors shown; hostile text refused with a message. Recommendations: filters, evidence, accept with an
// edit (then seen on the organisation's card), reject needs a reason, thresholds saved. Screenshots: test/artifacts/.
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { artifacts, HOOK_TIMEOUT, openBrowserSession, type BrowserSession } from './helpers/browser.js';
import { backends } from './helpers/backends.js';

describe.each(backends)('informing and recommendations pages (browser, %s)', (backend) => {
  const shot = (name: string) => path.join(artifacts, backend === 'embedded' ? `${name}.png` : `${name}-${backend}.png`);
  let session: BrowserSession | undefined;
  let page: Page;
  const errors: string[] = [];
  let orgId: number;

  beforeAll(async () => {
    session = await openBrowserSession({ demo: { count: 2000, seed: 7 }, viewport: { width: 1440, height: 1000 }, backend });
    const sql = (q: string) => session!.app.orm.em.fork().execute(q);
    // an organisation with far more overdue appeals than the city in the last 90 days → an ORG_OVERDUE recommendation
    const [org] = await sql(`SELECT id FROM organization WHERE code = 'teploseti'`);
    orgId = org.id;
    await sql(`INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, district_id, theme_id, organization_id, status, due_at)
      SELECT 1, 'POS', 'REC-B-' || g, (SELECT max(received_at) FROM appeal) - interval '20 days' + make_interval(mins => g), 'CITIZEN', 'Нет отопления',
             (SELECT id FROM district ORDER BY id LIMIT 1), (SELECT id FROM theme WHERE code = 'gkh.heating'), ${orgId}, 'NEW', (SELECT max(received_at) FROM appeal) - interval '15 days'
        FROM generate_series(1, 60) g`);
    await sql(`INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, theme_id, organization_id, status, due_at, answered_at, answer_text)
      SELECT 1, 'POS', 'REC-C-' || g, (SELECT max(received_at) FROM appeal) - interval '20 days' + make_interval(mins => g), 'CITIZEN', 'Вопрос', (SELECT id FROM theme WHERE code = 'gkh.water'),
             (SELECT id FROM organization WHERE code = 'vodokanal'), 'ANSWERED', (SELECT max(received_at) FROM appeal), (SELECT max(received_at) FROM appeal) - interval '19 days', 'Ваше обращение рассмотрено.'
        FROM generate_series(1, 60) g`);
    const r = await session.client!.gql('mutation { generateRecommendations { created notes } }');
    expect(r.errors).toBeUndefined();
    expect(r.data.generateRecommendations.created).toBeGreaterThan(1);
    page = await session.context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
  }, HOOK_TIMEOUT);
  afterAll(async () => { await session?.close(); });

  it('informing: planned works, audience by district and by a drawn area, a call-back recorded and its list', async () => {
    await page.goto(`${session!.origin}/informing.html`);
    await page.waitForFunction(() => (window as any).__informingReady || document.getElementById('error')?.hidden === false, undefined, { timeout: 60_000 });
    expect(await page.locator('#error').isHidden()).toBe(true);
    // a new planned works notice
    await page.locator('#pw-new summary').click();
    await page.locator('#pw-title').fill('Замена участка водопровода');
    await page.locator('#pw-address').fill('ул. Ленина, 10–20');
    await page.locator('#pw-start').fill('2026-12-03T09:00');
    await page.locator('#pw-end').fill('2026-12-04T18:00');
    await page.locator('#pw-org').selectOption({ label: await page.locator('#pw-org option').nth(1).textContent() ?? '' });
    await page.locator('#pw-save').click();
    await page.waitForFunction(() => /Добавлено: № \d+/.test(document.getElementById('pw-result')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await page.waitForFunction(() => document.querySelectorAll('#s-item option[value]:not([value=""])').length === 1, undefined, { timeout: 15_000 });

    // audience: the first district
    await page.locator('#a-districts input').first().check();
    await page.locator('#a-count').click();
    await page.waitForFunction(() => !document.getElementById('a-figures')?.hidden, undefined, { timeout: 20_000 });
    const appeals = Number((await page.locator('#a-appeals').textContent())!.replace(/\s/g, ''));
    expect(appeals).toBeGreaterThan(0);
    expect(await page.locator('#a-desc').textContent()).toMatch(/районы: .+ · обращения с \d\d\.\d\d\.\d{4} по/);
    await page.waitForFunction(() => (window as any).__infMap?.querySourceFeatures('inf-area').length > 0, undefined, { timeout: 20_000 });

    // audience: an area drawn on the map around the centre
    await page.locator('#a-kind button[data-kind="AREA"]').click();
    await page.locator('#a-draw').click();
    const box = (await page.locator('#inf-map').boundingBox())!;
    const cx = box.x + box.width / 2, cy = box.y + box.height / 2;
    for (const [dx, dy] of [[-200, -160], [200, -160], [200, 160], [-200, 160]]) await page.mouse.click(cx + dx, cy + dy);
    expect(await page.locator('#a-vertices').textContent()).toBe('вершин: 4');
    await page.locator('#a-close').click();
    expect(await page.locator('#a-vertices').textContent()).toBe('контур: 4 вершин');
    await page.locator('#a-count').click();
    await page.waitForFunction(() => /нарисованный контур/.test(document.getElementById('a-desc')?.textContent ?? ''), undefined, { timeout: 20_000 });
    const inArea = Number((await page.locator('#a-appeals').textContent())!.replace(/\s/g, ''));
    expect(inArea).toBeGreaterThan(0);
    const consenting = Number((await page.locator('#a-consenting').textContent())!.replace(/\s/g, ''));
    expect(consenting).toBeGreaterThan(0);

    // draft a call-back from the template, record it, show the list
    // the template is data: a hostile or unknown placeholder is refused with a message; a good edit is saved and used
    await page.locator('#m-template').selectOption('callback.planned');
    await page.locator('#t-edit summary').click();
    expect(await page.locator('#t-body').inputValue()).toMatch(/\{\{period\}\}/);
    const original = await page.locator('#t-body').inputValue();
    await page.locator('#t-body').fill(`${original} {{secret}}`);
    await page.locator('#t-save').click();
    await page.waitForFunction(() => /неизвестная подстановка \{\{secret\}\}/.test(document.getElementById('t-result')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await page.locator('#t-body').fill(`${original} Спасибо за обращение.`);
    await page.locator('#t-save').click();
    await page.waitForFunction(() => /Сохранено/.test(document.getElementById('t-result')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await page.locator('#m-draft').click();
    await page.waitForFunction(() => /Здравствуйте! .+Замена участка водопровода.+Спасибо за обращение\.$/s.test((document.getElementById('m-text') as HTMLTextAreaElement).value), undefined, { timeout: 15_000 });
    expect(await page.locator('#m-channel').textContent()).toBe('обзвон (сценарий звонка)');
    await page.waitForTimeout(500);
    await page.screenshot({ path: shot('informing-draft'), fullPage: true });
    // hostile text is refused with a message naming the problem
    const good = await page.locator('#m-text').inputValue();
    await page.locator('#m-text').fill('<script>alert(1)</script> Здравствуйте');
    await page.locator('#m-record').click();
    await page.waitForFunction(() => /только простой текст/.test(document.getElementById('m-result')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await page.locator('#m-text').fill(good);
    await page.locator('#m-note').fill('звонят операторы смены');
    await page.locator('#m-record').click();
    await page.waitForFunction(() => /Записано: № \d+/.test(document.getElementById('m-result')?.textContent ?? ''), undefined, { timeout: 15_000 });
    expect(await page.locator('#cb').isVisible()).toBe(true);
    expect(Number((await page.locator('#cb-count').textContent())!.replace(/\s/g, ''))).toBe(consenting);
    await page.locator('#cb-show').click();
    await page.waitForFunction(() => document.querySelectorAll('#cb-rows tr').length > 0, undefined, { timeout: 15_000 });
    expect(await page.locator('#cb-rows tr').count()).toBe(Math.min(consenting, 200) + (consenting > 200 ? 1 : 0));
    expect(await page.locator('#cb-xlsx').getAttribute('href')).toMatch(/^\/exports\/callback\.xlsx\?informingId=\d+$/);
    await page.waitForFunction(() => document.querySelectorAll('#log-rows tr[data-id]').length === 1, undefined, { timeout: 15_000 });
    const logged = await session!.app.orm.em.fork().execute(`SELECT count(*)::int AS n FROM pd_access_log WHERE operation = 'CALLBACK_LIST'`);
    expect(logged[0].n).toBe(consenting);
    await page.screenshot({ path: shot('informing-callback'), fullPage: true });

    // opened from a problem (or a risk card's link): the occasion is preselected, the audience is the problem's outline
    const [p] = await session!.app.orm.em.fork().execute(`SELECT id FROM problem WHERE active ORDER BY score DESC LIMIT 1`);
    await page.goto('about:blank');
    await page.goto(`${session!.origin}/informing.html#kind=PROBLEM&id=${p.id}`);
    await page.waitForFunction(() => (window as any).__informingReady, undefined, { timeout: 60_000 });
    expect(await page.locator('#s-kind').inputValue()).toBe('PROBLEM');
    expect(await page.locator('#s-item').inputValue()).toBe(String(p.id));
    expect(await page.locator('#a-kind button.active').getAttribute('data-kind')).toBe('PROBLEM');
    await page.locator('#a-count').click();
    await page.waitForFunction(() => /контур проблемы/.test(document.getElementById('a-desc')?.textContent ?? ''), undefined, { timeout: 20_000 });
  });

  it('recommendations: filters, evidence, accept with an edit, reject with a reason, thresholds; the organisation card', async () => {
    await page.goto(`${session!.origin}/recommendations.html`);
    await page.waitForFunction(() => (window as any).__recsReady || document.getElementById('error')?.hidden === false, undefined, { timeout: 60_000 });
    expect(await page.locator('#error').isHidden()).toBe(true);
    const total = await page.locator('.rec').count();
    expect(total).toBeGreaterThan(1);
    await page.locator('#f-rule').selectOption('ORG_OVERDUE');
    await page.waitForFunction(() => [...document.querySelectorAll('.rec strong')].every((s) => s.textContent === 'Организация с высокой долей просрочек'), undefined, { timeout: 15_000 });
    const rec = page.locator('.rec').filter({ hasText: 'просрочено или отвечено с опозданием' }).filter({ has: page.locator(`a[href="/control.html?org=${orgId}"]`) });
    expect(await rec.count()).toBe(1);
    expect(await rec.locator('.rec-figures').textContent()).toMatch(/доля по городу/);
    await rec.locator('.rec-ev-btn').click();
    await page.waitForFunction(() => document.querySelectorAll('.rec-evidence tr[data-appeal]').length > 0, undefined, { timeout: 15_000 });
    await page.screenshot({ path: shot('recommendations-list'), fullPage: true });
    const edited = 'Тепловым сетям: разобрать просроченные обращения и доложить координатору.';
    await rec.locator('.rec-edit').fill(edited);
    const recId = await rec.getAttribute('data-id');
    await rec.locator('.rec-accept').click();
    await page.waitForFunction((id) => !document.querySelector(`.rec[data-id="${id}"]`), recId, { timeout: 15_000 });
    await page.locator('#f-status').selectOption('ACCEPTED');
    await page.waitForFunction((t) => [...document.querySelectorAll('.rec.ACCEPTED .rec-text')].some((p) => p.textContent === t), edited, { timeout: 15_000 });
    expect(await page.locator('.rec.ACCEPTED .rec-decision').first().textContent()).toMatch(/Принял: browser-curator/);

    // reject needs a reason
    await page.locator('#f-status').selectOption('PROPOSED');
    await page.locator('#f-rule').selectOption('');
    await page.waitForFunction(() => document.querySelectorAll('.rec.PROPOSED').length > 0, undefined, { timeout: 15_000 });
    const other = page.locator('.rec.PROPOSED').first();
    const otherId = await other.getAttribute('data-id');
    await other.locator('.rec-reject').click();
    await page.waitForFunction(() => /укажите, почему/.test(document.querySelector('.rec.PROPOSED .rec-result')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await other.locator('.rec-comment').fill('шаблон ответа утверждён регламентом');
    await other.locator('.rec-reject').click();
    await page.waitForFunction((id) => !document.querySelector(`.rec[data-id="${id}"]`), otherId, { timeout: 15_000 });

    // thresholds with their explanations
    const rule = page.locator('form.rule[data-code="ORG_OVERDUE"]');
    expect(await rule.textContent()).toMatch(/во сколько раз выше города \(ratio\)/);
    await rule.locator('input[data-key="ratio"]').fill('2');
    await rule.locator('button[type="submit"]').click();
    await page.waitForFunction(() => /Сохранено/.test(document.querySelector('form.rule[data-code="ORG_OVERDUE"]')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await rule.locator('input[data-key="ratio"]').fill('50');
    await rule.locator('button[type="submit"]').click();
    await page.waitForFunction(() => /от 1 до 10/.test(document.querySelector('form.rule[data-code="ORG_OVERDUE"] .form-actions')?.textContent ?? ''), undefined, { timeout: 15_000 });
    const log = await session!.app.orm.em.fork().execute(`SELECT entity, action FROM audit_log WHERE entity LIKE 'recommendation%' ORDER BY id`);
    expect(log.map((l: any) => `${l.entity}:${l.action}`)).toEqual(['recommendation:accept', 'recommendation:reject', 'recommendation_rule:update']);
    await page.screenshot({ path: shot('recommendations-decided'), fullPage: true });

    // the accepted recommendation on the addressee's card
    await page.goto(`${session!.origin}/control.html?org=${orgId}`);
    await page.waitForFunction((t) => [...document.querySelectorAll('#org-recs li')].some((li) => li.textContent?.includes(t)), edited, { timeout: 60_000 });
    expect(await page.locator('#org-recs-count').textContent()).toBe('1');
    await page.locator('#org-card').screenshot({ path: shot('recommendations-org-card') });
    expect(session!.offsite()).toEqual([]);
    expect(errors).toEqual([]);
  });
});
