// Roles of the control centre's users (decree, section 3) and the groups the resolvers authorise.
// Used with type-graphql's @Authorized(...roles) and checked by the authChecker in server/auth/checker.ts.
import { registerEnumType } from "type-graphql";

export enum Role {
  /** Users and reference data. */
  ADMIN = "ADMIN",
  /** Куратор: everything. */
  CURATOR = "CURATOR",
  /** Руководитель-координатор: everything. */
  COORDINATOR = "COORDINATOR",
  /** Ответственный за отраслевой тематический блок: the themes of their block. */
  BLOCK_LEAD = "BLOCK_LEAD",
  /** Работник МЦУ: processes appeals, triage. */
  WORKER = "WORKER",
  /** Officer of a department / subordinate organisation: only their organisation's appeals and problems. */
  ORG_OFFICER = "ORG_OFFICER",
  /** Analyst: all aggregates and appeals, never personal data. */
  ANALYST = "ANALYST",
  /** Regional analyst (ЦУР of the region): every municipality of the region, read-only, never personal data. */
  REGION_ANALYST = "REGION_ANALYST",
  /** Regional curator (ЦУР): as the regional analyst, plus the regional centre's own layer (the ЦУР heat map). */
  REGION_CURATOR = "REGION_CURATOR",
}

registerEnumType(Role, { name: "Role", description: "Role of a user of the control centre" });

export const ALL_ROLES: Role[] = Object.values(Role);

/** Roles that may do everything with the centre's data (no row scope, personal data, every change). */
export const FULL_ACCESS: Role[] = [Role.CURATOR, Role.COORDINATOR];

/** Roles that manage user accounts and read the audit log. */
export const USER_ADMINS: Role[] = [Role.ADMIN];

/** Roles that process appeals and therefore may see the author's personal data. */
export const PROCESSORS: Role[] = [Role.CURATOR, Role.COORDINATOR, Role.BLOCK_LEAD, Role.WORKER, Role.ORG_OFFICER];

/** Roles that may change appeals (status, theme, organisation, place, triage) and run imports. */
export const APPEAL_EDITORS: Role[] = [Role.CURATOR, Role.COORDINATOR, Role.BLOCK_LEAD, Role.WORKER];

/** Roles that may answer appeals (editors plus the responsible organisation's officer). */
export const ANSWERERS: Role[] = [...APPEAL_EDITORS, Role.ORG_OFFICER];

/** Roles that import files of appeals (the centre's staff). */
export const IMPORTERS: Role[] = [Role.CURATOR, Role.COORDINATOR, Role.WORKER];

/** Roles that edit reference data (districts, routing rules, heat layers, address register). */
export const REFERENCE_EDITORS: Role[] = [Role.ADMIN, Role.CURATOR, Role.COORDINATOR];

/**
 * Regional roles: bound to a region (the region of their home municipality), not to one municipality; they read every
 * municipality of the region (one at a time, chosen by openMunicipality, and the regional view) and decide nothing
 * the decree leaves to the municipality (no appeal, problem, plan or reference change).
 */
export const REGION_ROLES: Role[] = [Role.REGION_ANALYST, Role.REGION_CURATOR];

/** Who imports the ЦУР heat map (the regional centre's own data): the municipality's editors and the regional curator. */
export const HEAT_LAYER_IMPORTERS: Role[] = [...REFERENCE_EDITORS, Role.REGION_CURATOR];

export function isRegionRole(role: Role): boolean {
  return REGION_ROLES.includes(role);
}

/** Roles that read appeals and aggregates (everybody signed in; rows are scoped for BLOCK_LEAD and ORG_OFFICER;
 *  personal data only for PROCESSORS). */
export const READERS: Role[] = ALL_ROLES;

/** Roles whose rows are restricted (see server/auth/scope.ts). */
export const SCOPED_ROLES: Role[] = [Role.BLOCK_LEAD, Role.ORG_OFFICER];

export const ROLE_LABELS: Record<Role, string> = {
  [Role.ADMIN]: "Администратор",
  [Role.CURATOR]: "Куратор",
  [Role.COORDINATOR]: "Руководитель-координатор",
  [Role.BLOCK_LEAD]: "Ответственный за тематический блок",
  [Role.WORKER]: "Работник МЦУ",
  [Role.ORG_OFFICER]: "Сотрудник организации",
  [Role.ANALYST]: "Аналитик",
  [Role.REGION_ANALYST]: "Аналитик региона (ЦУР)",
  [Role.REGION_CURATOR]: "Куратор региона (ЦУР)",
};

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ALL_ROLES as string[]).includes(value);
}
