import { CommunicationService } from '../server/communication/service.js';
import { query } from '../server/db/sql.js';
import type { App } from '../server/app.js';
import { median, type SummaryRow } from './lib.js';

const today = () => new Date().toISOString().slice(0, 10);

/**
 * Communication errors: one check over every answered appeal of the demo data (batched reads, the lexicon applied
 * in JS, contradictions within duplicate groups and problems, findings replaced in one transaction) against
 * reading the same answers with one query.
 */
export async function benchCommunication(app: App, backend: SummaryRow['backend'], n: number): Promise<SummaryRow[]> {
  const em = app.orm.em.fork();
  const mid = app.municipalityId;
  const svc = new CommunicationService(em, { municipalityId: mid, actor: 'bench' });
  const t0 = performance.now();
  const r = await svc.check('2000-01-01', '2100-12-31');
  const s = (performance.now() - t0) / 1000;
  const reads: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await query(em, `SELECT a.id, a.organization_id, a.answer_text, a.address, au.full_name FROM appeal a LEFT JOIN appeal_author au ON au.id = a.author_id
                      WHERE a.municipality_id = ? AND a.answer_text IS NOT NULL`, [mid]);
    reads.push((performance.now() - t) / 1000);
  }
  return [{
    name: 'communication errors: check all answers', backend, n, ours: r.answers / s, baseline: r.answers / median(reads), ratio: median(reads) / s,
    unit: 'answers/s', target: 'report', date: today(),
    notes: `${r.answers} answers in ${s.toFixed(1)} s, ${r.findings} findings (${Object.entries(r.byKind).map(([k, v]) => `${k} ${v}`).join(', ')}); baseline = reading the answers with one query`,
  }];
}
