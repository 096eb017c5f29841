import { citusSql } from '../db/distribution.js';

/** npm run citus:sql — prints the SQL that distributes a migrated database on a Citus cluster (docs/deployment-citus.md). */
process.stdout.write(citusSql());
