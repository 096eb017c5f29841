import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

/**
 * The backends every integration test runs against: the embedded PGlite + PostGIS
 * always, and a real PostGIS when TEST_DATABASE_URL (or DATABASE_URL) is set.
 */
export type BackendName = 'embedded' | 'postgis';

export const postgisUrl = process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || '';
export const backends: BackendName[] = postgisUrl ? ['embedded', 'postgis'] : ['embedded'];

/**
 * Prepared by global-setup: an embedded data folder with the schema and reference data.
 * One per test run (concurrent runs must not share it); global-setup passes it by env.
 */
export const templateDir = process.env.MCU_TEST_TEMPLATE ?? path.resolve(`test/.cache/pglite-template-${process.pid}`);

export interface FreshDatabase {
  databaseUrl?: string;
  dataDir?: string;
  drop(): Promise<void>;
}

function copyDir(from: string, to: string) {
  fs.cpSync(from, to, { recursive: true });
}

/** An empty, isolated database of the given backend (a copy of the template, or a new PostgreSQL database). */
export async function freshDatabase(backend: BackendName): Promise<FreshDatabase> {
  if (backend === 'embedded') {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-test-'));
    fs.rmSync(dataDir, { recursive: true });
    if (fs.existsSync(templateDir)) copyDir(templateDir, dataDir);
    return { dataDir, drop: async () => fs.rmSync(dataDir, { recursive: true, force: true }) };
  }
  const name = `mcu_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: postgisUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(postgisUrl);
  url.pathname = `/${name}`;
  return {
    databaseUrl: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: postgisUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
