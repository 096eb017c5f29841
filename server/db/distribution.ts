/**
 * How every table of the schema is placed on a Citus cluster (distributed PostgreSQL, sharded by municipality).
 * This list is the one place that decides it: `npm run citus:sql` prints the `create_reference_table` /
 * `create_distributed_table` calls from it, and test/citus-schema.test.ts reads the database catalog after all
 * migrations and fails when a table is missing here or breaks Citus's rules for its kind (docs/deployment-citus.md).
 *
 * - distributed: sharded by `municipality_id` (integer NOT NULL), all co-located with each other; every primary
 *   key / unique constraint includes `municipality_id`; a foreign key to another distributed table includes it
 *   (`(municipality_id, x_id) → x(municipality_id, id)`), never with ON DELETE SET NULL / SET DEFAULT.
 * - reference: a full copy on every node (small, read in joins from every shard, rarely written); may reference
 *   only reference tables.
 * - local: stays on the coordinator only, never joined with distributed tables.
 *
 * The order matters: referenced tables come before the tables that reference them (Citus distributes a table only
 * when the tables it references already are); the test checks it against the catalog's foreign keys.
 */
export type TableKind = 'distributed' | 'reference' | 'local';

export interface TablePlacement {
  table: string;
  kind: TableKind;
  /** One line: why this placement. */
  reason: string;
}

/** The distribution column of every distributed table. */
export const DISTRIBUTION_COLUMN = 'municipality_id';

const ref = (table: string, reason: string): TablePlacement => ({ table, kind: 'reference', reason });
const dist = (table: string, reason: string): TablePlacement => ({ table, kind: 'distributed', reason });
const local = (table: string, reason: string): TablePlacement => ({ table, kind: 'local', reason });

export const tablePlacements: readonly TablePlacement[] = [
  // Reference: shared catalogues, and the small per-municipality catalogues that every query joins.
  ref('region', 'the regions (subjects of the federation) grouping municipalities: a handful of rows, read by the regional view'),
  ref('municipality', 'the list of municipalities: every table references it, every shard joins it (time zone, centre, grid scale)'),
  ref('channel', 'shared catalogue of intake channels (a dozen rows), referenced by appeals, rules and sources'),
  ref('production_calendar_year', 'the federal production calendar, one for the whole country'),
  ref('production_calendar_day', 'days of the federal production calendar (holidays, shortened days)'),
  ref('organization', 'per-municipality catalogue but small (hundreds of rows per town) and joined by id from every appeal, problem and rating query; referenced by themes and users'),
  ref('thematic_block', 'per-municipality rubricator blocks (about ten per town), joined by id everywhere; referenced by themes and users'),
  ref('theme', 'per-municipality rubricator (hundreds of rows per town), joined by id from appeals, heat layers, rules, problems'),
  ref('district', 'per-municipality districts with their polygons (tens per town): point-in-polygon during import and district statistics join them by id'),
  ref('app_user', 'accounts: looked up by login before the municipality is known; regional roles span municipalities; audit and access logs reference them'),
  ref('user_session', 'sessions: looked up by token hash on every request before the municipality is known; few writes (sign-in, throttled last-seen)'),

  // Distributed by municipality_id: everything that belongs to one municipality.
  dist('import_batch', 'one import run of a municipality; appeals and import issues reference it'),
  dist('import_issue', 'problems found in one import batch of a municipality'),
  dist('appeal_author', 'authors of a municipality\'s appeals (personal data stays with its municipality)'),
  dist('appeal', 'the appeals: the bulk of the data, always read and written per municipality'),
  dist('appeal_event', 'history of an appeal (several rows per appeal)'),
  dist('address_point', 'the address register of a municipality (tens of thousands of houses per town)'),
  dist('routing_rule', 'which organisation answers which theme in which district, per municipality'),
  dist('heat_layer', 'ЦУР heat-map layers loaded for a municipality'),
  dist('heat_cell', 'cells of a municipality\'s heat-map layers'),
  dist('problem_setting', 'problem-detection parameters of a municipality'),
  dist('problem_run', 'one problem-detection run of a municipality'),
  dist('problem', 'territorial problems detected in a municipality'),
  dist('problem_appeal', 'which appeals make up a problem (municipality_id added by Migration20261202001900_citus)'),
  dist('problem_snapshot', 'a problem\'s figures at each run (municipality_id added by Migration20261202001900_citus)'),
  dist('problem_event', 'history of a problem'),
  dist('problem_point', 'projected points of a municipality\'s appeals for problem detection'),
  dist('problem_prev_point', 'points of the previous period for growth detection (unlogged working table)'),
  dist('problem_state', 'the last detection state of a municipality (one row per municipality)'),
  dist('audit_log', 'audit of changes made in a municipality (municipality_id is NOT NULL since Migration20261202001900_citus)'),
  dist('pd_access_log', 'who read personal data of a municipality\'s appeals'),
  dist('answer_quality', 'verdicts on the answers to a municipality\'s appeals'),
  dist('answer_template', 'answer templates found in a municipality\'s answers'),
  dist('quality_model', 'answer-quality models trained per municipality'),
  dist('org_indicator_value', 'rating indicators of a municipality\'s organisations per period'),
  dist('deadline_setting', 'deadline settings of a municipality'),
  dist('deadline_rule', 'deadline rules (channel × theme) of a municipality'),
  dist('rating_setting', 'rating weights of a municipality'),
  dist('rating_indicator', 'rating indicator definitions of a municipality'),
  dist('risk_run', 'one risk-detection run of a municipality'),
  dist('risk_signal', 'risk signals detected in a municipality'),
  dist('recommendation_rule', 'recommendation rules of a municipality'),
  dist('recommendation', 'recommendations made for a municipality'),
  dist('planned_works', 'planned-works notices of a municipality (targeted informing)'),
  dist('informing_template', "a municipality's own message templates (targeted informing)"),
  dist('informing', 'records of targeted informing in a municipality'),
  dist('page_category', 'categories of a municipality\'s official pages'),
  dist('official_page', 'official social-media pages of a municipality\'s organisations'),
  dist('official_page_stat', 'monthly statistics of an official page'),
  dist('official_page_comment', 'comments imported from an official page'),
  dist('official_page_comment_month', 'monthly comment counts of an official page'),
  dist('open311_api_key', 'Open311 API keys of a municipality (verified with the municipality known from the route)'),
  dist('open311_key_use', 'log of uses of an Open311 key (municipality_id added by Migration20261202001900_citus)'),
  dist('open311_source', 'external Open311 servers a municipality imports from'),
  dist('open311_request', 'Open311 service requests: token and media of a municipality\'s appeals'),
  dist('indicator', 'indicator definitions of a municipality'),
  dist('indicator_target', 'monthly targets of a municipality\'s indicators'),
  dist('indicator_value', 'monthly values of a municipality\'s indicators'),
  dist('activity_plan', 'activity plans of a municipality'),
  dist('plan_item', 'items of a municipality\'s activity plan'),
  dist('dq_setting', 'data-quality settings of a municipality'),
  dist('dq_notice', 'data-quality notices sent to a municipality\'s organisations'),
  dist('dq_finding', 'data-quality findings on a municipality\'s appeals'),
  dist('seminar', 'seminars held by a municipality'),
  dist('seminar_invitee', 'invitees of a municipality\'s seminars'),
  dist('best_practice', 'best practices recorded in a municipality'),
  dist('report_schedule', 'schedules of a municipality\'s analytic reports'),
  dist('analytic_report', 'analytic reports (DOCX/PDF) made for a municipality'),
  dist('comm_run', 'one communication-errors check of a municipality'),
  dist('comm_finding', 'communication errors found in a municipality\'s answers and page replies'),

  // Local: the coordinator's own bookkeeping.
  local('mikro_orm_migrations', 'the migration ledger: migrations run on the coordinator, which propagates DDL'),
  local('sign_in_lock', 'brute-force counters per login and source address, written only by the coordinator\'s sign-in'),
];

/**
 * Triggers that stay on distributed or reference tables, with why (Citus runs row triggers on the shards, on the
 * workers, and needs `citus.enable_unsafe_triggers = on` for them). The catalog test fails on any other trigger.
 */
export const allowedTriggers: Readonly<Record<string, string>> = {
  'appeal.appeal_heat_hex': 'BEFORE row trigger: computes the appeal\'s heat-map hexagon ids from its point and its municipality\'s grid scale (reads the municipality reference table, which every worker has) — shard-local, safe under Citus',
  'heat_cell.heat_cell_heat_hex': 'the same hexagon ids for heat-map cells — shard-local, safe under Citus',
  'appeal.appeal_heatmap_version': 'statement trigger bumping the heat-map cache version sequence; under Citus it must move to the application (the sequence lives on the coordinator) — see docs/deployment-citus.md',
  'heat_cell.heat_cell_heatmap_version': 'as appeal_heatmap_version',
  'heat_layer.heat_layer_heatmap_version': 'as appeal_heatmap_version',
  'district.district_heatmap_version': 'as appeal_heatmap_version (district is a reference table: its trigger fires on the coordinator)',
  'theme.theme_data_version': 'statement trigger advancing the data version that aggregate caches compare (renamed themes change cached aggregates); theme is a reference table, so it fires on the coordinator, where the sequence lives',
  'organization.organization_data_version': 'as theme_data_version, for organisations (reference table)',
  'municipality.municipality_heat_hex': 'recomputes hexagon ids when a municipality\'s centre moves; under Citus a trigger on a reference table cannot update distributed tables — it must become an explicit step of the command that moves the centre (docs/deployment-citus.md)',
};

export function placementOf(table: string): TablePlacement | undefined {
  return tablePlacements.find((p) => p.table === table);
}

/** The table every distributed table is co-located with (the first distributed one in the list). */
export function colocationAnchor(): string {
  return tablePlacements.find((p) => p.kind === 'distributed')!.table;
}

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * The SQL that turns a migrated single-node database (on a Citus coordinator with workers added) into the
 * distributed one: reference tables first, then distributed tables co-located with the first one, in the order of
 * the list (referenced tables first). Run it once, after `npm run migrate`, with psql on the coordinator.
 */
export function citusSql(): string {
  const anchor = colocationAnchor();
  const lines = [
    '-- Generated by `npm run citus:sql` from server/db/distribution.ts; run once on the Citus coordinator after',
    '-- `npm run migrate` (see docs/deployment-citus.md). Each call copies the table\'s rows to the workers.',
    '\\set ON_ERROR_STOP on',
    'CREATE EXTENSION IF NOT EXISTS citus;',
    '-- Foreign keys from distributed tables to reference tables need the shards created one connection at a time.',
    "SET citus.multi_shard_modify_mode TO 'sequential';",
    '-- Row triggers stay on appeal and heat_cell (allowedTriggers in server/db/distribution.ts).',
    'SET citus.enable_unsafe_triggers TO on;',
    '',
    '-- Reference tables: a full copy on every node.',
  ];
  for (const p of tablePlacements.filter((t) => t.kind === 'reference')) {
    lines.push(`SELECT create_reference_table(${quote(p.table)});  -- ${p.reason}`);
  }
  lines.push('', `-- Distributed tables: sharded by ${DISTRIBUTION_COLUMN}, all co-located with ${anchor}.`);
  for (const p of tablePlacements.filter((t) => t.kind === 'distributed')) {
    const colocate = p.table === anchor ? "colocate_with => 'none'" : `colocate_with => ${quote(anchor)}`;
    lines.push(`SELECT create_distributed_table(${quote(p.table)}, ${quote(DISTRIBUTION_COLUMN)}, ${colocate});  -- ${p.reason}`);
  }
  lines.push('', '-- Local tables stay on the coordinator:');
  for (const p of tablePlacements.filter((t) => t.kind === 'local')) lines.push(`--   ${p.table}: ${p.reason}`);
  lines.push('', '-- Data loaded before distribution stays in the coordinator\'s local tables; remove it:',
    "SELECT truncate_local_data_after_distributing_table(logicalrelid) FROM pg_dist_partition WHERE partmethod IN ('h', 'n');",
    'RESET citus.multi_shard_modify_mode;',
    '-- Keep the row triggers working for the application\'s sessions too:',
    'DO $$ BEGIN EXECUTE format(\'ALTER DATABASE %I SET citus.enable_unsafe_triggers TO on\', current_database()); END $$;', '');
  return lines.join('\n');
}
