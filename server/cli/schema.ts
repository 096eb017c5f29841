import fs from 'node:fs';
import path from 'node:path';
import { schemaSdl } from '../graphql/schema.js';
import { repoRoot } from '../reference/files.js';

/** Writes schema.graphql from the resolvers (npm run schema). */
const file = path.join(repoRoot(), 'schema.graphql');
fs.writeFileSync(file, await schemaSdl());
console.log(`записано: ${file}`);
