import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { RiskService } from './service.js';

/**
 * After an import: incremental detection over the local days the import touched (its new and changed appeals).
 * The import is already committed; a failure here is logged and left to the next run, it does not undo the import.
 */
export async function detectRisksAfterImport(em: EntityManager, municipalityId: number, actor: string, report: { batchId: number | string; inserted: number; updated: number }): Promise<void> {
  if (report.inserted + report.updated === 0) return;
  try {
    const days = await query<{ d: string }>(em,
      `SELECT DISTINCT to_char(a.received_at AT TIME ZONE m.timezone, 'YYYY-MM-DD') AS d
         FROM appeal a JOIN municipality m ON m.id = a.municipality_id WHERE a.batch_id = ? AND a.municipality_id = ?`, [report.batchId, municipalityId]);
    if (!days.length) return;
    await new RiskService(em, { municipalityId, actor: `${actor} (импорт)` }).run({ mode: 'INCREMENTAL', days: days.map((r) => r.d) });
  } catch (e) {
    console.error(`Информационные риски не пересчитаны после импорта ${report.batchId}: ${(e as Error).message}`);
  }
}
