import { Migration } from '@mikro-orm/migrations';

/**
 * The schema follows Citus's rules for the placement decided in server/db/distribution.ts (issue 20, item 4;
 * docs/deployment-citus.md). Nothing is distributed here — single-node PostgreSQL and PGlite keep one copy —
 * but `npm run citus:sql` can now distribute a migrated database as it is.
 *
 * 1. Child tables that lacked `municipality_id` get it, filled from their parent in one UPDATE each:
 *    problem_appeal and problem_snapshot (from problem), open311_key_use (from open311_api_key); audit_log's
 *    becomes NOT NULL (a distribution column cannot hold NULL).
 * 2. Every primary key and unique constraint of a distributed table includes `municipality_id`. Existing keys keep
 *    their leading columns and get `municipality_id` appended (`PRIMARY KEY (id, municipality_id)`): the key's index
 *    keeps serving every lookup by id (DataLoaders, cards, joins), and serves composite foreign keys too (PostgreSQL
 *    matches a foreign key to a unique index by its set of columns). New tables follow the convention
 *    `PRIMARY KEY (municipality_id, id)`; both satisfy Citus.
 * 3. Every foreign key between two distributed tables is composite: `(municipality_id, x_id) → x(municipality_id, id)`
 *    — a row can no longer point at another municipality's row. The two `ON DELETE SET NULL` links to appeals
 *    (official_page_comment.appeal_id, open311_key_use.appeal_id) become `NO ACTION`: Citus refuses SET NULL on a
 *    foreign key that contains the distribution column, and appeals are never deleted by the application (personal
 *    data is anonymised in place).
 *
 * Foreign keys to the re-keyed tables that migrations written in parallel added (single-column, from a table with
 * municipality_id) are found in the catalog and made composite too; any other stops the migration with what to do.
 *
 * Cost on a large database: each table's key index is rebuilt once (one sort), each composite foreign key is
 * validated once (one anti-join of child and parent), the three backfills rewrite three small-to-medium tables.
 * No table is rewritten otherwise. Ids stay `integer` identities (see the deployment page).
 */

/** Distributed tables whose primary key was (id): it becomes (id, municipality_id). */
const ID_KEYS = [
  'activity_plan', 'address_point', 'appeal', 'appeal_author', 'appeal_event', 'audit_log', 'best_practice',
  'deadline_rule', 'dq_finding', 'dq_notice', 'heat_cell', 'heat_layer', 'import_batch', 'import_issue', 'indicator',
  'official_page', 'official_page_comment', 'open311_api_key', 'open311_key_use', 'open311_source',
  'org_indicator_value', 'page_category', 'pd_access_log', 'plan_item', 'problem', 'problem_event', 'problem_run',
  'problem_setting', 'quality_model', 'rating_indicator', 'recommendation', 'risk_run', 'risk_signal', 'routing_rule',
  'seminar', 'seminar_invitee',
];

/** Other keys without municipality_id: [table, constraint, 'PRIMARY KEY' | 'UNIQUE', columns before municipality_id]. */
const OTHER_KEYS: [string, string, 'PRIMARY KEY' | 'UNIQUE', string][] = [
  ['answer_quality', 'answer_quality_pkey', 'PRIMARY KEY', 'appeal_id'],
  ['indicator_target', 'indicator_target_pkey', 'PRIMARY KEY', 'indicator_id, month'],
  ['indicator_value', 'indicator_value_pkey', 'PRIMARY KEY', 'indicator_id, month'],
  ['official_page_comment_month', 'official_page_comment_month_pkey', 'PRIMARY KEY', 'page_id, month'],
  ['official_page_stat', 'official_page_stat_pkey', 'PRIMARY KEY', 'page_id, month'],
  ['open311_request', 'open311_request_pkey', 'PRIMARY KEY', 'appeal_id'],
  ['problem_appeal', 'problem_appeal_pkey', 'PRIMARY KEY', 'problem_id, appeal_id'],
  ['problem_point', 'problem_point_pkey', 'PRIMARY KEY', 'appeal_id'],
  ['problem_snapshot', 'problem_snapshot_pkey', 'PRIMARY KEY', 'problem_id, run_id'],
  ['official_page_comment', 'official_page_comment_page_id_external_id_key', 'UNIQUE', 'page_id, external_id'],
  ['open311_api_key', 'open311_api_key_key_hash_key', 'UNIQUE', 'key_hash'],
  ['open311_request', 'open311_request_token_key', 'UNIQUE', 'token'],
  ['seminar_invitee', 'seminar_invitee_seminar_id_organization_id_person_key', 'UNIQUE', 'seminar_id, organization_id, person'],
];

/** Foreign keys between distributed tables: [child, constraint, column, parent, ON DELETE]. */
const FOREIGN_KEYS: [string, string, string, string, '' | 'CASCADE'][] = [
  ['appeal', 'appeal_author_id_fkey', 'author_id', 'appeal_author', ''],
  ['appeal', 'appeal_batch_id_fkey', 'batch_id', 'import_batch', ''],
  ['appeal', 'appeal_duplicate_of_id_fkey', 'duplicate_of_id', 'appeal', ''],
  ['appeal', 'appeal_repeat_of_id_fkey', 'repeat_of_id', 'appeal', ''],
  ['appeal_event', 'appeal_event_appeal_id_fkey', 'appeal_id', 'appeal', 'CASCADE'],
  ['heat_cell', 'heat_cell_layer_id_fkey', 'layer_id', 'heat_layer', 'CASCADE'],
  ['import_issue', 'import_issue_batch_id_fkey', 'batch_id', 'import_batch', 'CASCADE'],
  ['problem', 'problem_last_run_id_fkey', 'last_run_id', 'problem_run', ''],
  ['problem_appeal', 'problem_appeal_appeal_id_fkey', 'appeal_id', 'appeal', 'CASCADE'],
  ['problem_appeal', 'problem_appeal_problem_id_fkey', 'problem_id', 'problem', 'CASCADE'],
  ['problem_snapshot', 'problem_snapshot_problem_id_fkey', 'problem_id', 'problem', 'CASCADE'],
  ['problem_snapshot', 'problem_snapshot_run_id_fkey', 'run_id', 'problem_run', ''],
  ['problem_event', 'problem_event_problem_id_fkey', 'problem_id', 'problem', 'CASCADE'],
  ['problem_point', 'problem_point_appeal_id_fkey', 'appeal_id', 'appeal', 'CASCADE'],
  ['problem_state', 'problem_state_run_id_fkey', 'run_id', 'problem_run', 'CASCADE'],
  ['answer_quality', 'answer_quality_appeal_id_fkey', 'appeal_id', 'appeal', 'CASCADE'],
  ['official_page', 'official_page_category_id_fkey', 'category_id', 'page_category', ''],
  ['official_page_stat', 'official_page_stat_page_id_fkey', 'page_id', 'official_page', 'CASCADE'],
  ['official_page_comment', 'official_page_comment_appeal_id_fkey', 'appeal_id', 'appeal', ''],
  ['official_page_comment', 'official_page_comment_page_id_fkey', 'page_id', 'official_page', 'CASCADE'],
  ['official_page_comment_month', 'official_page_comment_month_page_id_fkey', 'page_id', 'official_page', 'CASCADE'],
  ['open311_key_use', 'open311_key_use_appeal_id_fkey', 'appeal_id', 'appeal', ''],
  ['open311_key_use', 'open311_key_use_key_id_fkey', 'key_id', 'open311_api_key', 'CASCADE'],
  ['open311_request', 'open311_request_appeal_id_fkey', 'appeal_id', 'appeal', 'CASCADE'],
  ['open311_request', 'open311_request_key_id_fkey', 'key_id', 'open311_api_key', ''],
  ['open311_request', 'open311_request_source_fk', 'source_id', 'open311_source', ''],
  ['indicator_target', 'indicator_target_indicator_id_fkey', 'indicator_id', 'indicator', 'CASCADE'],
  ['indicator_value', 'indicator_value_indicator_id_fkey', 'indicator_id', 'indicator', 'CASCADE'],
  ['plan_item', 'plan_item_indicator_id_fkey', 'indicator_id', 'indicator', ''],
  ['plan_item', 'plan_item_plan_id_fkey', 'plan_id', 'activity_plan', 'CASCADE'],
  ['plan_item', 'plan_item_problem_id_fkey', 'problem_id', 'problem', ''],
  ['dq_finding', 'dq_finding_appeal_id_fkey', 'appeal_id', 'appeal', 'CASCADE'],
  ['dq_finding', 'dq_finding_notice_id_fkey', 'notice_id', 'dq_notice', ''],
  ['seminar_invitee', 'seminar_invitee_seminar_id_fkey', 'seminar_id', 'seminar', 'CASCADE'],
  ['best_practice', 'best_practice_indicator_id_fkey', 'indicator_id', 'indicator', ''],
];

/** Groups items by table, in first-seen order, so each table gets one ALTER TABLE. */
function byTable<T extends unknown[]>(rows: T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const r of rows) m.set(r[0] as string, [...(m.get(r[0] as string) ?? []), r]);
  return m;
}

export class Migration20261202001900_citus extends Migration {
  override async up(): Promise<void> {
    // 1. Foreign keys between distributed tables go first: they depend on the keys rebuilt below.
    for (const [table, fks] of byTable(FOREIGN_KEYS)) {
      this.addSql(`ALTER TABLE ${table} ${fks.map(([, name]) => `DROP CONSTRAINT ${name}`).join(', ')};`);
    }

    // 1b. Foreign keys to these tables added by migrations written in parallel with this one (not in the list
    // above) would block rebuilding the keys: each single-column one from a table with municipality_id is dropped
    // here and re-added as the composite one in step 4; any other stops the migration with what to do.
    this.addSql(`CREATE TEMP TABLE citus_fk_later (child text, name text, col text, parent text, on_delete text) ON COMMIT DROP;`);
    this.addSql(`DO $$
      DECLARE r record;
      BEGIN
        FOR r IN
          SELECT con.conname, ch.relname AS child, pa.relname AS parent, con.confdeltype, array_length(con.conkey, 1) AS n,
                 (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = con.conrelid AND a.attnum = con.conkey[1]) AS col,
                 (SELECT a.attname FROM pg_attribute a WHERE a.attrelid = con.confrelid AND a.attnum = con.confkey[1]) AS refcol,
                 EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = con.conrelid AND a.attname = 'municipality_id' AND NOT a.attisdropped) AS has_m
            FROM pg_constraint con JOIN pg_class ch ON ch.oid = con.conrelid JOIN pg_class pa ON pa.oid = con.confrelid
           WHERE con.contype = 'f' AND pa.relnamespace = 'public'::regnamespace
             AND pa.relname IN (${[...new Set([...ID_KEYS, ...OTHER_KEYS.map((k) => k[0])])].map((t) => `'${t}'`).join(', ')})
             AND NOT coalesce(con.conkey @> (SELECT array_agg(a.attnum) FROM pg_attribute a WHERE a.attrelid = con.conrelid AND a.attname = 'municipality_id'), false)
        LOOP
          IF r.n <> 1 OR r.refcol <> 'id' OR NOT r.has_m THEN
            RAISE EXCEPTION 'foreign key % of table % references %(%) and cannot be made composite by Migration20261202001900_citus: give % a municipality_id column and reference %(municipality_id, id) (see docs/deployment-citus.md)',
              r.conname, r.child, r.parent, r.refcol, r.child, r.parent;
          END IF;
          EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', r.child, r.conname);
          INSERT INTO citus_fk_later VALUES (r.child, r.conname, r.col, r.parent,
            CASE r.confdeltype WHEN 'c' THEN 'ON DELETE CASCADE' WHEN 'r' THEN 'ON DELETE RESTRICT' ELSE '' END);
        END LOOP;
      END $$;`);

    // 2. municipality_id where it was missing, from the parent row (one UPDATE per table).
    this.addSql(`ALTER TABLE problem_appeal ADD COLUMN municipality_id integer;`);
    this.addSql(`UPDATE problem_appeal pa SET municipality_id = p.municipality_id FROM problem p WHERE p.id = pa.problem_id;`);
    this.addSql(`ALTER TABLE problem_snapshot ADD COLUMN municipality_id integer;`);
    this.addSql(`UPDATE problem_snapshot s SET municipality_id = p.municipality_id FROM problem p WHERE p.id = s.problem_id;`);
    this.addSql(`ALTER TABLE open311_key_use ADD COLUMN municipality_id integer;`);
    this.addSql(`UPDATE open311_key_use u SET municipality_id = k.municipality_id FROM open311_api_key k WHERE k.id = u.key_id;`);
    for (const t of ['problem_appeal', 'problem_snapshot', 'open311_key_use']) {
      this.addSql(`ALTER TABLE ${t} ALTER COLUMN municipality_id SET NOT NULL,
        ADD CONSTRAINT ${t}_municipality_id_fkey FOREIGN KEY (municipality_id) REFERENCES municipality(id);`);
    }
    // audit_log: rows written without a municipality (none by the current code) take their actor's, or the only one.
    this.addSql(`UPDATE audit_log l SET municipality_id = u.municipality_id FROM app_user u
      WHERE l.municipality_id IS NULL AND u.id = l.actor_id AND u.municipality_id IS NOT NULL;`);
    this.addSql(`UPDATE audit_log SET municipality_id = (SELECT min(id) FROM municipality)
      WHERE municipality_id IS NULL AND (SELECT count(*) FROM municipality) = 1;`);
    this.addSql(`DO $$ BEGIN
      IF EXISTS (SELECT 1 FROM audit_log WHERE municipality_id IS NULL) THEN
        RAISE EXCEPTION 'audit_log has rows without municipality_id that cannot be attributed: set their municipality_id, then migrate again';
      END IF; END $$;`);
    this.addSql(`ALTER TABLE audit_log ALTER COLUMN municipality_id SET NOT NULL;`);

    // 3. Keys with municipality_id: one ALTER TABLE per table (its indexes are built in that statement).
    const keys = byTable<[string, string, string, string]>([
      ...ID_KEYS.map((t): [string, string, string, string] => [t, `${t}_pkey`, 'PRIMARY KEY', 'id']),
      ...OTHER_KEYS,
    ]);
    for (const [table, ks] of keys) {
      const drops = ks.map(([, name]) => `DROP CONSTRAINT ${name}`);
      const adds = ks.map(([, name, kind, cols]) => `ADD CONSTRAINT ${name} ${kind} (${cols}, municipality_id)`);
      this.addSql(`ALTER TABLE ${table} ${[...drops, ...adds].join(', ')};`);
    }

    // 4. Composite foreign keys, each validated once.
    for (const [table, fks] of byTable(FOREIGN_KEYS)) {
      this.addSql(`ALTER TABLE ${table} ${fks.map(([, name, col, parent, onDelete]) =>
        `ADD CONSTRAINT ${name} FOREIGN KEY (municipality_id, ${col}) REFERENCES ${parent} (municipality_id, id)${onDelete ? ` ON DELETE ${onDelete}` : ''}`).join(', ')};`);
    }
    // ... and those of step 1b (ON DELETE SET NULL / SET DEFAULT become NO ACTION, as above).
    this.addSql(`DO $$
      DECLARE r record;
      BEGIN
        FOR r IN SELECT * FROM citus_fk_later LOOP
          EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (municipality_id, %I) REFERENCES %I (municipality_id, id) %s',
            r.child, r.name, r.col, r.parent, r.on_delete);
        END LOOP;
      END $$;`);
  }
}
