import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { Role } from './roles.js';
import { UserService, randomPassword } from './users.js';

export interface DemoAccount {
  login: string;
  password: string;
  role: Role;
  displayName: string;
  scope?: string;
}

interface DemoSpec { login: string; role: Role; displayName: string; block?: string; organization?: string }

/** The regional centre's demo accounts (read-only across the region; the curator also imports the ЦУР heat map). */
export const REGION_DEMO: DemoSpec[] = [
  { login: 'region.analyst', role: Role.REGION_ANALYST, displayName: 'Аналитик ЦУР Алтайского края (демо)' },
  { login: 'region.curator', role: Role.REGION_CURATOR, displayName: 'Куратор ЦУР Алтайского края (демо)' },
];

/** A further municipality's demo accounts: its curator and analyst (logins prefixed by its code). */
export function municipalDemo(code: string, name: string): DemoSpec[] {
  return [
    { login: `${code}.curator`, role: Role.CURATOR, displayName: `Куратор МЦУ, ${name} (демо)` },
    { login: `${code}.analyst`, role: Role.ANALYST, displayName: `Аналитик МЦУ, ${name} (демо)` },
  ];
}

const DEMO: DemoSpec[] = [
  { login: 'admin', role: Role.ADMIN, displayName: 'Администратор (демо)' },
  { login: 'curator', role: Role.CURATOR, displayName: 'Куратор МЦУ (демо)' },
  { login: 'coordinator', role: Role.COORDINATOR, displayName: 'Руководитель-координатор (демо)' },
  { login: 'block-lead', role: Role.BLOCK_LEAD, displayName: 'Ответственный за блок ЖКХ (демо)', block: 'gkh' },
  { login: 'worker', role: Role.WORKER, displayName: 'Работник МЦУ (демо)' },
  { login: 'officer', role: Role.ORG_OFFICER, displayName: 'Сотрудник Управления по ЖКХ (демо)', organization: 'uzhkh' },
  { login: 'analyst', role: Role.ANALYST, displayName: 'Аналитик (демо)' },
];

/**
 * Demo mode only: one account per role, each with a new random password on every start (printed once, never
 * stored in clear). Logins taken by real (non-demo) accounts are left alone. BLOCK_LEAD gets the ЖКХ block and
 * ORG_OFFICER the housing department when the municipality has them, else its first block / functional body.
 */
export async function ensureDemoAccounts(em: EntityManager, municipalityId: number, specs: DemoSpec[] = DEMO): Promise<DemoAccount[]> {
  const svc = new UserService(em, municipalityId);
  const [refs] = await query<{ block: number | null; block_name: string | null; org: number | null; org_name: string | null }>(em,
    `SELECT b.id AS block, b.name AS block_name, o.id AS org, coalesce(o.short_name, o.name) AS org_name FROM
       (SELECT id, name FROM thematic_block WHERE municipality_id = ? ORDER BY (code = ?) DESC, id LIMIT 1) b
       FULL JOIN (SELECT id, name, short_name FROM organization WHERE municipality_id = ? ORDER BY (code = ?) DESC, (kind = 'FUNCTIONAL_BODY') DESC, id LIMIT 1) o ON true`,
    [municipalityId, 'gkh', municipalityId, 'uzhkh']);
  const out: DemoAccount[] = [];
  for (const d of specs) {
    if (d.role === Role.BLOCK_LEAD && refs?.block == null) continue;
    if (d.role === Role.ORG_OFFICER && refs?.org == null) continue;
    const password = randomPassword();
    const existing = await svc.byLogin(d.login);
    if (existing && !existing.demo) continue;
    if (existing) {
      await svc.update(existing.id, { role: d.role, displayName: d.displayName, active: true, organization: refs?.org ?? null, thematicBlock: refs?.block ?? null });
      await svc.setPassword(existing.id, password);
      await query(em, 'UPDATE user_session SET revoked_at = now() WHERE user_id = ? AND revoked_at IS NULL', [existing.id]);
    } else {
      await svc.create({ login: d.login, displayName: d.displayName, role: d.role, password, organization: refs?.org, thematicBlock: refs?.block, demo: true });
    }
    out.push({
      login: d.login, password, role: d.role, displayName: d.displayName,
      scope: d.role === Role.BLOCK_LEAD ? refs?.block_name ?? undefined : d.role === Role.ORG_OFFICER ? refs?.org_name ?? undefined : undefined,
    });
  }
  return out;
}

/** Outside demo mode the demo accounts are disabled and their sessions ended. */
export async function disableDemoAccounts(em: EntityManager): Promise<number> {
  const rows = await query<{ id: number }>(em, 'UPDATE app_user SET active = false, updated_at = now() WHERE demo AND active RETURNING id');
  if (rows.length) await query(em, 'UPDATE user_session SET revoked_at = now() WHERE user_id = ANY(?::int[]) AND revoked_at IS NULL', [rows.map((r) => r.id)]);
  return rows.length;
}
