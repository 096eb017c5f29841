import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { schemaSdl } from '../server/graphql/schema.js';

describe('schema.graphql', () => {
  it('is up to date with the resolvers (run `npm run schema` after changing them)', async () => {
    const committed = fs.readFileSync('schema.graphql', 'utf8');
    expect(committed).toBe(await schemaSdl());
  });
});
