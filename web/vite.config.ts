import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const webDir = dirname(fileURLToPath(import.meta.url));

// The web client is built into dist/web and served by the МЦУ Hub server.
// Everything is bundled locally: no CDN, fonts, tiles or glyphs are fetched at run time.
export default defineConfig({
  root: webDir,
  base: '/',
  publicDir: false,
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
      input: {
        index: resolve(webDir, 'index.html'),
        graphiql: resolve(webDir, 'graphiql.html'),
        intake: resolve(webDir, 'intake.html'),
        control: resolve(webDir, 'control.html'),
        quality: resolve(webDir, 'quality.html'),
        login: resolve(webDir, 'login.html'),
        centre: resolve(webDir, 'centre.html'),
        risks: resolve(webDir, 'risks.html'),
        deadlines: resolve(webDir, 'deadlines.html'),
        pages: resolve(webDir, 'pages.html'),
        open311: resolve(webDir, 'open311.html'),
        informing: resolve(webDir, 'informing.html'),
        recommendations: resolve(webDir, 'recommendations.html'),
        reports: resolve(webDir, 'reports.html'),
        communication: resolve(webDir, 'communication.html'),
        region: resolve(webDir, 'region.html'),
      },
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
