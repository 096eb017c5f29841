/**
 * The pages of the web client and their shared head and navigation, put into every page at build time by the
 * `site` plugin of vite.config.ts (static HTML: no script draws the navigation, so nothing flashes and the
 * Content-Security-Policy's `script-src 'self'` needs no inline script).
 *
 * A page's HTML has only its <title> and its header's own text in `<header class="…" data-site-header>`; the map's
 * panel has `<nav data-site-links></nav>` where the links to every page go. Adding a page is its HTML file and one
 * line below.
 */
export interface SitePage {
  /** The file's name without `.html`; the link's id is `link-<name>`. */
  name: string;
  /** The link to it on the map's panel and in other pages' headers; none: not linked (the map, sign-in, GraphiQL). */
  label?: string;
  /** A shorter label in other pages' headers. */
  short?: string;
  /** Linked only for the regional roles (ЦУР): the link is hidden and web/src/main.ts shows it to them. */
  regionOnly?: boolean;
  /** The pages this page's header links to besides the map. */
  nav?: string[];
  /** The label of the header's link to the map (default «Карта»). */
  mapLabel?: string;
}

/** In the order of the links on the map's panel. */
export const PAGES: SitePage[] = [
  { name: 'index' },
  { name: 'intake', label: 'Приём обращений' },
  { name: 'risks', label: 'Информационные риски' },
  { name: 'informing', label: 'Адресное информирование', short: 'Информирование', nav: ['recommendations'] },
  { name: 'recommendations', label: 'Рекомендации', nav: ['informing'] },
  { name: 'reports', label: 'Аналитические справки' },
  { name: 'centre', label: 'Работа центра', nav: ['intake', 'communication'] },
  { name: 'deadlines', label: 'Сроки и календарь' },
  { name: 'control', label: 'Контроль исполнения' },
  { name: 'pages', label: 'Официальные страницы', nav: ['intake'] },
  { name: 'quality', label: 'Отписки' },
  { name: 'communication', label: 'Ошибки коммуникации', nav: ['centre'] },
  { name: 'open311', label: 'Open311: ключи доступа' },
  { name: 'region', label: 'Регион: все муниципалитеты', regionOnly: true, mapLabel: 'Карта муниципалитета' },
  { name: 'login' },
  { name: 'graphiql' },
];

/** What every page's <head> starts with. */
export const HEAD_TAGS: { tag: string; attrs: Record<string, string> }[] = [
  { tag: 'meta', attrs: { charset: 'utf-8' } },
  { tag: 'meta', attrs: { name: 'viewport', content: 'width=device-width, initial-scale=1' } },
  // No favicon request (the server would answer 404).
  { tag: 'link', attrs: { rel: 'icon', href: 'data:,' } },
];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function page(name: string): SitePage {
  const p = PAGES.find((x) => x.name === name);
  if (!p) throw new Error(`web/site.ts: no page «${name}»`);
  return p;
}

/** The header's navigation of a page: back to the map, its related pages, the user bar (filled by the page's script). */
export function navHtml(name: string): string {
  const p = page(name);
  const links = [`<a href="/" class="nav-link" id="link-map">${esc(p.mapLabel ?? 'Карта')}</a>`,
    ...(p.nav ?? []).map((n) => { const q = page(n); return `<a href="/${q.name}.html" class="nav-link">${esc(q.short ?? q.label ?? q.name)}</a>`; })];
  return `<nav aria-label="Разделы">${links.join(' ')} <div id="user-bar" class="user-bar" hidden></div></nav>`;
}

/** The map panel's links to every page that has a label (the regional view's hidden until main.ts shows it). */
export function pageLinksHtml(): string {
  const links = PAGES.filter((p) => p.label).map((p) =>
    `<a href="/${p.name}.html" id="link-${p.name}" class="page-link"${p.regionOnly ? ' hidden' : ''}>${esc(p.label!)}</a>`);
  return `<nav aria-label="Разделы">${links.join('\n')}</nav>`;
}

/**
 * A page's HTML with the shared parts put in: `<header class="X" data-site-header>…</header>` becomes the page's
 * header — its own text (…) beside the navigation, in `X-inner` — and `<nav data-site-links></nav>` the links to
 * every page. A page that is not listed above, or a placeholder left over, is an error (the build fails, naming the file).
 */
export function renderPage(name: string, html: string): string {
  page(name);
  const out = html
    .replace(/<header class="([\w-]+)" data-site-header>([\s\S]*?)<\/header>/g,
      (_, cls: string, text: string) => `<header class="${cls}"><div class="${cls}-inner"><div>${text}</div>${navHtml(name)}</div></header>`)
    .replace(/<nav data-site-links><\/nav>/g, () => pageLinksHtml());
  if (/data-site-/.test(out)) throw new Error(`web/${name}.html: a placeholder of web/site.ts is not written as <header class="…" data-site-header> or <nav data-site-links></nav>`);
  return out;
}
