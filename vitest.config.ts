import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// Vitest 5's reporter uses Map.groupBy (Node ≥ 21); this project runs on Node 20.
if (!(Map as any).groupBy) {
  (Map as any).groupBy = <K, V>(items: Iterable<V>, key: (v: V, i: number) => K) => {
    const m = new Map<K, V[]>();
    let i = 0;
    for (const v of items) {
      const k = key(v, i++);
      const list = m.get(k);
      if (list) list.push(v);
      else m.set(k, [v]);
    }
    return m;
  };
}

export default defineConfig({
  // Node resolves `graphql` to its CommonJS build (type-graphql and Apollo use it); Vite would
  // pick the .mjs build for our sources, and two graphql instances cannot share a schema.
  resolve: { alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }] },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    // Tests change data with SQL beside the app: the aggregate cache re-reads the data version on every request
    // (production trusts it for DATA_VERSION_TTL_MS, 1 s; test/perf.test.ts checks that too).
    env: { DATA_VERSION_TTL_MS: '0' },
  },
});
