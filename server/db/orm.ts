import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { referenceEntities } from '../reference/entities.js';
import { appealEntities } from '../appeals/entities.js';
import { Migration20261127000001_init } from '../../db/migrations/Migration20261127000001_init.js';
import { Migration20261127000003_intake } from '../../db/migrations/Migration20261127000003_intake.js';
import { heatmapEntities } from '../heatmap/entities.js';
import { Migration20261127000002_heatmap } from '../../db/migrations/Migration20261127000002_heatmap.js';
import { Migration20261127000004_heatcells } from '../../db/migrations/Migration20261127000004_heatcells.js';
import { Migration20261127000005_problems } from '../../db/migrations/Migration20261127000005_problems.js';
import { Migration20261127000006_auth } from '../../db/migrations/Migration20261127000006_auth.js';
import { Migration20261127000007_problemscope } from '../../db/migrations/Migration20261127000007_problemscope.js';
import { Migration20261127000103_intake_dedup } from '../../db/migrations/Migration20261127000103_intake_dedup.js';
import { Migration20261127000104_routing } from '../../db/migrations/Migration20261127000104_routing.js';
import { Migration20261127000008_problempoints } from '../../db/migrations/Migration20261127000008_problempoints.js';
import { Migration20261202001000_centre } from '../../db/migrations/Migration20261202001000_centre.js';
import { Migration20261202000100_control_contract } from '../../db/migrations/Migration20261202000100_control_contract.js';
import { Migration20261202000500_risks } from '../../db/migrations/Migration20261202000500_risks.js';
import { Migration20261202000200_deadlines } from '../../db/migrations/Migration20261202000200_deadlines.js';
import { Migration20261202000400_rating } from '../../db/migrations/Migration20261202000400_rating.js';
import { Migration20261202000600_pages } from '../../db/migrations/Migration20261202000600_pages.js';
import { Migration20261202000300_quality } from '../../db/migrations/Migration20261202000300_quality.js';
import { Migration20261202000700_open311 } from '../../db/migrations/Migration20261202000700_open311.js';
import { Migration20261202000800_classifier } from '../../db/migrations/Migration20261202000800_classifier.js';
import { Migration20261202000900_hardening } from '../../db/migrations/Migration20261202000900_hardening.js';
import { Migration20261202001400_informing } from '../../db/migrations/Migration20261202001400_informing.js';

export const entities = [...referenceEntities, ...appealEntities, ...heatmapEntities];

/** Migrations are listed explicitly so the same list runs from sources (tests) and from dist/. */
export const migrationsList = [
  { name: 'Migration20261127000001_init', class: Migration20261127000001_init },
  { name: 'Migration20261127000002_heatmap', class: Migration20261127000002_heatmap },
  { name: 'Migration20261127000003_intake', class: Migration20261127000003_intake },
  { name: 'Migration20261127000004_heatcells', class: Migration20261127000004_heatcells },
  { name: 'Migration20261127000005_problems', class: Migration20261127000005_problems },
  { name: 'Migration20261127000006_auth', class: Migration20261127000006_auth },
  { name: 'Migration20261127000007_problemscope', class: Migration20261127000007_problemscope },
  { name: 'Migration20261127000008_problempoints', class: Migration20261127000008_problempoints },
  { name: 'Migration20261127000103_intake_dedup', class: Migration20261127000103_intake_dedup },
  { name: 'Migration20261127000104_routing', class: Migration20261127000104_routing },
  { name: 'Migration20261202000100_control_contract', class: Migration20261202000100_control_contract },
  { name: 'Migration20261202000200_deadlines', class: Migration20261202000200_deadlines },
  { name: 'Migration20261202000300_quality', class: Migration20261202000300_quality },
  { name: 'Migration20261202000400_rating', class: Migration20261202000400_rating },
  { name: 'Migration20261202000500_risks', class: Migration20261202000500_risks },
  { name: 'Migration20261202000600_pages', class: Migration20261202000600_pages },
  { name: 'Migration20261202000700_open311', class: Migration20261202000700_open311 },
  { name: 'Migration20261202000800_classifier', class: Migration20261202000800_classifier },
  { name: 'Migration20261202000900_hardening', class: Migration20261202000900_hardening },
  { name: 'Migration20261202001000_centre', class: Migration20261202001000_centre },
  { name: 'Migration20261202001400_informing', class: Migration20261202001400_informing },
];

export interface OrmOptions {
  url: string;
  /** The embedded backend is one Postgres session: one connection. */
  embedded: boolean;
  /** Called with every SQL statement (tests count statements with it). */
  onQuery?: (sql: string) => void;
  poolMax?: number;
}

export async function createOrm(opts: OrmOptions): Promise<MikroORM> {
  const config: Options = {
    clientUrl: opts.url,
    entities,
    extensions: [Migrator],
    migrations: { migrationsList, transactional: true, allOrNothing: true, snapshot: false, silent: true },
    pool: opts.embedded ? { min: 0, max: 1 } : { min: 2, max: opts.poolMax ?? 10 },
    debug: opts.onQuery ? ['query'] : false,
    logger: opts.onQuery ? (message: string) => opts.onQuery!(message) : undefined,
    colors: false,
    allowGlobalContext: false,
    forceUtcTimezone: true,
    discovery: { warnWhenNoEntities: true },
  };
  const orm = await MikroORM.init(config);
  return orm;
}

/**
 * Tables that a migration rewrites, to vacuum once it has committed: a rewrite leaves the
 * visibility map empty, so index-only scans (the heat map's appeal_heat_idx) would read the heap
 * until autovacuum happened to come by (never on the embedded backend, which has no autovacuum).
 */
const VACUUM_AFTER: Record<string, string[]> = {
  Migration20261127000004_heatcells: ['appeal', 'heat_cell'],
};

export async function migrate(orm: MikroORM): Promise<string[]> {
  const done = (await orm.getMigrator().up()).map((m) => m.name);
  const tables = [...new Set(done.flatMap((name) => VACUUM_AFTER[name] ?? []))];
  if (tables.length) await orm.em.fork().getConnection().execute(`VACUUM (ANALYZE) ${tables.join(', ')}`);
  return done;
}
