/**
 * Addresses of official pages: validation per platform, a canonical key (one page = one key however the URL is
 * spelled), and the check of the ПОС widget's link. Pure functions, no database.
 */
export const PLATFORMS = ['VK', 'OK', 'TELEGRAM', 'MAX', 'WEBSITE'] as const;
export type Platform = (typeof PLATFORMS)[number];

export const PLATFORM_LABELS: Record<Platform, string> = {
  VK: 'ВКонтакте', OK: 'Одноклассники', TELEGRAM: 'Telegram', MAX: 'MAX', WEBSITE: 'Сайт',
};

/** Words people write for a platform in files → its code. */
const PLATFORM_WORDS: Record<string, Platform> = {
  vk: 'VK', 'вк': 'VK', 'вконтакте': 'VK', vkontakte: 'VK',
  ok: 'OK', 'ок': 'OK', 'одноклассники': 'OK', odnoklassniki: 'OK',
  telegram: 'TELEGRAM', tg: 'TELEGRAM', 'телеграм': 'TELEGRAM', 'телеграмм': 'TELEGRAM',
  max: 'MAX', 'макс': 'MAX',
  website: 'WEBSITE', site: 'WEBSITE', web: 'WEBSITE', 'сайт': 'WEBSITE',
};

export function parsePlatform(v: string): Platform | undefined {
  const s = v.trim();
  if ((PLATFORMS as readonly string[]).includes(s.toUpperCase())) return s.toUpperCase() as Platform;
  return PLATFORM_WORDS[s.toLowerCase()];
}

/** The platform a URL belongs to by its host (undefined: an ordinary website). */
export function platformOfUrl(url: string): Platform | undefined {
  try {
    const host = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? url : `https://${url}`).hostname.toLowerCase().replace(/^(www\.|m\.)/, '');
    if (host === 'vk.com' || host === 'vk.ru') return 'VK';
    if (host === 'ok.ru') return 'OK';
    if (host === 't.me' || host === 'telegram.me') return 'TELEGRAM';
    if (host === 'max.ru' || host === 'web.max.ru') return 'MAX';
    return undefined;
  } catch {
    return undefined;
  }
}

export interface CheckedUrl {
  /** The URL as stored (https, canonical host). */
  url: string;
  /** Canonical key: host + path, lower case, no trailing slash. */
  key: string;
  /** The page's short name on the platform (screen name), when the platform has one. */
  handle?: string;
}

const HANDLE: Record<Exclude<Platform, 'WEBSITE'>, { hosts: string[]; host: string; re: RegExp; hint: string }> = {
  VK: { hosts: ['vk.com', 'vk.ru'], host: 'vk.com', re: /^\/([A-Za-z0-9_.]{2,64})\/?$/, hint: 'https://vk.com/<короткое имя> (латиница, цифры, «_» и «.»)' },
  OK: { hosts: ['ok.ru'], host: 'ok.ru', re: /^\/((?:group\/)?[A-Za-z0-9_.]{2,64})\/?$/, hint: 'https://ok.ru/<короткое имя> или https://ok.ru/group/<номер>' },
  TELEGRAM: { hosts: ['t.me', 'telegram.me'], host: 't.me', re: /^\/([A-Za-z][A-Za-z0-9_]{4,31})\/?$/, hint: 'https://t.me/<имя канала> (5–32 символа: латиница, цифры, «_»)' },
  MAX: { hosts: ['max.ru', 'web.max.ru'], host: 'max.ru', re: /^\/([A-Za-z0-9_-]{2,64})\/?$/, hint: 'https://max.ru/<имя канала>' },
};

/** Validates a page URL for its platform; throws an Error with a Russian reason. */
export function checkPageUrl(platform: Platform, raw: string): CheckedUrl {
  const text = raw.trim();
  if (!text) throw new Error('адрес страницы не указан');
  if (text.length > 500) throw new Error('адрес длиннее 500 символов');
  if (/\s/.test(text)) throw new Error(`адрес «${text.slice(0, 80)}» содержит пробелы`);
  let u: URL;
  try {
    u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`);
  } catch {
    throw new Error(`«${text.slice(0, 80)}» не является адресом (URL)`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`адрес «${text.slice(0, 80)}»: допустимы только http и https`);
  if (u.username || u.password) throw new Error('адрес не должен содержать имя пользователя или пароль');
  const host = u.hostname.toLowerCase().replace(/^(www\.|m\.)/, '');
  if (platform === 'WEBSITE') {
    if (!/^[a-z0-9а-яё-]+(\.[a-z0-9а-яё-]+)+$/i.test(host) || /^\d+(\.\d+){3}$/.test(host)) throw new Error(`«${text.slice(0, 80)}»: у сайта должно быть доменное имя`);
    const other = platformOfUrl(text);
    if (other) throw new Error(`«${text.slice(0, 80)}» — это адрес в ${PLATFORM_LABELS[other]}, а не сайт: укажите площадку ${other}`);
    const path = u.pathname.replace(/\/+$/, '');
    return { url: `${u.protocol}//${host}${path || '/'}`, key: `${host}${path}`.toLowerCase() };
  }
  const spec = HANDLE[platform];
  if (!spec.hosts.includes(host)) throw new Error(`«${text.slice(0, 80)}» не является адресом страницы ${PLATFORM_LABELS[platform]}: ожидается ${spec.hint}`);
  const m = spec.re.exec(u.pathname);
  if (!m) throw new Error(`«${text.slice(0, 80)}»: неверный путь страницы ${PLATFORM_LABELS[platform]}, ожидается ${spec.hint}`);
  const handle = m[1];
  return { url: `https://${spec.host}/${handle}`, key: `${spec.host}/${handle}`.toLowerCase(), handle };
}

/** The canonical key of any URL a file names a page by (its platform read from the host). */
export function pageKeyOf(raw: string): string | undefined {
  const text = raw.trim();
  if (!text) return undefined;
  const platform = platformOfUrl(text) ?? 'WEBSITE';
  try {
    return checkPageUrl(platform, text).key;
  } catch {
    return undefined;
  }
}

/** ОГРН: 13 digits, the last is (the first 12 as a number mod 11) mod 10. */
export function ogrnValid(v: string): boolean {
  if (!/^\d{13}$/.test(v)) return false;
  return Number(BigInt(v.slice(0, 12)) % 11n % 10n) === Number(v[12]);
}

export interface WidgetCheck {
  ok: boolean;
  /** Why the link is not a correct ПОС widget link (Russian), empty when ok. */
  problems: string[];
  opaId?: string;
  region?: string;
  ogrn?: string;
}

/**
 * The ПОС widget's link: pos.gosuslugi.ru/form/?opaId=<digits>&utm_source=vk&utm_medium=<region, 2 digits>&utm_campaign=<ОГРН, 13 digits>.
 * `expect.region` and `expect.ogrn` (when known) must match; utm_source is `vk` (the format the Платформа обратной связи
 * issues for pages in social networks).
 */
export function checkPosWidgetUrl(raw: string, expect: { region?: string; ogrn?: string | null } = {}): WidgetCheck {
  const problems: string[] = [];
  const text = raw.trim();
  let u: URL;
  try {
    u = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`);
  } catch {
    return { ok: false, problems: [`«${text.slice(0, 80)}» не является адресом (URL)`] };
  }
  if (u.hostname.toLowerCase() !== 'pos.gosuslugi.ru') problems.push(`адрес ведёт на ${u.hostname.slice(0, 60)}, а не на pos.gosuslugi.ru`);
  if (u.protocol !== 'https:') problems.push('ссылка должна начинаться с https://');
  if (!/^\/form\/?$/.test(u.pathname)) problems.push(`путь «${u.pathname.slice(0, 60)}» вместо /form/`);
  const p = u.searchParams;
  const opaId = p.get('opaId') ?? undefined;
  if (!opaId || !/^\d{1,20}$/.test(opaId)) problems.push('нет параметра opaId (номер органа в ПОС, цифры)');
  if (p.get('utm_source') !== 'vk') problems.push(`utm_source должен быть «vk», указано «${(p.get('utm_source') ?? '').slice(0, 20)}»`);
  const region = p.get('utm_medium') ?? undefined;
  if (!region || !/^\d{2}$/.test(region)) problems.push(`utm_medium — код региона из 2 цифр, указано «${(region ?? '').slice(0, 20)}»`);
  else if (expect.region && region !== expect.region) problems.push(`utm_medium = ${region}, а код региона ${expect.region}`);
  const ogrn = p.get('utm_campaign') ?? undefined;
  if (!ogrn || !/^\d{13}$/.test(ogrn)) problems.push(`utm_campaign — ОГРН из 13 цифр, указано «${(ogrn ?? '').slice(0, 20)}»`);
  else if (!ogrnValid(ogrn)) problems.push(`utm_campaign = ${ogrn}: неверная контрольная цифра ОГРН`);
  else if (expect.ogrn && ogrn !== expect.ogrn) problems.push(`utm_campaign = ${ogrn}, а ОГРН организации ${expect.ogrn}`);
  return { ok: problems.length === 0, problems, opaId, region, ogrn };
}
