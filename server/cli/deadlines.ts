import { parseArgs } from 'node:util';
import { runWithDatabase } from './database.js';
import { recomputeDeadlines } from '../deadlines/appeals.js';
import { audit } from '../audit/audit.js';

/**
 * npm run deadlines:recompute -- [--from 2025-01-01] [--to 2026-01-01] [--detect-urgency]
 * (Re)computes the rule, due times and working minutes of stored appeals (extensions kept): the recomputeAppealDeadlines mutation.
 */
const { values } = parseArgs({ options: { from: { type: 'string' }, to: { type: 'string' }, 'detect-urgency': { type: 'boolean', default: false } } });
const date = (name: string, v?: string) => {
  if (v == null) return undefined;
  const d = new Date(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(d.getTime())) { console.error(`--${name}: неверная дата «${v}» (ожидается ГГГГ-ММ-ДД)`); process.exit(2); }
  return d;
};
const from = date('from', values.from);
const to = date('to', values.to);
process.exit(
  await runWithDatabase(async ({ em, municipalityId }) => {
    const t = Date.now();
    const r = await recomputeDeadlines(em, municipalityId, { from, to, detectUrgency: values['detect-urgency'], actor: 'cli',
      onProgress: (n) => process.stdout.write(`\r${n} обращений…`) });
    await audit(em, { municipalityId, actor: 'cli' }, { entity: 'appeal_deadlines', action: 'recompute', after: { from, to, ...r } });
    console.log(`\rПересчитано обращений: ${r.appeals} (с правилом ${r.withRule}, срочных ${r.urgent}) за ${((Date.now() - t) / 1000).toFixed(1)} с`);
  }),
);
