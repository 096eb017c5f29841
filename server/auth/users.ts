import crypto from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { MIN_PASSWORD_LENGTH } from './config.js';
import { ALL_ROLES, Role, isRole } from './roles.js';

/** The signed-in user as every request sees it (no password hash). */
export interface AuthUser {
  id: number;
  login: string;
  displayName: string;
  role: Role;
  municipalityId: number;
  /** ORG_OFFICER: their organisation (their rows: this organisation and its subordinates). */
  organizationId: number | null;
  /** BLOCK_LEAD: their thematic block (their rows: the themes of this block). */
  thematicBlockId: number | null;
  /**
   * Regional roles only (server/auth/roles.ts REGION_ROLES): the municipalities of their region. Their requests serve
   * `municipalityId`, the municipality they opened (user_session.municipality_id), else their home municipality.
   */
  regionMunicipalityIds?: number[];
  /** Regional roles: their region; their home municipality (the account's own). */
  regionId?: number | null;
  homeMunicipalityId?: number;
}

/** An account as administrators see it. */
export interface UserRow extends AuthUser {
  active: boolean;
  demo: boolean;
  failedAttempts: number;
  lockedUntil: Date | null;
  lastLoginAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export const USER_COLUMNS = `u.id, u.login, u.display_name, u.role, u.municipality_id, u.organization_id, u.thematic_block_id,
  u.active, u.demo, u.failed_attempts, u.locked_until, u.last_login_at, u.created_at, u.updated_at`;

type Row = Record<string, any>;
const date = (v: unknown): Date | null => (v == null ? null : new Date(v as string));

export function rowToUser(r: Row): UserRow {
  return {
    id: r.id, login: r.login, displayName: r.display_name, role: r.role, municipalityId: r.municipality_id,
    organizationId: r.organization_id ?? null, thematicBlockId: r.thematic_block_id ?? null,
    active: r.active, demo: r.demo, failedAttempts: r.failed_attempts, lockedUntil: date(r.locked_until),
    lastLoginAt: date(r.last_login_at), createdAt: date(r.created_at)!, updatedAt: date(r.updated_at)!,
  };
}

export function authUserOf(u: UserRow | Row): AuthUser {
  const x = 'displayName' in u ? (u as UserRow) : rowToUser(u);
  return {
    id: x.id, login: x.login, displayName: x.displayName, role: x.role, municipalityId: x.municipalityId,
    organizationId: x.organizationId, thematicBlockId: x.thematicBlockId,
  };
}

/** argon2id with the library's defaults (m = 19 MiB, t = 2, p = 1: the OWASP minimum). */
export function hashPassword(password: string): Promise<string> {
  return hash(password);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    return false;
  }
}

/** A hash of a random password, verified against when the login is unknown (same time as a real check). */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hash(crypto.randomBytes(16).toString('hex'));
  return dummyHash;
}

export function checkPassword(field: string, password: unknown): string {
  if (typeof password !== 'string') throw new InputError(field, 'пароль не задан');
  if (password.length < MIN_PASSWORD_LENGTH) throw new InputError(field, `пароль не короче ${MIN_PASSWORD_LENGTH} символов`);
  if (password.length > 200) throw new InputError(field, 'пароль не длиннее 200 символов');
  return password;
}

export function normalizeLogin(field: string, login: unknown): string {
  if (typeof login !== 'string') throw new InputError(field, 'логин не задан');
  const l = login.trim().toLowerCase();
  if (!/^[a-z0-9._-]{2,64}$/.test(l)) throw new InputError(field, 'логин: 2–64 символа, латинские буквы, цифры, точка, дефис, подчёркивание');
  return l;
}

/** A readable random password for demo accounts (no look-alike characters). */
export function randomPassword(length = 14): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = crypto.randomBytes(length);
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join('');
}

export interface UserInput {
  login: string;
  displayName?: string;
  role: Role | string;
  password: string;
  /** Organisation id or code (ORG_OFFICER). */
  organization?: string | number | null;
  /** Thematic block id or code (BLOCK_LEAD). */
  thematicBlock?: string | number | null;
  demo?: boolean;
}

export interface UserUpdate {
  displayName?: string;
  role?: Role;
  organization?: string | number | null;
  thematicBlock?: string | number | null;
  active?: boolean;
}

/** Accounts: creation, changes, passwords, lock-out state. Used by GraphQL and the CLI. */
export class UserService {
  constructor(private readonly em: EntityManager, private readonly municipalityId: number) {}

  async list(): Promise<UserRow[]> {
    const rows = await query<Row>(this.em, `SELECT ${USER_COLUMNS} FROM app_user u WHERE u.municipality_id = ? ORDER BY u.login`, [this.municipalityId]);
    return rows.map(rowToUser);
  }

  async byId(id: number): Promise<UserRow | null> {
    const [r] = await query<Row>(this.em, `SELECT ${USER_COLUMNS} FROM app_user u WHERE u.id = ? AND u.municipality_id = ?`, [id, this.municipalityId]);
    return r ? rowToUser(r) : null;
  }

  async byLogin(login: string): Promise<UserRow | null> {
    const [r] = await query<Row>(this.em, `SELECT ${USER_COLUMNS} FROM app_user u WHERE u.login = ?`, [login.trim().toLowerCase()]);
    return r ? rowToUser(r) : null;
  }

  private async refId(table: 'organization' | 'thematic_block', field: string, v: string | number | null | undefined): Promise<number | null> {
    if (v == null || v === '') return null;
    const s = String(v).trim();
    const [r] = await query<{ id: number }>(this.em,
      `SELECT id FROM ${table} WHERE municipality_id = ? AND (${/^\d{1,9}$/.test(s) ? 'id = ?::int' : 'code = ?'})`, [this.municipalityId, s]);
    if (!r) throw new InputError(field, `не найден${table === 'organization' ? 'а организация' : ' тематический блок'} «${s.slice(0, 60)}»`);
    return r.id;
  }

  /** Checks that the role's scope is given (and only the one it uses). */
  private checkScope(role: Role, organizationId: number | null, blockId: number | null, at: string) {
    if (role === Role.ORG_OFFICER && organizationId == null) throw new InputError(`${at}organization`, 'для роли ORG_OFFICER укажите организацию');
    if (role === Role.BLOCK_LEAD && blockId == null) throw new InputError(`${at}thematicBlock`, 'для роли BLOCK_LEAD укажите тематический блок');
  }

  async create(input: UserInput, at = ''): Promise<UserRow> {
    const login = normalizeLogin(`${at}login`, input.login);
    if (!isRole(input.role)) throw new InputError(`${at}role`, `неизвестная роль «${String(input.role).slice(0, 30)}»; допустимы: ${ALL_ROLES.join(', ')}`);
    const role = input.role;
    const password = checkPassword(`${at}password`, input.password);
    const displayName = (input.displayName ?? login).trim();
    if (!displayName || displayName.length > 200) throw new InputError(`${at}displayName`, 'имя: от 1 до 200 символов');
    const organizationId = role === Role.ORG_OFFICER ? await this.refId('organization', `${at}organization`, input.organization) : null;
    const blockId = role === Role.BLOCK_LEAD ? await this.refId('thematic_block', `${at}thematicBlock`, input.thematicBlock) : null;
    this.checkScope(role, organizationId, blockId, at);
    if (await this.byLogin(login)) throw new InputError(`${at}login`, `логин «${login}» уже занят`);
    const passwordHash = await hashPassword(password);
    const [r] = await query<{ id: number }>(this.em,
      `INSERT INTO app_user (municipality_id, login, display_name, role, organization_id, thematic_block_id, password_hash, demo)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      [this.municipalityId, login, displayName, role, organizationId, blockId, passwordHash, !!input.demo]);
    return (await this.byId(r.id))!;
  }

  async update(id: number, patch: UserUpdate, at = 'input.'): Promise<UserRow> {
    const old = await this.byId(id);
    if (!old) throw new InputError('id', `пользователь ${id} не найден`);
    const role = patch.role ?? old.role;
    if (!isRole(role)) throw new InputError(`${at}role`, `неизвестная роль «${String(role).slice(0, 30)}»`);
    const organizationId = role !== Role.ORG_OFFICER ? null
      : patch.organization !== undefined ? await this.refId('organization', `${at}organization`, patch.organization) : old.organizationId;
    const blockId = role !== Role.BLOCK_LEAD ? null
      : patch.thematicBlock !== undefined ? await this.refId('thematic_block', `${at}thematicBlock`, patch.thematicBlock) : old.thematicBlockId;
    this.checkScope(role, organizationId, blockId, at);
    const displayName = patch.displayName != null ? patch.displayName.trim() : old.displayName;
    if (!displayName || displayName.length > 200) throw new InputError(`${at}displayName`, 'имя: от 1 до 200 символов');
    const active = patch.active ?? old.active;
    await query(this.em,
      `UPDATE app_user SET display_name = ?, role = ?, organization_id = ?, thematic_block_id = ?, active = ?, updated_at = now() WHERE id = ?`,
      [displayName, role, organizationId, blockId, active, id]);
    return (await this.byId(id))!;
  }

  async setPassword(id: number, password: string, field = 'password'): Promise<void> {
    const hashed = await hashPassword(checkPassword(field, password));
    const n = await query(this.em,
      `UPDATE app_user SET password_hash = ?, password_changed_at = now(), failed_attempts = 0, locked_until = NULL, updated_at = now()
        WHERE id = ? RETURNING id`, [hashed, id]);
    if (!n.length) throw new InputError('id', `пользователь ${id} не найден`);
  }

  async unlock(id: number): Promise<UserRow> {
    const n = await query<{ login: string }>(this.em, `UPDATE app_user SET failed_attempts = 0, locked_until = NULL, updated_at = now() WHERE id = ? AND municipality_id = ? RETURNING login`,
      [id, this.municipalityId]);
    if (!n.length) throw new InputError('id', `пользователь ${id} не найден`);
    // The sign-in locks of this login from every source (server/auth/sessions.ts).
    await query(this.em, 'DELETE FROM sign_in_lock WHERE login = ?', [n[0].login]);
    return (await this.byId(id))!;
  }
}
