// The shared head and navigation of the web client's pages (web/site.ts, put in by the plugin of web/vite.config.ts).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HEAD_TAGS, PAGES, navHtml, renderPage } from '../web/site.js';
import { repoRoot } from './helpers/browser.js';

const webDir = path.join(repoRoot, 'web');
const htmlFiles = fs.readdirSync(webDir).filter((f) => f.endsWith('.html')).sort();
const source = (name: string) => fs.readFileSync(path.join(webDir, `${name}.html`), 'utf8');

describe('web pages: one shared head and navigation', () => {
  it('lists every page of web/ once, and only those', () => {
    expect(PAGES.map((p) => `${p.name}.html`).sort()).toEqual(htmlFiles);
    expect(new Set(PAGES.map((p) => p.name)).size).toBe(PAGES.length);
  });

  it('links a header only to pages that exist and have a label', () => {
    for (const p of PAGES) for (const n of p.nav ?? []) expect(PAGES.find((q) => q.name === n)?.label, `${p.name} → ${n}`).toBeTruthy();
  });

  it('leaves the shared parts to the plugin: no page writes its own charset, viewport or navigation', () => {
    for (const p of PAGES) {
      const html = source(p.name);
      expect(html, p.name).not.toMatch(/<meta charset|name="viewport"|rel="icon"|aria-label="Разделы"/);
      expect(html, p.name).toMatch(/<title>МЦУ Hub/);
      // The Content-Security-Policy allows no inline script.
      for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag, p.name).toMatch(/\bsrc="\.?\/src\//);
    }
    expect(HEAD_TAGS.map((t) => t.attrs.charset ?? t.attrs.name ?? t.attrs.rel)).toEqual(['utf-8', 'viewport', 'icon']);
  });

  it('puts the header navigation into every page with a header, and the links to every page onto the map', () => {
    for (const p of PAGES) {
      const out = renderPage(p.name, source(p.name));
      expect(out, p.name).not.toContain('data-site-');
      const navs = out.match(/<nav aria-label="Разделы">/g)?.length ?? 0;
      expect(navs, p.name).toBe(p.name === 'login' || p.name === 'graphiql' ? 0 : 1);
      if (navs && p.name !== 'index') {
        expect(out, p.name).toMatch(/<header class="([a-z]+-header)"><div class="\1-inner"><div>\s*<h1>[^<]*(<span[^<]*<\/span>)?<\/h1>\s*<p class="subtitle">[^<]+<\/p>\s*<\/div><nav aria-label="Разделы"><a href="\/" class="nav-link" id="link-map">/);
        expect(out, p.name).toContain('<div id="user-bar" class="user-bar" hidden></div>');
      }
    }
    const index = renderPage('index', source('index'));
    for (const p of PAGES.filter((x) => x.label)) expect(index).toContain(`<a href="/${p.name}.html" id="link-${p.name}" class="page-link"${p.regionOnly ? ' hidden' : ''}>${p.label}</a>`);
    expect(navHtml('centre')).toBe('<nav aria-label="Разделы"><a href="/" class="nav-link" id="link-map">Карта</a> <a href="/intake.html" class="nav-link">Приём обращений</a> '
      + '<a href="/communication.html" class="nav-link">Ошибки коммуникации</a> <div id="user-bar" class="user-bar" hidden></div></nav>');
    expect(navHtml('recommendations')).toContain('>Информирование</a>');
    expect(navHtml('region')).toContain('>Карта муниципалитета</a>');
  });

  it('fails the build on a page it does not know or a placeholder it cannot read', () => {
    expect(() => renderPage('nowhere', '<nav data-site-links></nav>')).toThrow(/nowhere/);
    expect(() => renderPage('intake', '<header data-site-header class="x"></header>')).toThrow(/intake\.html/);
  });
});
