import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';
import { HEAD_TAGS, PAGES, renderPage } from './site.ts';

const webDir = dirname(fileURLToPath(import.meta.url));

/** Every page's shared head and navigation (web/site.ts), put into its HTML at build time and by the dev server. */
function site(): Plugin {
  return {
    name: 'mcu-site',
    transformIndexHtml: {
      order: 'pre',
      handler: (html, ctx) => ({
        html: renderPage(basename(ctx.filename, '.html'), html),
        tags: HEAD_TAGS.map((t) => ({ ...t, injectTo: 'head-prepend' as const })),
      }),
    },
  };
}

// The web client is built into dist/web and served by the МЦУ Hub server.
// Everything is bundled locally: no CDN, fonts, tiles or glyphs are fetched at run time.
export default defineConfig({
  root: webDir,
  base: '/',
  publicDir: false,
  plugins: [site()],
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'react' },
  },
  build: {
    outDir: resolve(webDir, '../dist/web'),
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 4096,
    // Keep the MapLibre worker (an ES module) as a separate file instead of inlining it.
    assetsInlineLimit: (file) => (/worker/.test(file) ? false : undefined),
    rolldownOptions: {
      // React libraries' "use client" directives are irrelevant in this client-only bundle.
      onwarn(warning, defaultHandler) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        defaultHandler(warning);
      },
      input: Object.fromEntries(PAGES.map((p) => [p.name, resolve(webDir, `${p.name}.html`)])),
      output: {
        // The MapLibre worker is emitted via `?url`; give it a .js name so any static
        // server sends a JavaScript MIME type (module workers require one).
        assetFileNames: (asset) =>
          asset.names.some((n) => n.endsWith('.mjs')) ? 'assets/[name]-[hash].js' : 'assets/[name]-[hash][extname]',
      },
    },
  },
  server: {
    // `npx vite --config web/vite.config.ts` for UI work against a running server on :4000.
    proxy: {
      '/graphql': 'http://127.0.0.1:4000',
      '/config.json': 'http://127.0.0.1:4000',
      '/auth': 'http://127.0.0.1:4000',
      '/tiles': 'http://127.0.0.1:4000',
      '/exports': 'http://127.0.0.1:4000',
      '/open311': 'http://127.0.0.1:4000',
      '/reports/': 'http://127.0.0.1:4000',
    },
  },
});
