import { describe, expect, it } from 'vitest';
import { checkPageUrl, checkPosWidgetUrl, ogrnValid, pageKeyOf } from '../server/pages/urls.js';
import { ReplyClock, readDefaults, sharedWorkingHours } from '../server/pages/config.js';
import { localMonthStart } from '../server/worktime/worktime.js';
import { VkClient, VkApiError } from '../server/pages/vk.js';
import { commentKind, parseMonth } from '../server/pages/importer.js';
import { fixtureFetch } from './helpers/vk-fixtures.js';

/** Pure parts of official pages: URLs per platform, the ПОС widget link, ОГРН, working time, months, the VK client on recorded responses. */


const noSleep = async () => undefined;

describe('official page URLs', () => {
  it('accepts each platform’s forms and gives one key however spelled', () => {
    expect(checkPageUrl('VK', 'https://vk.com/rubtsovsk_adm')).toMatchObject({ url: 'https://vk.com/rubtsovsk_adm', key: 'vk.com/rubtsovsk_adm', handle: 'rubtsovsk_adm' });
    expect(checkPageUrl('VK', 'm.vk.com/Rubtsovsk_Adm/').key).toBe('vk.com/rubtsovsk_adm');
    expect(checkPageUrl('VK', 'http://www.vk.ru/rubtsovsk_adm').key).toBe('vk.com/rubtsovsk_adm');
    expect(checkPageUrl('OK', 'https://ok.ru/group/70000001234567').key).toBe('ok.ru/group/70000001234567');
    expect(checkPageUrl('TELEGRAM', 'https://t.me/edds_rubtsovsk').key).toBe('t.me/edds_rubtsovsk');
    expect(checkPageUrl('MAX', 'https://max.ru/rubtsovsk').key).toBe('max.ru/rubtsovsk');
    expect(checkPageUrl('WEBSITE', 'https://rubschool.ru/').key).toBe('rubschool.ru');
    expect(pageKeyOf('https://m.vk.com/rubtsovsk_adm/')).toBe('vk.com/rubtsovsk_adm');
  });

  it('refuses broken URLs with the reason', () => {
    expect(() => checkPageUrl('VK', 'https://ok.ru/abc')).toThrow(/не является адресом страницы ВКонтакте/);
    expect(() => checkPageUrl('VK', 'https://vk.com/wall-1_2/extra')).toThrow(/неверный путь/);
    expect(() => checkPageUrl('TELEGRAM', 'https://t.me/ab')).toThrow(/5–32/);
    expect(() => checkPageUrl('VK', 'vk com/page')).toThrow(/пробелы/);
    expect(() => checkPageUrl('WEBSITE', 'ftp://files.ru/')).toThrow(/http и https/);
    expect(() => checkPageUrl('WEBSITE', 'https://vk.com/rubtsovsk_adm')).toThrow(/ВКонтакте, а не сайт/);
    expect(() => checkPageUrl('WEBSITE', 'http://10.0.0.1/')).toThrow(/доменное имя/);
    expect(() => checkPageUrl('VK', '')).toThrow(/не указан/);
  });
});

describe('ПОС widget link and ОГРН', () => {
  it('checks the ОГРН control digit', () => {
    expect(ogrnValid('1022201100019')).toBe(true);
    expect(ogrnValid('1022201100018')).toBe(false);
    expect(ogrnValid('102220110001')).toBe(false);
  });
  it('accepts the documented format and names every deviation', () => {
    const good = 'https://pos.gosuslugi.ru/form/?opaId=210001&utm_source=vk&utm_medium=22&utm_campaign=1022201100019';
    expect(checkPosWidgetUrl(good, { region: '22', ogrn: '1022201100019' })).toMatchObject({ ok: true, opaId: '210001', region: '22', ogrn: '1022201100019' });
    expect(checkPosWidgetUrl(good, { region: '54' }).problems).toEqual(['utm_medium = 22, а код региона 54']);
    expect(checkPosWidgetUrl(good, { ogrn: '1022201100020' }).problems[0]).toMatch(/ОГРН организации 1022201100020/);
    const bad = checkPosWidgetUrl('http://pos.gosuslugi.ru/widget/?utm_source=ok&utm_medium=222&utm_campaign=1022201100018');
    expect(bad.ok).toBe(false);
    expect(bad.problems.join(' | ')).toMatch(/https.*\/form\/.*opaId.*utm_source.*utm_medium.*контрольная цифра/);
    expect(checkPosWidgetUrl('https://evil.example/form/?opaId=1&utm_source=vk&utm_medium=22&utm_campaign=1022201100019').problems[0]).toMatch(/не на pos\.gosuslugi\.ru/);
    expect(checkPosWidgetUrl('not a url at all').ok).toBe(false);
  });
});

describe('working time of replies', () => {
  const d = readDefaults('rubtsovsk');
  const wt = new ReplyClock('Asia/Barnaul', d);
  const at = (s: string) => new Date(`${s}+07:00`);
  it('counts working minutes only (lunch, evenings, weekends, holidays excluded)', () => {
    expect(wt.minutesBetween(at('2026-10-01T09:15'), at('2026-10-01T11:15'))).toBe(120); // Thursday morning
    expect(wt.minutesBetween(at('2026-10-02T17:30'), at('2026-10-05T10:30'))).toBe(120); // Friday evening → Monday
    expect(wt.minutesBetween(at('2026-10-06T10:00'), at('2026-10-06T16:00'))).toBe(300); // lunch 13–14 excluded
    expect(wt.minutesBetween(at('2026-11-03T17:00'), at('2026-11-05T10:00'))).toBe(120); // 4 Nov is a holiday
    expect(wt.minutesBetween(at('2026-10-03T10:00'), at('2026-10-04T20:00'))).toBe(0); // weekend
    expect(wt.minutesBetween(at('2026-10-06T10:00'), at('2026-10-06T09:00'))).toBe(0);
    expect(wt.minutesBetween(at('2025-10-31T17:00'), at('2025-11-01T10:00'))).toBe(120); // Saturday 1 Nov 2025 is a moved working day
    expect(wt.minutesBetween(at('2026-10-06T10:00:40'), at('2026-10-06T10:02:10'))).toBe(2); // 90 s rounds to 2 min, as before
  });

  it('is the shared working-time engine over the pages’ schedule: the same minutes as a minute-by-minute count', () => {
    // server/pages used its own day walker; it now calls server/worktime. The reference here counts every minute of
    // the span against the schedule and calendar of official-pages.json (Barnaul has no DST: local = UTC + 7 h).
    expect(sharedWorkingHours(d.workingHours).week['1']).toEqual(['09:00-13:00', '14:00-18:00']);
    expect(sharedWorkingHours(d.workingHours).week['6']).toEqual([]);
    const holidays = new Set(d.holidays);
    const workdays = new Set(d.workdays);
    const working = (t: number) => {
      const local = new Date(t + 7 * 3_600_000);
      const ymd = local.toISOString().slice(0, 10);
      const wd = local.getUTCDay() || 7;
      const day = workdays.has(ymd) || (!holidays.has(ymd) && wd <= 5);
      const m = local.getUTCHours() * 60 + local.getUTCMinutes();
      return day && m >= 540 && m < 1080 && !(m >= 780 && m < 840);
    };
    let seed = 20261202;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let i = 0; i < 300; i++) {
      const a = Date.UTC(2025, 0, 1) + Math.floor(rnd() * 700 * 1440) * 60_000;
      const b = a + Math.floor(rnd() * (i % 3 === 0 ? 12 : 3) * 1440) * 60_000;
      let n = 0;
      for (let t = a; t < b; t += 60_000) if (working(t)) n++;
      expect(wt.minutesBetween(new Date(a), new Date(b)), `${new Date(a).toISOString()} → ${new Date(b).toISOString()}`).toBe(n);
    }
  });

  it('puts an instant into its local month', () => {
    expect(localMonthStart('Asia/Barnaul', Date.parse('2026-09-30T17:30:00Z'))).toBe('2026-10-01'); // 00:30 on 1 Oct in Barnaul
    expect(localMonthStart('Asia/Barnaul', Date.parse('2026-09-30T16:59:00Z'))).toBe('2026-09-01');
  });
});

describe('file values', () => {
  it('reads months in the forms people write', () => {
    expect(parseMonth('2026-03', 'Asia/Barnaul')).toBe('2026-03-01');
    expect(parseMonth('03.2026', 'Asia/Barnaul')).toBe('2026-03-01');
    expect(parseMonth('01.03.2026', 'Asia/Barnaul')).toBe('2026-03-01');
    expect(parseMonth('март 2026', 'Asia/Barnaul')).toBe('2026-03-01');
    expect(parseMonth('Май 2026 г.', 'Asia/Barnaul')).toBe('2026-05-01');
    expect(() => parseMonth('2026-13', 'Asia/Barnaul')).toThrow(/вне 1–12/);
    expect(() => parseMonth('вчера', 'Asia/Barnaul')).toThrow(/ГГГГ-ММ/);
  });
  it('tells questions and complaints from other comments (hand-written set)', () => {
    const set: [string, string][] = [
      ['Когда починят дорогу?', 'QUESTION'], ['подскажите часы приёма', 'QUESTION'], ['Где можно получить справку', 'QUESTION'],
      ['Во дворе не вывозят мусор', 'COMPLAINT'], ['Нет воды с утра на Заводской', 'COMPLAINT'], ['Прошу принять меры, у подъезда яма', 'COMPLAINT'],
      ['Фонарь не горит третий день', 'COMPLAINT'], ['Спасибо за работу!', 'OTHER'], ['Красиво', 'OTHER'], ['С праздником, земляки', 'OTHER'],
    ];
    const wrong = set.filter(([t, k]) => commentKind(t) !== k);
    expect(wrong).toEqual([]);
  });
});

describe('VK API client on recorded responses', () => {
  it('reads the community, pages the wall until older posts, and finds the community’s replies', async () => {
    const f = fixtureFetch();
    const vk = new VkClient({ token: 't', fetch: f.fetch, sleep: noSleep });
    const from = new Date('2026-10-01T00:00:00+07:00');
    const to = new Date('2026-11-01T00:00:00+07:00');
    const r = await vk.monthData('rubtsovsk_gkh', from, to);
    expect(r.group).toMatchObject({ id: 201234567, verified: true, membersCount: 3980, hasCover: true, hasDescription: true, canComment: true });
    expect(r.posts.map((p) => p.id)).toEqual([1005, 1004, 1003, 1002]); // pinned June post and September post left out
    expect(r.posts.reduce((s, p) => s + p.views, 0)).toBe(17900);
    expect(r.comments.map((c) => [c.id, c.replyAt?.toISOString() ?? null])).toEqual([
      [7001, '2026-11-02T03:00:00.000Z'], [7002, null], [6001, '2026-10-12T08:30:00.000Z'],
    ]);
    expect(f.calls.map((c) => c.method)).toEqual(['groups.getById', 'wall.get', 'wall.getComments', 'wall.getComments']);
    expect(f.calls[1].params).toMatchObject({ owner_id: '-201234567', count: '100', offset: '0', access_token: 't', v: '5.199' });
    expect(f.calls[0].params.fields).toMatch(/members_count.*verified/);
  });

  it('turns a VK error object into a clear error naming the method and the response', async () => {
    const f = fixtureFetch({ 'groups.getById': ['error-auth.json'] });
    const vk = new VkClient({ token: 'bad', fetch: f.fetch, sleep: noSleep });
    const e = await vk.group('rubtsovsk_gkh').catch((x) => x);
    expect(e).toBeInstanceOf(VkApiError);
    expect(e.message).toBe('VK API, метод groups.getById: ошибка 5 «User authorization failed: invalid access_token (4).»');
    const denied = fixtureFetch({ 'wall.get': ['error-access.json'] });
    await expect(new VkClient({ token: 't', fetch: denied.fetch, sleep: noSleep }).posts(1, new Date(0), new Date())).rejects.toThrow(/wall\.get: ошибка 15 «Access denied/);
  });

  it('retries «too many requests» and gives up after the retries', async () => {
    const once = fixtureFetch({ 'groups.getById': ['error-rate.json'] });
    const g = await new VkClient({ token: 't', fetch: once.fetch, sleep: noSleep }).group('rubtsovsk_gkh');
    expect(g.id).toBe(201234567);
    expect(once.calls.length).toBe(2);
    const always = fixtureFetch({ 'groups.getById': ['error-rate.json', 'error-rate.json', 'error-rate.json'] });
    await expect(new VkClient({ token: 't', fetch: always.fetch, sleep: noSleep, retries: 2 }).group('x')).rejects.toThrow(/ошибка 6 «Too many requests/);
    expect(always.calls.length).toBe(3);
  });

  it('reports HTTP errors, non-JSON answers and timeouts', async () => {
    const http = (async () => new Response('Bad gateway', { status: 502 })) as unknown as typeof fetch;
    await expect(new VkClient({ token: 't', fetch: http, sleep: noSleep, retries: 0 }).group('x')).rejects.toThrow('VK API, метод groups.getById: HTTP 502: Bad gateway');
    const html = (async () => new Response('<html>captcha</html>', { status: 200 })) as unknown as typeof fetch;
    await expect(new VkClient({ token: 't', fetch: html, sleep: noSleep }).group('x')).rejects.toThrow(/не является JSON: «<html>captcha/);
    const hang = ((_u: unknown, init?: RequestInit) => new Promise((_, reject) => init?.signal?.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }))))) as unknown as typeof fetch;
    await expect(new VkClient({ token: 't', fetch: hang, sleep: noSleep, timeoutMs: 50 }).group('x')).rejects.toThrow(/нет ответа за 50 мс/);
    expect(() => VkClient.fromEnv({})).toThrow(/VK_API_TOKEN/);
  });
});
