import { DISTRIBUTION_COLUMN, allowedTriggers as defaultTriggers, tablePlacements, type TablePlacement } from './distribution.js';

/** Runs one catalog query (any backend: PostgreSQL or PGlite). */
export type CatalogQuery = <T>(sql: string) => Promise<T[]>;

const M = DISTRIBUTION_COLUMN;
const WHERE_OURS = `c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`;

const ACTION: Record<string, string> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

/**
 * Reads the catalog (pg_class, pg_attribute, pg_constraint, pg_index, pg_trigger) and returns every breach of
 * Citus's rules for the placement of server/db/distribution.ts, one sentence each saying which table or constraint
 * and what to do. Empty when the schema can be distributed as `npm run citus:sql` says.
 */
export async function citusViolations(
  q: CatalogQuery,
  placements: readonly TablePlacement[] = tablePlacements,
  triggers: Readonly<Record<string, string>> = defaultTriggers,
): Promise<string[]> {
  const out: string[] = [];
  const kindOf = new Map(placements.map((p) => [p.table, p.kind]));
  const order = new Map(placements.map((p, i) => [p.table, i]));
  const fix = 'see server/db/distribution.ts and docs/deployment-citus.md';

  // Every table is placed, every placed table exists.
  const tables = (await q<{ name: string }>(`SELECT c.relname AS name FROM pg_class c WHERE ${WHERE_OURS} ORDER BY 1`)).map((r) => r.name);
  for (const t of tables) {
    if (!kindOf.has(t)) {
      out.push(`table ${t} is not classified for Citus: add it to tablePlacements in server/db/distribution.ts — dist('${t}', '<why>') if it holds one municipality's data `
        + `(then it needs ${M} integer NOT NULL in every key and foreign key), ref(...) for a small shared catalogue, local(...) for coordinator-only bookkeeping`);
    }
  }
  for (const p of placements) {
    if (!tables.includes(p.table)) out.push(`table ${p.table} is classified in server/db/distribution.ts but does not exist: remove or rename its entry`);
  }

  // Distributed tables: municipality_id integer NOT NULL.
  const cols = await q<{ table: string; notnull: boolean; type: string }>(`
    SELECT c.relname AS table, a.attnotnull AS notnull, format_type(a.atttypid, a.atttypmod) AS type
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = '${M}' AND NOT a.attisdropped
     WHERE ${WHERE_OURS}`);
  const colOf = new Map(cols.map((c) => [c.table, c]));
  for (const t of tables.filter((x) => kindOf.get(x) === 'distributed')) {
    const c = colOf.get(t);
    if (!c) out.push(`distributed table ${t} has no ${M} column: add ${M} integer NOT NULL REFERENCES municipality(id) (fill it from the parent row), or classify ${t} differently (${fix})`);
    else {
      if (!c.notnull) out.push(`distributed table ${t}: ${M} must be NOT NULL (a distribution column cannot hold NULL): fill the NULL rows and ALTER COLUMN ${M} SET NOT NULL`);
      if (c.type !== 'integer') out.push(`distributed table ${t}: ${M} is ${c.type}, all co-located tables need the same type: make it integer`);
    }
  }

  // Keys of distributed tables: every primary key, unique or exclusion constraint and unique index includes municipality_id.
  const keys = await q<{ table: string; name: string; kind: string; has_m: boolean; def: string }>(`
    SELECT c.relname AS table, i.relname AS name,
           CASE WHEN con.contype = 'p' THEN 'primary key' WHEN con.contype = 'u' THEN 'unique constraint' ELSE 'unique index' END AS kind,
           EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = '${M}' AND a.attnum = ANY (x.indkey::int2[])) AS has_m,
           pg_get_indexdef(x.indexrelid) AS def
      FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
      LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = c.oid AND con.contype IN ('p', 'u')
     WHERE x.indisunique AND ${WHERE_OURS}
    UNION ALL
    SELECT c.relname, con.conname, 'exclusion constraint',
           EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = '${M}' AND a.attnum = ANY (con.conkey)),
           pg_get_constraintdef(con.oid)
      FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
     WHERE con.contype = 'x' AND ${WHERE_OURS}
     ORDER BY 1, 2`);
  for (const k of keys) {
    if (kindOf.get(k.table) !== 'distributed' || k.has_m) continue;
    out.push(`distributed table ${k.table}: ${k.kind} ${k.name} does not include ${M} (${k.def}): Citus enforces uniqueness only within a shard — `
      + `add ${M} to it, e.g. PRIMARY KEY (${M}, id); ON CONFLICT targets on it must name ${M} too`);
  }

  // Foreign keys.
  const fks = await q<{ name: string; child: string; parent: string; cols: string[]; refcols: string[]; del: string; upd: string }>(`
    SELECT con.conname AS name, ch.relname AS child, pa.relname AS parent, con.confdeltype AS del, con.confupdtype AS upd,
           (SELECT array_agg(a.attname::text ORDER BY k.i) FROM unnest(con.conkey) WITH ORDINALITY AS k(n, i)
              JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n) AS cols,
           (SELECT array_agg(a.attname::text ORDER BY k.i) FROM unnest(con.confkey) WITH ORDINALITY AS k(n, i)
              JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n) AS refcols
      FROM pg_constraint con JOIN pg_class ch ON ch.oid = con.conrelid JOIN pg_class pa ON pa.oid = con.confrelid
     WHERE con.contype = 'f' AND ch.relnamespace = 'public'::regnamespace
     ORDER BY 2, 1`);
  for (const f of fks) {
    const ck = kindOf.get(f.child);
    const pk = kindOf.get(f.parent);
    if (!ck || !pk) continue; // reported above as unclassified
    const what = `foreign key ${f.name} (${f.child}(${f.cols.join(', ')}) → ${f.parent}(${f.refcols.join(', ')}))`;
    const withM = f.cols.includes(M);
    const setNull = ['n', 'd'].includes(f.del) || ['n', 'd', 'c'].includes(f.upd);
    if (ck === 'distributed' && pk === 'distributed') {
      const i = f.cols.indexOf(M);
      if (i < 0 || f.refcols[i] !== M) {
        out.push(`${what} joins two distributed tables without ${M}: make it composite — ALTER TABLE ${f.child} ADD FOREIGN KEY (${M}, ${f.cols.filter((c) => c !== M).join(', ')}) `
          + `REFERENCES ${f.parent} (${M}, ${f.refcols.filter((c) => c !== M).join(', ')}) — with ${f.parent}'s key including ${M}`);
      }
      if (setNull) {
        out.push(`${what} uses ON DELETE ${ACTION[f.del]} / ON UPDATE ${ACTION[f.upd]}: Citus refuses SET NULL / SET DEFAULT (and ON UPDATE CASCADE) on a foreign key `
          + `that contains the distribution column — use NO ACTION or CASCADE and clear the reference in the code`);
      }
    } else if (ck === 'distributed' && pk === 'reference') {
      if (withM && setNull) out.push(`${what}: ${M} is in it, so it cannot use SET NULL / SET DEFAULT / ON UPDATE CASCADE under Citus — use NO ACTION, RESTRICT or ON DELETE CASCADE`);
    } else if (ck === 'reference' && pk !== 'reference') {
      out.push(`${what}: a reference table may reference only reference tables (${f.parent} is ${pk}) — drop the foreign key, or classify ${f.child} as distributed (${fix})`);
    } else if (ck === 'local' && pk === 'distributed') {
      out.push(`${what}: a local table cannot reference a distributed one — classify ${f.child} as distributed (${fix})`);
    } else if (ck === 'distributed' && pk === 'local') {
      out.push(`${what}: a distributed table cannot reference a local one — classify ${f.parent} as reference (${fix})`);
    }
    if (f.child !== f.parent && pk !== 'local' && ck !== 'local' && order.get(f.parent)! > order.get(f.child)!) {
      out.push(`${what}: ${f.parent} must come before ${f.child} in tablePlacements (server/db/distribution.ts): Citus distributes referenced tables first`);
    }
  }

  // Triggers on distributed and reference tables run on the workers' shards: each one must be known and explained.
  const trg = await q<{ table: string; name: string }>(`
    SELECT c.relname AS table, t.tgname AS name FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
     WHERE NOT t.tgisinternal AND ${WHERE_OURS} ORDER BY 1, 2`);
  const seen = new Set<string>();
  for (const t of trg) {
    const key = `${t.table}.${t.name}`;
    seen.add(key);
    if (kindOf.get(t.table) === 'local' || !kindOf.has(t.table)) continue;
    if (!triggers[key]) {
      out.push(`trigger ${t.name} on ${kindOf.get(t.table)} table ${t.table} is not listed in allowedTriggers (server/db/distribution.ts): Citus runs triggers on the shards on the workers — `
        + `prefer setting the column explicitly in the code; if the trigger only touches its own row (or reference tables), list it with the reason`);
    }
  }
  for (const key of Object.keys(triggers)) {
    if (!seen.has(key)) out.push(`allowedTriggers lists ${key}, which no longer exists: remove the entry from server/db/distribution.ts`);
  }
  return out;
}
