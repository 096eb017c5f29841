import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, freshDatabase } from './helpers/backends.js';
import { startTestApp, type TestApp } from './helpers/app.js';
import { citusViolations } from '../server/db/citus-check.js';
import { startEmbedded } from '../server/db/embedded.js';
import { createOrm } from '../server/db/orm.js';
import { query } from '../server/db/sql.js';
import { schema } from '../server/modules.js';
import { allowedTriggers, citusSql, colocationAnchor, tablePlacements, type TablePlacement } from '../server/db/distribution.js';

/**
 * The schema after all migrations can be distributed by municipality on Citus (issue 20, item 4): the catalog is read
 * on each backend and every table, key, foreign key and trigger is checked against server/db/distribution.ts.
 * A failure names the table or constraint and what to do — read it when a new table of yours makes this fail.
 */
describe.each(backends)('schema ready for Citus on %s', (backend) => {
  let app: TestApp;
  beforeAll(async () => { app = await startTestApp(backend, 300); }, 240_000);
  afterAll(async () => app?.close());

  const catalog = () => <T>(sql: string) => app.sql<T>(sql);

  it('follows Citus\'s rules for every table of server/db/distribution.ts', async () => {
    expect(await citusViolations(catalog())).toEqual([]);
  });

  it('still follows them after the code that rebuilds constraints at run time (problem detection\'s bulk load)', async () => {
    const r = await app.gql('mutation { recomputeProblems { id kind } }');
    expect(r.errors).toBeUndefined();
    expect(r.data.recomputeProblems.kind).toBe('FULL');
    expect(await citusViolations(catalog())).toEqual([]);
    const [pa] = await app.sql<{ n: number; bad: number }>(`SELECT count(*)::int AS n,
      count(*) FILTER (WHERE pa.municipality_id IS DISTINCT FROM p.municipality_id)::int AS bad FROM problem_appeal pa JOIN problem p ON p.id = pa.problem_id`);
    expect(pa.bad).toBe(0);
  });

  it('keeps one municipality\'s rows from pointing at another\'s (composite foreign keys)', async () => {
    const mid = app.municipalityId;
    const [other] = await app.sql<{ id: number }>(`INSERT INTO municipality (code, name, timezone, center)
      SELECT 'citus-other', 'Другой город', timezone, center FROM municipality WHERE id = ? RETURNING id`, [mid]);
    const [a] = await app.sql<{ id: number }>(`INSERT INTO appeal (municipality_id, channel, external_id, received_at, author_kind, text, status)
      VALUES (?, 'DIRECT', 'CITUS-1', now(), 'CITIZEN', 'Яма во дворе', 'NEW') RETURNING id`, [mid]);
    // The same municipality: fine.
    await app.sql(`INSERT INTO appeal_event (municipality_id, appeal_id, at, actor, kind) VALUES (?, ?, now(), 'test', 'CREATED')`, [mid, a.id]);
    // Another municipality's event on this appeal: refused by appeal_event_appeal_id_fkey.
    await expect(app.sql(`INSERT INTO appeal_event (municipality_id, appeal_id, at, actor, kind) VALUES (?, ?, now(), 'test', 'CREATED')`, [other.id, a.id]))
      .rejects.toThrow(/appeal_event_appeal_id_fkey/);
    await app.sql('DELETE FROM appeal WHERE id = ?', [a.id]);
    await app.sql('DELETE FROM municipality WHERE id = ?', [other.id]);
  });

  it('reports each kind of breach with the table, the constraint and what to do', async () => {
    // A deliberately broken corner of the schema, checked with its own placements, then removed.
    await app.sql(`CREATE TABLE citus_t_parent (id integer PRIMARY KEY, municipality_id integer NOT NULL, code text UNIQUE)`);
    await app.sql(`CREATE TABLE citus_t_child (id integer, municipality_id integer, parent_id integer REFERENCES citus_t_parent (id),
      UNIQUE (municipality_id, id))`);
    await app.sql(`CREATE TABLE citus_t_setnull (municipality_id integer NOT NULL, id integer, child_id integer, PRIMARY KEY (municipality_id, id),
      FOREIGN KEY (municipality_id, child_id) REFERENCES citus_t_child (municipality_id, id) ON DELETE SET NULL)`);
    await app.sql(`CREATE TABLE citus_t_ref (id integer PRIMARY KEY, parent_id integer REFERENCES citus_t_parent (id))`);
    await app.sql(`CREATE TABLE citus_t_nocol (id integer PRIMARY KEY)`);
    await app.sql(`CREATE TABLE citus_t_unplaced (id integer PRIMARY KEY)`);
    await app.sql(`CREATE FUNCTION citus_t_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`);
    await app.sql(`CREATE TRIGGER citus_t_trg BEFORE INSERT ON citus_t_parent FOR EACH ROW EXECUTE FUNCTION citus_t_fn()`);
    try {
      const placements: TablePlacement[] = [
        ...tablePlacements,
        { table: 'citus_t_child', kind: 'distributed', reason: 'test' },
        { table: 'citus_t_parent', kind: 'distributed', reason: 'test' },
        { table: 'citus_t_setnull', kind: 'distributed', reason: 'test' },
        { table: 'citus_t_ref', kind: 'reference', reason: 'test' },
        { table: 'citus_t_nocol', kind: 'distributed', reason: 'test' },
        { table: 'citus_t_gone', kind: 'reference', reason: 'test' },
      ];
      const v = await citusViolations(catalog(), placements, allowedTriggers);
      const expected = [
        /^table citus_t_unplaced is not classified for Citus: add it to tablePlacements/,
        /^table citus_t_gone is classified in server\/db\/distribution.ts but does not exist/,
        /^distributed table citus_t_nocol has no municipality_id column/,
        /^distributed table citus_t_child: municipality_id must be NOT NULL/,
        /^distributed table citus_t_parent: primary key citus_t_parent_pkey does not include municipality_id/,
        /^distributed table citus_t_parent: unique constraint citus_t_parent_code_key does not include municipality_id/,
        /^distributed table citus_t_nocol: primary key citus_t_nocol_pkey does not include municipality_id/,
        /^foreign key citus_t_child_parent_id_fkey \(citus_t_child\(parent_id\) → citus_t_parent\(id\)\) joins two distributed tables without municipality_id: make it composite — ALTER TABLE citus_t_child ADD FOREIGN KEY \(municipality_id, parent_id\) REFERENCES citus_t_parent \(municipality_id, id\)/,
        /^foreign key citus_t_child_parent_id_fkey .*: citus_t_parent must come before citus_t_child in tablePlacements/,
        /^foreign key citus_t_setnull_municipality_id_child_id_fkey .* uses ON DELETE SET NULL/,
        /^foreign key citus_t_ref_parent_id_fkey .*: a reference table may reference only reference tables \(citus_t_parent is distributed\)/,
        /^trigger citus_t_trg on distributed table citus_t_parent is not listed in allowedTriggers/,
      ];
      for (const re of expected) expect(v.filter((m) => re.test(m)), `${re} in:\n${v.join('\n')}`).toHaveLength(1);
      expect(v).toHaveLength(expected.length);
      // A stale entry of allowedTriggers is reported too.
      expect((await citusViolations(catalog(), tablePlacements, { ...allowedTriggers, 'appeal.gone_trigger': 'test' })).filter((m) => m.startsWith('allowedTriggers')))
        .toEqual(['allowedTriggers lists appeal.gone_trigger, which no longer exists: remove the entry from server/db/distribution.ts']);
    } finally {
      await app.sql('DROP TABLE citus_t_setnull, citus_t_ref, citus_t_child, citus_t_parent, citus_t_nocol, citus_t_unplaced');
      await app.sql('DROP FUNCTION citus_t_fn()');
    }
  });
});

describe.each(backends)('the Citus migration on %s', (backend) => {
  it('makes composite the foreign keys that migrations written in parallel add to re-keyed tables, and stops on one it cannot', async () => {
    const db = await freshDatabase(backend);
    const dir = backend === 'embedded' ? fs.mkdtempSync(path.join(os.tmpdir(), 'mcu-citus-')) : undefined;
    const embedded = dir ? await startEmbedded(dir) : undefined;
    const orm = await createOrm({ url: embedded?.url ?? db.databaseUrl!, embedded: !!embedded, ...schema });
    try {
      const list = schema.migrations;
      const mine = list.findIndex((m) => m.name === 'Migration20261202001900_citus');
      await orm.getMigrator().up({ to: list[mine - 1].name });
      const em = orm.em.fork();
      // As another engineer's migration might: single-column keys to appeal and appeal_event; and one from a table without municipality_id.
      await em.execute(`CREATE TABLE citus_p_ok (municipality_id integer NOT NULL, id integer PRIMARY KEY,
        appeal_id integer REFERENCES appeal (id) ON DELETE SET NULL, event_id integer REFERENCES appeal_event (id) ON DELETE CASCADE)`);
      await em.execute('CREATE TABLE citus_p_bad (id integer PRIMARY KEY, appeal_id integer REFERENCES appeal (id))');
      await expect(orm.getMigrator().up()).rejects.toThrow(
        /foreign key citus_p_bad_appeal_id_fkey of table citus_p_bad references appeal\(id\) and cannot be made composite by Migration20261202001900_citus: give citus_p_bad a municipality_id column/);
      await em.execute('DROP TABLE citus_p_bad');
      expect((await orm.getMigrator().up()).map((m) => m.name)).toContain('Migration20261202001900_citus');
      const fks = await query<{ name: string; def: string }>(em, `SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE conrelid = 'citus_p_ok'::regclass AND contype = 'f' ORDER BY 1`);
      expect(fks).toEqual([
        { name: 'citus_p_ok_appeal_id_fkey', def: 'FOREIGN KEY (municipality_id, appeal_id) REFERENCES appeal(municipality_id, id)' },
        { name: 'citus_p_ok_event_id_fkey', def: 'FOREIGN KEY (municipality_id, event_id) REFERENCES appeal_event(municipality_id, id) ON DELETE CASCADE' },
      ]);
      await em.execute('DROP TABLE citus_p_ok');
    } finally {
      await orm.close(true);
      await embedded?.stop();
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
      await db.drop();
    }
  }, 600_000);
});

describe('npm run citus:sql', () => {
  it('prints create_reference_table / create_distributed_table for every placed table, co-located, referenced tables first', () => {
    const out = execFileSync(process.execPath, ['dist/server/cli/citus-sql.js'], { encoding: 'utf8' });
    expect(out).toBe(citusSql());
    const anchor = colocationAnchor();
    const calls = out.split('\n').filter((l) => l.startsWith('SELECT create_'));
    expect(calls).toHaveLength(tablePlacements.filter((p) => p.kind !== 'local').length);
    for (const p of tablePlacements) {
      const line = calls.find((l) => l.includes(`('${p.table}'`));
      if (p.kind === 'local') { expect(line).toBeUndefined(); continue; }
      if (p.kind === 'reference') expect(line).toMatch(new RegExp(`^SELECT create_reference_table\\('${p.table}'\\);  -- .{20,}`));
      else {
        const colocate = p.table === anchor ? "'none'" : `'${anchor}'`;
        expect(line).toMatch(new RegExp(`^SELECT create_distributed_table\\('${p.table}', 'municipality_id', colocate_with => ${colocate}\\);  -- .{20,}`));
      }
    }
    // All reference tables before the first distributed one (distributed tables reference them).
    const firstDist = calls.findIndex((l) => l.includes('create_distributed_table'));
    expect(calls.slice(firstDist).every((l) => l.includes('create_distributed_table'))).toBe(true);
    expect(new Set(tablePlacements.map((p) => p.table)).size).toBe(tablePlacements.length);
  });
});
