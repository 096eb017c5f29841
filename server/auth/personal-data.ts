import DataLoader from 'dataloader';
import { Ctx, Field, FieldResolver, ObjectType, Resolver, Root } from 'type-graphql';
import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { Appeal, AuthorKind } from '../appeals/entities.js';
import type { Context } from '../graphql/context.js';
import { PROCESSORS } from './roles.js';
import type { AuthUser } from './users.js';

/**
 * The author of an appeal (152-ФЗ). Roles that process appeals (PROCESSORS) read the personal data, and
 * every such read is written to pd_access_log (who, when, which appeal) in the statement that reads it.
 * Everyone else gets the same object masked: the kind of author only, `masked: true`, every personal field null.
 */
@ObjectType({ description: 'Автор обращения. Персональные данные (152-ФЗ) — только ролям, которые рассматривают обращения; каждое чтение записывается в журнал' })
export class AppealAuthorView {
  @Field(() => AuthorKind) kind!: AuthorKind;
  @Field({ description: 'true — данные скрыты для вашей роли' }) masked!: boolean;
  @Field({ nullable: true, description: 'true — данные обезличены по сроку хранения' }) anonymized?: boolean;
  @Field(() => String, { nullable: true, description: 'ФИО или наименование организации' }) fullName!: string | null;
  @Field(() => String, { nullable: true }) phone!: string | null;
  @Field(() => String, { nullable: true }) email!: string | null;
  @Field(() => String, { nullable: true, description: 'Ссылка на профиль в соцсети или мессенджере' }) profileUrl!: string | null;
  @Field(() => Boolean, { nullable: true, description: 'Согласен на обратную связь (входит в списки обзвона); null — скрыто' }) contactConsent?: boolean | null;
}

export function maySeePersonalData(user: AuthUser | undefined): boolean {
  return !!user && PROCESSORS.includes(user.role);
}

interface AuthorRow {
  appeal_id: number;
  kind: AuthorKind;
  full_name: string | null;
  phone: string | null;
  email: string | null;
  profile_url: string | null;
  anonymized_at: string | null;
  contact_consent: boolean;
}

/**
 * Authors of a batch of appeals in one statement that also logs the read: one pd_access_log row per
 * appeal whose author still has personal data. Only for PROCESSORS (checked by the caller).
 */
export async function readAuthors(em: EntityManager, user: AuthUser, appealIds: readonly number[], operation = 'READ'): Promise<Map<number, AuthorRow>> {
  const rows = await query<AuthorRow>(em,
    `WITH src AS (
       SELECT a.id AS appeal_id, a.municipality_id, au.kind, au.full_name, au.phone, au.email, au.profile_url, au.anonymized_at, au.contact_consent
         FROM appeal a JOIN appeal_author au ON au.id = a.author_id
        WHERE a.id = ANY(?::int[])
     ), logged AS (
       INSERT INTO pd_access_log (municipality_id, user_id, actor, appeal_id, operation)
       SELECT municipality_id, ?, ?, appeal_id, ? FROM src
        WHERE coalesce(full_name, phone, email, profile_url) IS NOT NULL
     )
     SELECT appeal_id, kind, full_name, phone, email, profile_url, anonymized_at, contact_consent FROM src`,
    [appealIds, user.id, user.login, operation]);
  return new Map(rows.map((r) => [r.appeal_id, r]));
}

const loaders = new WeakMap<object, DataLoader<number, AuthorRow | null>>();

function authorLoader(ctx: Context, user: AuthUser): DataLoader<number, AuthorRow | null> {
  let l = loaders.get(ctx);
  if (!l) {
    l = new DataLoader(async (ids) => {
      const map = await readAuthors(ctx.em, user, ids);
      return ids.map((id) => map.get(id) ?? null);
    });
    loaders.set(ctx, l);
  }
  return l;
}

function masked(kind: AuthorKind): AppealAuthorView {
  return { kind, masked: true, fullName: null, phone: null, email: null, profileUrl: null };
}

@Resolver(() => Appeal)
export class AppealAuthorField {
  @FieldResolver(() => AppealAuthorView, {
    nullable: true,
    description: 'Автор обращения: ФИО, телефон, e-mail, профиль — ролям CURATOR, COORDINATOR, BLOCK_LEAD, WORKER, ORG_OFFICER (чтение записывается в журнал); остальным — скрыто (masked)',
  })
  async author(@Root() a: Readonly<Appeal>, @Ctx() ctx: Context): Promise<AppealAuthorView | null> {
    const kind = a.authorKind ?? AuthorKind.CITIZEN;
    if (!maySeePersonalData(ctx.user)) return masked(kind);
    const r = await authorLoader(ctx, ctx.user!).load(a.id);
    if (!r) return null;
    return {
      kind: r.kind, masked: false, anonymized: r.anonymized_at != null,
      fullName: r.full_name, phone: r.phone, email: r.email, profileUrl: r.profile_url, contactConsent: r.contact_consent,
    };
  }
}

export const personalDataResolvers = [AppealAuthorField] as const;
