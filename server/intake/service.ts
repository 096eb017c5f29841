import { Readable } from 'node:stream';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { parseIds } from '../graphql/ids.js';
import type { Channel } from '../reference/entities.js';
import { builtinMapping, channelCode, formatFromName, parseMapping, type Mapping, type SourceFormat } from './mapping.js';
import { importAppeals, type ImportReport } from './pipeline.js';
import { invalidateClassifier } from './context.js';
import { parseAddress, streetKeyLoose } from './address.js';
import { ProblemService } from '../problems/service.js';
import { detectRisksAfterImport } from '../risks/hook.js';

/** Intake operations used by GraphQL and the CLI (no HTTP here). */
/** Imports larger than this (appeals) are followed by a full recompute of the problem list's period, not an incremental one. */
const INCREMENTAL_MAX = Number(process.env.PROBLEMS_INCREMENTAL_MAX ?? 50_000);

export class IntakeService {
  constructor(private readonly em: EntityManager, private readonly municipalityId: number, private readonly actor: string) {}

  /** Resolves channel, mapping and format from what the caller gave, then imports. */
  async importFile(input: Readable, opts: { fileName: string; channel?: Channel | string; mapping?: unknown; format?: SourceFormat; chunkSize?: number; onProgress?: (read: number) => void }): Promise<ImportReport> {
    let mapping: Mapping;
    if (opts.mapping != null) mapping = parseMapping(opts.mapping);
    else if (opts.channel) mapping = builtinMapping(String(opts.channel));
    else throw new InputError('channel', 'укажите канал или файл сопоставления (mapping)');
    const fromArg = opts.channel ? channelCode(String(opts.channel)) : undefined;
    if (opts.channel && !fromArg && !mapping.channel) throw new InputError('channel', `неизвестный канал «${String(opts.channel).slice(0, 40)}»`);
    const channel = (mapping.channel ?? fromArg) as Channel | undefined;
    if (!channel) throw new InputError('mapping.channel', 'не указан канал, к которому относятся записи');
    const format = opts.format ?? mapping.format ?? formatFromName(opts.fileName);
    if (!format) throw new InputError('format', `не удалось определить формат файла «${opts.fileName}»: укажите csv, xlsx, jsonl или geojson`);
    const report = await importAppeals(this.em, input, {
      municipalityId: this.municipalityId, channel, mapping, format, sourceName: opts.fileName, actor: this.actor, chunkSize: opts.chunkSize, onProgress: opts.onProgress,
    });
    const t = performance.now();
    await this.updateProblems(report);
    this.problemsUpdateMs = performance.now() - t;
    const t2 = performance.now();
    await detectRisksAfterImport(this.em, this.municipalityId, this.actor, report);
    this.risksUpdateMs = performance.now() - t2;
    return report;
  }

  /**
   * Records that are already objects (an Open311 request, a page pulled from another server) through exactly the
   * path of a file import: each record is one JSON line read with `mapping` (validation, geocoding, classification,
   * routing, duplicates and repeats, idempotency by channel + external id, one batch with its report).
   */
  async importRecords(records: readonly Record<string, unknown>[], opts: { sourceName: string; mapping: unknown; chunkSize?: number }): Promise<ImportReport> {
    const lines = records.map((r) => Buffer.from(`${JSON.stringify(r)}\n`));
    return this.importFile(Readable.from(lines, { objectMode: false }), { fileName: opts.sourceName, mapping: opts.mapping, format: 'jsonl', chunkSize: opts.chunkSize });
  }

  /**
   * After every import the territorial problem list is brought up to date around the new and changed
   * appeals (incremental recompute). The import itself is already committed: a failure here is logged and
   * left to the next full recompute, it does not undo the import.
   */
  /** How long the problem-list update after the last import took (the import command reports it apart). */
  problemsUpdateMs = 0;
  /** How long the information-risk detection after the last import took. */
  risksUpdateMs = 0;

  private async updateProblems(report: ImportReport) {
    if (report.inserted + report.updated === 0) return;
    try {
      // Past this many appeals the windows around them cover the city: a full recompute of the period is as fast, and
      // the ids are not held in memory.
      const [{ n }] = await query<{ n: number }>(this.em, 'SELECT count(*)::int AS n FROM appeal WHERE batch_id = ? AND municipality_id = ?', [report.batchId, this.municipalityId]);
      const ids = n > INCREMENTAL_MAX ? 'all' as const
        : (await query<{ id: number }>(this.em, 'SELECT id FROM appeal WHERE batch_id = ? AND municipality_id = ?', [report.batchId, this.municipalityId])).map((r) => r.id);
      await new ProblemService(this.em, { municipalityId: this.municipalityId, actor: this.actor }).recomputeAround(ids);
    } catch (e) {
      console.error(`Перечень проблем не обновлён после импорта ${report.batchId}: ${(e as Error).message}`);
    }
  }

  private async appealRow(id: string) {
    const [n] = parseIds('id', [id])!;
    const [row] = await query<{ id: number; theme_id: number | null; organization_id: number | null; district_id: number | null; municipality_id: number }>(
      this.em, 'SELECT id, theme_id, organization_id, district_id, municipality_id FROM appeal WHERE id = ? AND municipality_id = ?', [n, this.municipalityId]);
    if (!row) throw new InputError('id', `обращение ${id} не найдено`);
    return row;
  }

  private async event(em: EntityManager, appealId: number, kind: string, from: unknown, to: unknown, comment?: string) {
    await query(em, `INSERT INTO appeal_event (municipality_id, appeal_id, at, actor, kind, from_value, to_value, comment) VALUES (?, ?, now(), ?, ?, ?, ?, ?)`,
      [this.municipalityId, appealId, this.actor, kind, from == null ? null : String(from), to == null ? null : String(to), comment ?? null]);
  }

  private async checkRef(table: 'theme' | 'organization' | 'district', field: string, id: string): Promise<number> {
    const [n] = parseIds(field, [id])!;
    const [r] = await query<{ id: number; is_leaf?: boolean }>(this.em, `SELECT * FROM ${table} WHERE id = ? AND municipality_id = ?`, [n, this.municipalityId]);
    if (!r) throw new InputError(field, `не найден объект с идентификатором ${id}`);
    if (table === 'theme' && r.is_leaf === false) throw new InputError(field, 'выберите конкретную тему, а не раздел');
    return n;
  }

  /** A person sets the theme: an event, the appeal leaves triage, the decision becomes training data; re-routed unless assigned by hand. */
  async reclassify(id: string, themeIdArg: string, comment?: string): Promise<number> {
    const a = await this.appealRow(id);
    const themeId = await this.checkRef('theme', 'themeId', themeIdArg);
    await this.em.transactional(async (tem) => {
      await query(tem, `UPDATE appeal SET theme_id = ?, theme_source = 'PERSON', theme_confidence = 1, triage = false, updated_at = now() WHERE id = ?`, [themeId, a.id]);
      await this.event(tem, a.id, 'THEME', a.theme_id, themeId, comment);
      const [r] = await query<{ org: number | null }>(tem, 'SELECT appeal_route(?, ?, ?) AS org', [this.municipalityId, themeId, a.district_id]);
      const manual = await query(tem, `SELECT 1 FROM appeal_event WHERE appeal_id = ? AND kind = 'ORGANIZATION' AND actor NOT LIKE 'import:%'`, [a.id]);
      if (r.org != null && r.org !== a.organization_id && manual.length === 0) {
        await query(tem, 'UPDATE appeal SET organization_id = ? WHERE id = ?', [r.org, a.id]);
        await this.event(tem, a.id, 'ORGANIZATION', a.organization_id, r.org, 'маршрутизация по новой теме');
      }
    });
    invalidateClassifier(this.municipalityId);
    return a.id;
  }

  async reassign(id: string, orgIdArg: string, comment?: string): Promise<number> {
    const a = await this.appealRow(id);
    const orgId = await this.checkRef('organization', 'organizationId', orgIdArg);
    if (orgId === a.organization_id) return a.id;
    await this.em.transactional(async (tem) => {
      await query(tem, 'UPDATE appeal SET organization_id = ?, updated_at = now() WHERE id = ?', [orgId, a.id]);
      await this.event(tem, a.id, 'ORGANIZATION', a.organization_id, orgId, comment);
    });
    return a.id;
  }

  /** A person places an appeal from the address-review queue; optionally teaches the address register. */
  async resolvePlace(id: string, lon: number, lat: number, addToRegister: boolean): Promise<number> {
    const a = await this.appealRow(id);
    if (!Number.isFinite(lon) || lon < -180 || lon > 180) throw new InputError('lon', `долгота ${lon} вне диапазона`);
    if (!Number.isFinite(lat) || lat < -90 || lat > 90) throw new InputError('lat', `широта ${lat} вне диапазона`);
    const [inside] = await query<{ d: number | null; ok: boolean }>(this.em,
      `SELECT (SELECT id FROM district WHERE municipality_id = ? AND ST_Intersects(geom, p) ORDER BY id LIMIT 1) AS d,
              ST_DWithin(p::geography, (SELECT center FROM municipality WHERE id = ?)::geography, 60000) AS ok
         FROM (SELECT ST_SetSRID(ST_MakePoint(?, ?), 4326) AS p) x`, [this.municipalityId, this.municipalityId, lon, lat]);
    if (!inside.ok) throw new InputError('lon', 'точка дальше 60 км от центра муниципального образования — проверьте порядок широты и долготы');
    await this.em.transactional(async (tem) => {
      const [old] = await query<{ address: string | null; p: string | null }>(tem, 'SELECT address, ST_AsText(point) AS p FROM appeal WHERE id = ?', [a.id]);
      await query(tem, `UPDATE appeal SET point = ST_SetSRID(ST_MakePoint(?, ?), 4326), place_status = 'MANUAL', place_precision = 'HOUSE', district_id = ?, updated_at = now() WHERE id = ?`,
        [lon, lat, inside.d, a.id]);
      await this.event(tem, a.id, 'PLACE', old.p, `POINT(${lon} ${lat})`);
      if (inside.d !== a.district_id) await this.event(tem, a.id, 'DISTRICT', a.district_id, inside.d);
      if (addToRegister && old.address) {
        const p = parseAddress(old.address);
        if (p?.house) {
          await query(tem,
            `INSERT INTO address_point (municipality_id, street_key, street_loose, house, display, point)
             VALUES (?, ?, ?, ?, ?, ST_SetSRID(ST_MakePoint(?, ?), 4326))
             ON CONFLICT (municipality_id, street_key, house) DO UPDATE SET point = excluded.point`,
            [this.municipalityId, p.streetKey, streetKeyLoose(p.streetKey), p.house, old.address, lon, lat]);
        }
      }
    });
    return a.id;
  }

  async setRoutingRule(themeIdArg: string, districtIdArg: string | undefined, orgIdArg: string): Promise<void> {
    const themeId = await this.checkRef('theme', 'themeId', themeIdArg);
    const districtId = districtIdArg ? await this.checkRef('district', 'districtId', districtIdArg) : null;
    const orgId = await this.checkRef('organization', 'organizationId', orgIdArg);
    await query(this.em,
      `INSERT INTO routing_rule (municipality_id, theme_id, district_id, organization_id) VALUES (?, ?, ?, ?)
       ON CONFLICT (municipality_id, theme_id, coalesce(district_id, 0)) DO UPDATE SET organization_id = excluded.organization_id`,
      [this.municipalityId, themeId, districtId, orgId]);
  }
}
