import { Arg, Authorized, Ctx, Field, FieldResolver, Float, ID, Int, Mutation, ObjectType, Query, Resolver, Root } from 'type-graphql';
import DataLoader from 'dataloader';
import type { Context } from '../graphql/context.js';
import { query } from '../db/sql.js';
import { InputError } from '../errors.js';
import { FULL_ACCESS, READERS } from '../auth/roles.js';
import { checkAppealAccess } from '../auth/guard.js';
import { requireUser } from '../auth/checker.js';
import { Appeal } from '../appeals/entities.js';
import { AppealFilter, filterSql, parseFilter } from '../appeals/filter.js';
import { Organization } from '../reference/entities.js';
import { judgeAll, overrideVerdict, retrain } from './service.js';
import type { Verdict } from './model.js';
import { AnswerVerdict } from './verdict.js';

export { AnswerVerdict };


@ObjectType({ description: 'Причина оценки ответа' })
export class QualityReason {
  @Field({ description: 'NO_ACTION, NO_DATE, NO_RESPONSIBLE, NO_PLACE, BOILERPLATE, VAGUE_PROMISE, FORWARDED, LAW_ONLY, TEMPLATE, ADDRESS_MISMATCH, TOPIC_MISMATCH, SHORT; по существу: DONE_WITH_DATE, DATED_PROMISE, GROUNDED_REFUSAL, GUIDANCE, EXPLANATION, INSPECTION, CONTACT, CONCRETE_ACTION, REFUSAL' })
  code!: string;
  @Field() text!: string;
  @Field(() => AnswerVerdict, { description: 'В какую сторону причина склоняет оценку' }) effect!: AnswerVerdict;
}

@ObjectType({ description: 'Оценка полноты ответа (п. 2.2.6): по существу или отписка, с причинами' })
export class AnswerQuality {
  @Field(() => AnswerVerdict, { description: 'Итоговая оценка (с учётом решения куратора)' }) verdict!: AnswerVerdict;
  @Field(() => AnswerVerdict, { description: 'Оценка модели' }) modelVerdict!: AnswerVerdict;
  @Field(() => Float, { description: 'Вероятность отписки по модели, 0–1' }) score!: number;
  @Field(() => [QualityReason]) reasons!: QualityReason[];
  @Field(() => Int, { description: 'Сколько разных обращений получили тот же (с точностью до чисел, дат, адресов) текст' }) templateSize!: number;
  @Field() overridden!: boolean;
  @Field({ nullable: true }) overriddenBy?: string;
  @Field({ nullable: true }) overriddenAt?: Date;
  @Field({ nullable: true }) overrideComment?: string;
  @Field() judgedAt!: Date;
}

@ObjectType({ description: 'Организация, использующая шаблон' })
export class TemplateOrganization {
  @Field(() => Organization, { nullable: true }) organization?: Organization;
  @Field(() => Int) appeals!: number;
}

@ObjectType({ description: 'Шаблон ответа: один и тот же текст на многие разные обращения' })
export class AnswerTemplate {
  @Field({ description: 'Отпечаток SimHash (64 бита, десятичная запись)' }) fingerprint!: string;
  @Field(() => Int, { description: 'Обращений с этим шаблоном в отборе' }) appeals!: number;
  @Field(() => Int, { description: 'Размер шаблона по всему муниципалитету' }) templateSize!: number;
  @Field(() => Int, { description: 'Из них оценено как отписка' }) formal!: number;
  @Field({ description: 'Пример текста' }) sampleText!: string;
  @Field(() => [TemplateOrganization]) organizations!: TemplateOrganization[];
}

@ObjectType({ description: 'Отписки по организации' })
export class OrganizationAnswerQuality {
  @Field(() => Organization, { nullable: true }) organization?: Organization;
  @Field(() => Int) answered!: number;
  @Field(() => Int) formal!: number;
  @Field(() => Float) formalShare!: number;
  @Field(() => [ReasonCount], { description: 'Частые причины отписок' }) reasons!: ReasonCount[];
}

@ObjectType()
export class ReasonCount {
  @Field() code!: string;
  @Field(() => Int) count!: number;
}

@ObjectType({ description: 'Точность, полнота и F1 класса «отписка»' })
export class QualityFigures {
  @Field(() => Float) precision!: number;
  @Field(() => Float) recall!: number;
  @Field(() => Float) f1!: number;
  @Field(() => Float) accuracy!: number;
  @Field(() => Int) n!: number;
}

@ObjectType()
export class FeatureWeight {
  @Field() feature!: string;
  @Field(() => Float, { description: 'Вес в логистической регрессии; > 0 — к отписке' }) weight!: number;
}

@ObjectType({ description: 'Переобучение модели оценки ответов' })
export class QualityRetrainReport {
  @Field(() => ID) modelId!: string;
  @Field(() => Int) trainCases!: number;
  @Field(() => Int, { description: 'Решения кураторов, вошедшие в обучение' }) overrides!: number;
  @Field(() => QualityFigures, { description: 'Перекрёстная проверка (5 частей) на обучающих данных' }) cv!: QualityFigures;
  @Field(() => QualityFigures, { description: 'То же для базового правила (подсчёт признаков отписки)' }) rulesCv!: QualityFigures;
  @Field(() => QualityFigures, { nullable: true, description: 'На отдельном размеченном наборе (не участвует в обучении)' }) evaluation?: QualityFigures;
  @Field(() => [FeatureWeight]) weights!: FeatureWeight[];
  @Field(() => Int, { nullable: true, description: 'Переоценено ответов' }) rejudged?: number;
}

@ObjectType({ description: 'Итог переоценки всех ответов' })
export class QualityJudgeReport {
  @Field(() => Int) judged!: number;
  @Field(() => Int) formal!: number;
  @Field(() => Int) templates!: number;
  @Field(() => Int) largestTemplate!: number;
  @Field(() => Int, { description: 'Решения кураторов, оставленные без изменений' }) overriddenKept!: number;
  @Field(() => Float) seconds!: number;
}

type QRow = { appeal_id: number; verdict: Verdict; model_verdict: Verdict; score: number; reasons: unknown; template_size: number; live_size: number | null;
  overridden_by: string | null; overridden_at: string | null; override_comment: string | null; judged_at: string };

const loaders = new WeakMap<Context, DataLoader<number, AnswerQuality | null>>();
function loader(ctx: Context): DataLoader<number, AnswerQuality | null> {
  let l = loaders.get(ctx);
  if (!l) {
    l = new DataLoader(async (ids) => {
      // The template's current size (it grows after an answer was judged); the stored one where the template was rebuilt.
      const rows = await query<QRow>(ctx.em,
        `SELECT q.*, t.size AS live_size FROM answer_quality q
           LEFT JOIN answer_template t ON t.municipality_id = q.municipality_id AND t.fingerprint = q.fingerprint
          WHERE q.appeal_id = ANY(?::int[])`, [[...ids]]);
      const by = new Map(rows.map((r) => [r.appeal_id, r]));
      return ids.map((id) => {
        const r = by.get(id);
        if (!r) return null;
        const reasons = (typeof r.reasons === 'string' ? JSON.parse(r.reasons) : r.reasons) as QualityReason[];
        return {
          verdict: r.verdict as AnswerVerdict, modelVerdict: r.model_verdict as AnswerVerdict, score: r.score, reasons,
          templateSize: Math.max(r.template_size, r.live_size ?? 0), overridden: r.overridden_by != null,
          overriddenBy: r.overridden_by ?? undefined, overriddenAt: r.overridden_at ? new Date(r.overridden_at) : undefined,
          overrideComment: r.override_comment ?? undefined, judgedAt: new Date(r.judged_at),
        };
      });
    });
    loaders.set(ctx, l);
  }
  return l;
}

@Resolver(() => Appeal)
export class AppealQualityField {
  @FieldResolver(() => AnswerQuality, { nullable: true, description: 'Оценка ответа: по существу или отписка, с причинами (null — ответа нет)' })
  answerQuality(@Root() a: Readonly<Appeal>, @Ctx() ctx: Context) {
    return loader(ctx).load(a.id);
  }
}

const MAX_TEMPLATES = 100;

@Resolver()
export class QualityResolver {
  @Authorized(FULL_ACCESS)
  @Mutation(() => Appeal, { description: 'Изменить оценку ответа (куратор, координатор): с комментарием; попадает в историю, аудит и обучение модели' })
  async overrideAnswerQuality(
    @Ctx() ctx: Context,
    @Arg('appealId', () => ID) appealId: string,
    @Arg('verdict', () => AnswerVerdict) verdict: AnswerVerdict,
    @Arg('comment') comment: string,
  ): Promise<Appeal | null> {
    const c = comment.trim();
    if (!c) throw new InputError('comment', 'укажите, почему оценка изменена');
    if (c.length > 2000) throw new InputError('comment', 'комментарий длиннее 2000 символов');
    const id = await checkAppealAccess(ctx, appealId, 'appealId');
    const user = requireUser(ctx);
    await overrideVerdict(ctx.em, { municipalityId: ctx.municipalityId, user, login: user.login }, id, verdict, c);
    return (await ctx.appeals.byIds([id]))[0];
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => QualityJudgeReport, { description: 'Переоценить все ответы (шаблоны по всему массиву); решения кураторов сохраняются' })
  async judgeAnswers(@Ctx() ctx: Context): Promise<QualityJudgeReport> {
    return judgeAll(ctx.em, ctx.municipalityId);
  }

  @Authorized(FULL_ACCESS)
  @Mutation(() => QualityRetrainReport, { description: 'Переобучить модель на обучающем наборе и решениях кураторов; показывает перекрёстную проверку' })
  async retrainAnswerQuality(@Ctx() ctx: Context, @Arg('rejudge', { defaultValue: false }) rejudge: boolean): Promise<QualityRetrainReport> {
    const r = await retrain(ctx.em, { municipalityId: ctx.municipalityId, user: requireUser(ctx) }, { rejudge });
    return { ...r, modelId: String(r.modelId), evaluation: r.evaluation ?? undefined, rejudged: r.rejudged?.judged };
  }

  @Authorized(READERS)
  @Query(() => [AnswerTemplate], { description: 'Крупнейшие шаблоны ответов: один текст на многие обращения, с организациями; first ≤ 100' })
  async answerTemplates(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { defaultValue: 20 }) first: number,
    @Arg('minSize', () => Int, { defaultValue: 3 }) minSize: number,
    @Arg('filter', () => AppealFilter, { nullable: true }) filter?: AppealFilter,
  ): Promise<AnswerTemplate[]> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_TEMPLATES) throw new InputError('first', `от 1 до ${MAX_TEMPLATES}`);
    if (!Number.isInteger(minSize) || minSize < 1) throw new InputError('minSize', 'целое не меньше 1');
    const f = parseFilter(filter, ctx);
    await ctx.appeals.checkReferences(f);
    const w = filterSql(f);
    // The top templates in one grouping pass; their sample text and organisations through the fingerprint index.
    const rows = await query<{ fp: string; appeals: number; formal: number; size: number; sample: string; orgs: { id: number | null; n: number }[] }>(ctx.em,
      `WITH top AS (SELECT q.fingerprint, count(*)::int AS appeals, count(*) FILTER (WHERE q.verdict = 'FORMAL')::int AS formal
                      FROM answer_quality q JOIN appeal a ON a.id = q.appeal_id
                     WHERE ${w.sql} AND q.fingerprint IS NOT NULL
                     GROUP BY q.fingerprint HAVING count(*) >= ? ORDER BY count(*) DESC, q.fingerprint LIMIT ?)
       SELECT top.fingerprint::text AS fp, top.appeals, top.formal, coalesce(t.size, top.appeals) AS size,
              (SELECT a.answer_text FROM answer_quality q JOIN appeal a ON a.id = q.appeal_id
                WHERE q.municipality_id = ? AND q.fingerprint = top.fingerprint AND ${w.sql} ORDER BY q.appeal_id LIMIT 1) AS sample,
              (SELECT json_agg(json_build_object('id', o.organization_id, 'n', o.n) ORDER BY o.n DESC) FROM (
                 SELECT a.organization_id, count(*)::int AS n FROM answer_quality q JOIN appeal a ON a.id = q.appeal_id
                  WHERE q.municipality_id = ? AND q.fingerprint = top.fingerprint AND ${w.sql} GROUP BY 1) o) AS orgs
         FROM top LEFT JOIN answer_template t ON t.municipality_id = ? AND t.fingerprint = top.fingerprint
        ORDER BY top.appeals DESC, top.fingerprint`,
      [...w.params, minSize, first, f.municipalityId, ...w.params, f.municipalityId, ...w.params, f.municipalityId]);
    return Promise.all(rows.map(async (r) => ({
      fingerprint: r.fp, appeals: r.appeals, formal: r.formal, templateSize: r.size, sampleText: r.sample,
      organizations: await Promise.all((typeof r.orgs === 'string' ? JSON.parse(r.orgs) : r.orgs ?? []).map(async (o: { id: number | null; n: number }) => ({
        organization: o.id == null ? undefined : (await ctx.loaders.organization.load(o.id)) ?? undefined, appeals: o.n,
      }))),
    })));
  }

  @Authorized(READERS)
  @Query(() => [OrganizationAnswerQuality], { description: 'Отписки по организациям: доля и частые причины (в отборе обращений)' })
  async answerQualityByOrganization(
    @Ctx() ctx: Context,
    @Arg('filter', () => AppealFilter, { nullable: true }) filter?: AppealFilter,
  ): Promise<OrganizationAnswerQuality[]> {
    const f = parseFilter(filter, ctx);
    await ctx.appeals.checkReferences(f);
    const w = filterSql(f);
    // One pass over the filtered verdicts: counts per organisation and the five commonest reasons of its formal answers.
    const rows = await query<{ org: number | null; answered: number; formal: number; reasons: { code: string; n: number }[] | null }>(ctx.em,
      `WITH m AS MATERIALIZED (SELECT a.organization_id AS org, q.verdict, q.reasons FROM answer_quality q JOIN appeal a ON a.id = q.appeal_id WHERE ${w.sql}),
            g AS (SELECT org, count(*)::int AS answered, count(*) FILTER (WHERE verdict = 'FORMAL')::int AS formal FROM m GROUP BY org),
            r AS (SELECT m.org, x->>'code' AS code, count(*)::int AS n FROM m CROSS JOIN jsonb_array_elements(m.reasons) x
                   WHERE m.verdict = 'FORMAL' GROUP BY 1, 2),
            rr AS (SELECT org, json_agg(json_build_object('code', code, 'n', n) ORDER BY n DESC, code) AS reasons
                     FROM (SELECT r.*, row_number() OVER (PARTITION BY org ORDER BY n DESC, code) AS k FROM r) z WHERE k <= 5 GROUP BY org)
       SELECT g.org, g.answered, g.formal, rr.reasons FROM g LEFT JOIN rr ON rr.org IS NOT DISTINCT FROM g.org
        ORDER BY g.formal DESC, g.answered DESC`,
      w.params);
    return Promise.all(rows.map(async (r) => ({
      organization: r.org == null ? undefined : (await ctx.loaders.organization.load(r.org)) ?? undefined,
      answered: r.answered, formal: r.formal, formalShare: r.answered ? r.formal / r.answered : 0,
      reasons: (typeof r.reasons === 'string' ? JSON.parse(r.reasons) : r.reasons ?? []).map((x: { code: string; n: number }) => ({ code: x.code, count: x.n })),
    })));
  }
}

export const qualityResolvers = [AppealQualityField, QualityResolver] as const;
