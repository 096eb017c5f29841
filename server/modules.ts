import { referenceEntities } from './reference/entities.js';
import { appealEntities } from './appeals/entities.js';
import { heatmapEntities } from './heatmap/entities.js';
import { Migration20261127000001_init } from '../db/migrations/Migration20261127000001_init.js';
import { Migration20261127000002_heatmap } from '../db/migrations/Migration20261127000002_heatmap.js';
import { Migration20261127000003_intake } from '../db/migrations/Migration20261127000003_intake.js';
import { Migration20261127000004_heatcells } from '../db/migrations/Migration20261127000004_heatcells.js';
import { Migration20261127000005_problems } from '../db/migrations/Migration20261127000005_problems.js';
import { Migration20261127000006_auth } from '../db/migrations/Migration20261127000006_auth.js';
import { Migration20261127000007_problemscope } from '../db/migrations/Migration20261127000007_problemscope.js';
import { Migration20261127000008_problempoints } from '../db/migrations/Migration20261127000008_problempoints.js';
import { Migration20261127000103_intake_dedup } from '../db/migrations/Migration20261127000103_intake_dedup.js';
import { Migration20261127000104_routing } from '../db/migrations/Migration20261127000104_routing.js';
import { Migration20261202000100_control_contract } from '../db/migrations/Migration20261202000100_control_contract.js';
import { Migration20261202000200_deadlines } from '../db/migrations/Migration20261202000200_deadlines.js';
import { Migration20261202000300_quality } from '../db/migrations/Migration20261202000300_quality.js';
import { Migration20261202000400_rating } from '../db/migrations/Migration20261202000400_rating.js';
import { Migration20261202000500_risks } from '../db/migrations/Migration20261202000500_risks.js';
import { Migration20261202000600_pages } from '../db/migrations/Migration20261202000600_pages.js';
import { Migration20261202000700_open311 } from '../db/migrations/Migration20261202000700_open311.js';
import { Migration20261202000800_classifier } from '../db/migrations/Migration20261202000800_classifier.js';
import { Migration20261202000900_hardening } from '../db/migrations/Migration20261202000900_hardening.js';
import { Migration20261202001000_centre } from '../db/migrations/Migration20261202001000_centre.js';
import { Migration20261202001100_perf } from '../db/migrations/Migration20261202001100_perf.js';
import { Migration20261202001300_reports } from '../db/migrations/Migration20261202001300_reports.js';
import { Migration20261202001400_informing } from '../db/migrations/Migration20261202001400_informing.js';
import { Migration20261202001600_communication } from '../db/migrations/Migration20261202001600_communication.js';
import { Migration20261202001700_region } from '../db/migrations/Migration20261202001700_region.js';
import { Migration20261202001900_citus } from '../db/migrations/Migration20261202001900_citus.js';
import { Migration20261202002300_control } from '../db/migrations/Migration20261202002300_control.js';
import { Migration20261202002700_calendar_hash } from '../db/migrations/Migration20261202002700_calendar_hash.js';
import type { MigrationsList, OrmOptions } from './db/orm.js';

/*
 * The composition of the data model: every capability's entities and every migration, in one place
 * (server/db/orm.ts knows no capability). Used by server/app.ts, the CLI tools and the tests' global setup.
 * A new migration: one import and one line in migrationsList, sorted by name.
 */

/** Every capability's MikroORM entities (most capabilities use SQL only and have none). */
export const entities = [...referenceEntities, ...appealEntities, ...heatmapEntities];

/** Every migration, sorted by name (one line each; listed explicitly so the same list runs from sources and from dist/). */
export const migrationsList: MigrationsList = [
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
  { name: 'Migration20261202001100_perf', class: Migration20261202001100_perf },
  { name: 'Migration20261202001300_reports', class: Migration20261202001300_reports },
  { name: 'Migration20261202001400_informing', class: Migration20261202001400_informing },
  { name: 'Migration20261202001600_communication', class: Migration20261202001600_communication },
  { name: 'Migration20261202001700_region', class: Migration20261202001700_region },
  { name: 'Migration20261202001900_citus', class: Migration20261202001900_citus },
  { name: 'Migration20261202002300_control', class: Migration20261202002300_control },
  { name: 'Migration20261202002700_calendar_hash', class: Migration20261202002700_calendar_hash },
];

/** What createOrm needs from the composition: `createOrm({ url, embedded, ...schema })`. */
export const schema: Pick<OrmOptions, 'entities' | 'migrations'> = { entities, migrations: migrationsList };
