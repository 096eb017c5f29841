import { mulberry32 } from '../util/random.js';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { ensurePageCategories, pagesSettings } from './config.js';
import { refreshCommentMonths } from './importer.js';
import { addMonths, PageService } from './service.js';
import { localMonthStart } from '../worktime/worktime.js';


const DEMO: { org: string; platform: string; handle: string; name: string; category: string; quality: number }[] = [
  { org: 'admin', platform: 'VK', handle: 'rubtsovsk_adm', name: 'Администрация города Рубцовска', category: 'flagship', quality: 0.95 },
  { org: 'admin', platform: 'OK', handle: 'rubtsovskadm', name: 'Администрация Рубцовска', category: 'active', quality: 0.7 },
  { org: 'admin', platform: 'TELEGRAM', handle: 'rubtsovsk_official', name: 'Рубцовск официально', category: 'flagship', quality: 0.85 },
  { org: 'uzhkh', platform: 'VK', handle: 'rubtsovsk_gkh', name: 'ЖКХ Рубцовска', category: 'active', quality: 0.6 },
  { org: 'uo', platform: 'VK', handle: 'uo_rubtsovsk', name: 'Управление образования', category: 'active', quality: 0.85 },
  { org: 'culture', platform: 'VK', handle: 'kultura_rubtsovsk', name: 'Культура, молодёжь и спорт Рубцовска', category: 'active', quality: 0.9 },
  { org: 'culture', platform: 'TELEGRAM', handle: 'rubtsovsk_sport', name: 'Спорт Рубцовска', category: 'card', quality: 0.5 },
  { org: 'social', platform: 'VK', handle: 'rubtsovsk_social', name: 'Социальные вопросы', category: 'card', quality: 0.55 },
  { org: 'gochs', platform: 'VK', handle: 'rubtsovsk_gochs', name: 'ГОЧС Рубцовска', category: 'active', quality: 0.75 },
  { org: 'transport', platform: 'VK', handle: 'rubtsovsk_transport', name: 'Транспорт Рубцовска', category: 'active', quality: 0.4 },
  { org: 'arch', platform: 'VK', handle: 'rubtsovsk_arch', name: 'Архитектура и градостроительство', category: 'card', quality: 0.65 },
  { org: 'vodokanal', platform: 'VK', handle: 'rubvodokanal', name: 'МУП «Рубцовский водоканал»', category: 'active', quality: 0.35 },
  { org: 'teploseti', platform: 'VK', handle: 'rubteploseti', name: 'Рубцовские тепловые сети', category: 'active', quality: 0.45 },
  { org: 'blag', platform: 'VK', handle: 'rub_blag', name: 'Комбинат благоустройства', category: 'card', quality: 0.3 },
  { org: 'edds', platform: 'TELEGRAM', handle: 'edds_rubtsovsk', name: 'ЕДДС Рубцовска', category: 'active', quality: 0.8 },
  { org: 'schools', platform: 'WEBSITE', handle: 'rubschool.ru', name: 'Школы Рубцовска', category: 'card', quality: 0.7 },
  { org: 'gatp', platform: 'OK', handle: 'rubgatp', name: 'Городское АТП', category: 'card', quality: 0.25 },
  { org: 'csp', platform: 'VK', handle: 'csp_rubtsovsk', name: 'Центр социальной поддержки', category: 'card', quality: 0.6 },
];

const HOSTS: Record<string, string> = { VK: 'vk.com', OK: 'ok.ru', TELEGRAM: 't.me', MAX: 'max.ru' };
// A valid ОГРН (checksum) for the demo widgets: 12 digits, then (n mod 11) mod 10.
const ogrn = (base: string) => base + String(Number(BigInt(base) % 11n % 10n));

const COMMENTS = [
  'Когда починят дорогу на ул. Комсомольской?', 'Спасибо за информацию!', 'Во дворе не вывозят мусор уже неделю', 'Подскажите, где получить справку?',
  'Отличная новость', 'Нет горячей воды на пр. Ленина, 85 с понедельника', 'Почему не горят фонари на ул. Сельмашской?', 'Яма у остановки, опасно',
  'Когда откроют каток?', 'Благодарю за работу', 'Прошу убрать снег во дворе дома по ул. Громова', 'Сколько можно ждать автобус № 10?',
];

export async function ensureDemoPages(em: EntityManager, municipalityId: number): Promise<number> {
  await ensurePageCategories(em, municipalityId);
  const [{ n }] = await query<{ n: number }>(em, 'SELECT count(*)::int AS n FROM official_page WHERE municipality_id = ?', [municipalityId]);
  if (n > 0) return 0;
  const settings = await pagesSettings(em, municipalityId);
  const orgs = new Map((await query<{ id: number; code: string }>(em, 'SELECT id, code FROM organization WHERE municipality_id = ?', [municipalityId])).map((r) => [r.code, r.id]));
  const cats = new Map((await query<{ id: number; code: string }>(em, 'SELECT id, code FROM page_category WHERE municipality_id = ?', [municipalityId])).map((r) => [r.code, r.id]));
  const rand = mulberry32(20261202);
  const last = addMonths(localMonthStart(settings.timezone, Date.now()), -1);
  await em.transactional(async (tem) => {
    let k = 0;
    for (const d of DEMO) {
      const orgId = orgs.get(d.org);
      const catId = cats.get(d.category);
      if (!orgId || !catId) continue;
      k++;
      const url = d.platform === 'WEBSITE' ? `https://${d.handle}/` : `https://${HOSTS[d.platform]}/${d.handle}`;
      const key = d.platform === 'WEBSITE' ? d.handle : `${HOSTS[d.platform]}/${d.handle}`.toLowerCase();
      const o = ogrn(`1022200${String(810000 + k * 37).padStart(5, '0')}`.slice(0, 12));
      const widget = d.quality > 0.35 && d.platform !== 'TELEGRAM';
      const widgetUrl = widget ? `https://pos.gosuslugi.ru/form/?opaId=${200000 + k * 13}&utm_source=vk&utm_medium=${d.quality > 0.5 ? '22' : '54'}&utm_campaign=${o}` : null;
      const [{ id }] = await query<{ id: number }>(tem, `INSERT INTO official_page (municipality_id, organization_id, platform, url, url_key, name, category_id, responsible,
          verified, pos_widget, pos_widget_url, comments_open, has_cover, has_description, ogrn)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [municipalityId, orgId, d.platform, url, key, d.name, catId, ['Иванова А. С.', 'Петров Д. В.', 'Смирнова Е. Н.', 'Кузнецов И. А.'][k % 4],
        d.quality > 0.5, widget, widgetUrl, d.quality > 0.3, d.quality > 0.4, d.quality > 0.55, o]);
      const baseSubs = Math.round((d.category === 'flagship' ? 18000 : d.category === 'active' ? 3500 : 700) * (0.5 + d.quality));
      const cols = { month: [] as string[], posts: [] as number[], views: [] as number[], likes: [] as number[], reposts: [] as number[], comments: [] as number[], subs: [] as number[] };
      const cm = { ext: [] as string[], month: [] as string[], posted: [] as string[], text: [] as string[], replied: [] as (string | null)[], minutes: [] as (number | null)[], work: [] as (number | null)[], kind: [] as string[] };
      for (let i = 11; i >= 0; i--) {
        const month = addMonths(last, -i);
        const q = Math.min(1, Math.max(0.05, d.quality + (rand() - 0.5) * 0.3 + (11 - i) * 0.01));
        const target = d.category === 'flagship' ? 35 : d.category === 'active' ? 16 : 5;
        const posts = Math.max(0, Math.round(target * (0.25 + q * 0.85)));
        const subs = Math.round(baseSubs * (1 + (11 - i) * 0.02 * q));
        const views = Math.round(posts * subs * (0.2 + q * 0.3));
        const likes = Math.round(posts * subs * 0.004 * (0.5 + q));
        const reposts = Math.round(likes * 0.12);
        const nComments = d.platform === 'WEBSITE' ? 0 : Math.round(rand() * 8 * (d.category === 'card' ? 0.4 : 1));
        cols.month.push(month); cols.posts.push(posts); cols.views.push(views); cols.likes.push(likes); cols.reposts.push(reposts); cols.comments.push(nComments); cols.subs.push(subs);
        const [y, m] = month.split('-').map(Number);
        for (let c = 0; c < nComments; c++) {
          const posted = new Date(Date.UTC(y, m - 1, 1 + Math.floor(rand() * 27), 2 + Math.floor(rand() * 9), Math.floor(rand() * 60)));
          const answered = rand() < 0.45 + q * 0.55;
          const replied = answered ? new Date(posted.getTime() + (0.5 + rand() * (q > 0.7 ? 8 : 48)) * 3600_000) : null;
          const text = COMMENTS[Math.floor(rand() * COMMENTS.length)];
          cm.ext.push(`${month.slice(0, 7)}-${c + 1}`); cm.month.push(month); cm.posted.push(posted.toISOString()); cm.text.push(text);
          cm.replied.push(replied?.toISOString() ?? null);
          cm.minutes.push(replied ? Math.round((replied.getTime() - posted.getTime()) / 60000) : null);
          cm.work.push(replied ? settings.work.minutesBetween(posted, replied) : null);
          cm.kind.push(/\?/.test(text) ? 'QUESTION' : /Спасибо|Благодар|Отличн/.test(text) ? 'OTHER' : 'COMPLAINT');
        }
      }
      await query(tem, `INSERT INTO official_page_stat (page_id, month, municipality_id, posts, views, likes, reposts, comments, subscribers, source)
        SELECT ?, u.m, ?, u.p, u.v, u.l, u.r, u.c, u.s, 'demo' FROM unnest(?::date[], ?::int[], ?::bigint[], ?::int[], ?::int[], ?::int[], ?::int[]) AS u(m, p, v, l, r, c, s)`,
      [id, municipalityId, cols.month, cols.posts, cols.views, cols.likes, cols.reposts, cols.comments, cols.subs]);
      if (cm.ext.length) {
        await query(tem, `INSERT INTO official_page_comment (page_id, municipality_id, month, external_id, posted_at, text, replied_at, reply_minutes, reply_work_minutes, kind)
          SELECT ?, ?, u.m, u.e, u.p, u.t, u.r, u.mi, u.w, u.k FROM unnest(?::text[], ?::date[], ?::timestamptz[], ?::text[], ?::timestamptz[], ?::int[], ?::int[], ?::text[]) AS u(e, m, p, t, r, mi, w, k)`,
        [id, municipalityId, cm.ext, cm.month, cm.posted, cm.text, cm.replied, cm.minutes, cm.work, cm.kind]);
        const months = [...new Set(cm.month)];
        await refreshCommentMonths(tem, municipalityId, months.map(() => id), months);
      }
    }
    await new PageService(tem, { municipalityId, actor: 'system:demo' }).recompute(undefined, undefined, tem);
  });
  return DEMO.length;
}
