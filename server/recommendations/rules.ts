import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from '../db/sql.js';
import { aboveCity, ORG_MEASURES, orgShares, type OrgMeasure } from '../db/org-shares.js';

/**
 * Recommendation rules: each a fixed SQL measure, editable thresholds and a fixed sentence into which only the
 * measured figures are put (no free-text generation: nothing in a recommendation is not a number from the data).
 */
export interface ThresholdSpec { key: string; label: string; min: number; max: number; integer?: boolean }
export interface RuleDef {
  code: string;
  label: string;
  /** How the rule computes, for the analyst. */
  explanation: string;
  defaults: Record<string, number>;
  specs: ThresholdSpec[];
  run(em: EntityManager, p: RuleParams): Promise<Finding[]>;
}
export interface RuleParams { municipalityId: number; tz: string; from: string; to: string; t: Record<string, number> }
export interface Finding {
  subjectKey: string; organizationId?: number | null; districtId?: number | null; themeId?: number | null; problemId?: number | null;
  text: string; figures: Record<string, number | string>; evidence: number[];
}

const pct = (x: number) => `${(Math.round(x * 1000) / 10).toLocaleString('ru-RU')} %`;
const num = (x: number, d = 1) => x.toLocaleString('ru-RU', { maximumFractionDigits: d });
const ruDate = (d: string) => d.split('-').reverse().join('.');
const period = (p: RuleParams) => `с ${ruDate(p.from)} по ${ruDate(p.to)}`;
const inPeriod = `a.municipality_id = ? AND a.received_at >= (?::date::timestamp AT TIME ZONE ?) AND a.received_at < (?::date::timestamp AT TIME ZONE ?) + interval '1 day'`;
const periodParams = (p: RuleParams) => [p.municipalityId, p.from, p.tz, p.to, p.tz];
const inPeriodWhere = (p: RuleParams) => ({ sql: inPeriod, params: periodParams(p) });

/** At most this many evidence appeals per finding. */
const EVIDENCE = 50;
/**
 * The evidence of every finding of a rule in one statement: up to EVIDENCE ids (`id`, default `a.id`) per subject
 * (`key` among `keys`), in `order`, from `from` (SQL from FROM up to its WHERE conditions, with `params`).
 */
async function evidenceOf(em: EntityManager, q: { key: string; id?: string; from: string; params: unknown[]; order: string }, keys: number[]): Promise<Map<number, number[]>> {
  const out = new Map<number, number[]>();
  if (!keys.length) return out;
  const rows = await query<{ k: number; id: number }>(em,
    `SELECT k, id FROM (SELECT ${q.key} AS k, ${q.id ?? 'a.id'} AS id, row_number() OVER (PARTITION BY ${q.key} ORDER BY ${q.order}) AS rn
        ${q.from} AND ${q.key} = ANY(?::int[])) e
      WHERE rn <= ${EVIDENCE} ORDER BY k, rn`, [...q.params, keys]);
  for (const r of rows) { const l = out.get(r.k); if (l) l.push(r.id); else out.set(r.k, [r.id]); }
  return out;
}

/**
 * The organisations whose share of a measure is far above the city's (thresholds ratio, minShare and `minCases`),
 * each a finding with its evidence (`ev`: the bad appeals of the measure) and the sentence `say` writes.
 */
async function orgShareFindings(em: EntityManager, p: RuleParams, m: OrgMeasure, minCases: number, ev: { from: string; order: string },
  say: (r: { name: string; num: number; den: number; share: number }, city: number) => Pick<Finding, 'text' | 'figures'>): Promise<Finding[]> {
  const s = await orgShares(em, m, inPeriodWhere(p));
  if (!s.city.den) return [];
  const city = s.city.share!;
  const found = aboveCity(s, { ratio: p.t.ratio, minShare: p.t.minShare, minCases });
  const evidence = await evidenceOf(em, { key: 'a.organization_id', from: ev.from, params: periodParams(p), order: ev.order }, found.map((r) => r.organizationId));
  return found.map((r) => ({ subjectKey: `o:${r.organizationId}`, organizationId: r.organizationId, ...say({ ...r, name: r.shortName ?? r.name }, city),
    evidence: evidence.get(r.organizationId) ?? [] }));
}

export const RULES: RuleDef[] = [
  {
    code: 'ORG_OVERDUE',
    label: 'Организация с высокой долей просрочек',
    explanation: 'Доля обращений периода, отвеченных с опозданием или просроченных (по appeal_deadline_state), у организации не меньше «ratio» × доли по городу и не меньше «minShare»; учитываются организации с числом обращений со сроком не меньше «minAppeals».',
    defaults: { ratio: 1.5, minShare: 0.1, minAppeals: 30 },
    specs: [{ key: 'ratio', label: 'во сколько раз выше города', min: 1, max: 10 }, { key: 'minShare', label: 'доля не меньше', min: 0, max: 1 }, { key: 'minAppeals', label: 'обращений не меньше', min: 1, max: 100000, integer: true }],
    async run(em, p) {
      return orgShareFindings(em, p, ORG_MEASURES.DEADLINE_LATE, p.t.minAppeals,
        { from: `FROM appeal a WHERE ${inPeriod} AND ${ORG_MEASURES.DEADLINE_LATE.num}`, order: 'a.received_at DESC, a.id DESC' }, (r, city) => ({
          text: `${r.name ?? 'Организация'}: просрочено или отвечено с опозданием ${r.num} из ${r.den} обращений (${pct(r.share)}) при ${pct(city)} по городу — в ${num(r.share / Math.max(city, 1e-9))} раза выше, ${period(p)}. Рекомендуется проверить порядок исполнения и сроки ответа.`,
          figures: { late: r.num, appeals: r.den, share: Math.round(r.share * 1000) / 1000, cityShare: Math.round(city * 1000) / 1000 } }));
    },
  },
  {
    code: 'ORG_FORMAL',
    label: 'Организация с высокой долей формальных ответов',
    explanation: 'Доля ответов, признанных формальными (отписками) в answer_quality, у организации не меньше «ratio» × доли по городу и не меньше «minShare»; организации с числом оценённых ответов не меньше «minAnswers». Пока оценок качества нет, правило ничего не предлагает.',
    defaults: { ratio: 1.5, minShare: 0.2, minAnswers: 20 },
    specs: [{ key: 'ratio', label: 'во сколько раз выше города', min: 1, max: 10 }, { key: 'minShare', label: 'доля не меньше', min: 0, max: 1 }, { key: 'minAnswers', label: 'ответов не меньше', min: 1, max: 100000, integer: true }],
    async run(em, p) {
      return orgShareFindings(em, p, ORG_MEASURES.FORMAL, p.t.minAnswers,
        { from: `FROM appeal a JOIN answer_quality q ON q.appeal_id = a.id WHERE ${inPeriod} AND ${ORG_MEASURES.FORMAL.num}`, order: 'a.id DESC' }, (r, city) => ({
          text: `${r.name ?? 'Организация'}: формальных ответов ${r.num} из ${r.den} (${pct(r.share)}) при ${pct(city)} по городу, ${period(p)}. Рекомендуется разобрать ответы и требовать ответа по существу.`,
          figures: { formal: r.num, answers: r.den, share: Math.round(r.share * 1000) / 1000, cityShare: Math.round(city * 1000) / 1000 } }));
    },
  },
  {
    code: 'DISTRICT_GROWTH',
    label: 'Рост жалоб района против прошлого года',
    explanation: 'Обращений на 1 000 жителей района за период против того же периода год назад: рост не меньше «growth» (доля) при не меньше «minAppeals» обращений в периоде.',
    defaults: { growth: 0.3, minAppeals: 30 },
    specs: [{ key: 'growth', label: 'рост не меньше (доля)', min: 0, max: 100 }, { key: 'minAppeals', label: 'обращений не меньше', min: 1, max: 100000, integer: true }],
    async run(em, p) {
      const rows = await query<{ id: number; name: string; population: number | null; now: number; before: number }>(em,
        `SELECT d.id, d.name, d.population,
                (SELECT count(*)::int FROM appeal a WHERE ${inPeriod} AND a.district_id = d.id) AS now,
                (SELECT count(*)::int FROM appeal a WHERE a.municipality_id = ? AND a.district_id = d.id
                    AND a.received_at >= ((?::date - interval '1 year')::timestamp AT TIME ZONE ?) AND a.received_at < ((?::date - interval '1 year')::timestamp AT TIME ZONE ?) + interval '1 day') AS before
           FROM district d WHERE d.municipality_id = ? ORDER BY d.id`,
        [...periodParams(p), p.municipalityId, p.from, p.tz, p.to, p.tz, p.municipalityId]);
      const found = rows.filter((r) => r.now >= p.t.minAppeals && r.before !== 0 && r.now / r.before - 1 >= p.t.growth);
      const evidence = await evidenceOf(em, { key: 'a.district_id', from: `FROM appeal a WHERE ${inPeriod}`, params: periodParams(p), order: 'a.received_at DESC, a.id DESC' }, found.map((r) => r.id));
      const out: Finding[] = [];
      for (const r of found) {
        const growth = r.now / r.before - 1;
        const per = (x: number) => (r.population ? (x * 1000) / r.population : NaN);
        const ev = evidence.get(r.id) ?? [];
        out.push({ subjectKey: `d:${r.id}`, districtId: r.id,
          text: `${r.name}: ${r.now} обращений${r.population ? ` (${num(per(r.now))} на 1 000 жителей)` : ''} ${period(p)} против ${r.before}${r.population ? ` (${num(per(r.before))})` : ''} за тот же период год назад — рост ${pct(growth)}. Рекомендуется разобрать причины роста с администрацией района.`,
          figures: { appeals: r.now, appealsYearAgo: r.before, growth: Math.round(growth * 1000) / 1000, ...(r.population ? { per1000: Math.round(per(r.now) * 100) / 100, per1000YearAgo: Math.round(per(r.before) * 100) / 100 } : {}) },
          evidence: ev });
      }
      return out;
    },
  },
  {
    code: 'RECURRING_PROBLEM',
    label: 'Проблема возвращается',
    explanation: 'Проблема перечня, которая после решения открывалась снова не меньше «minReopened» раз: её стоит включить в план ремонта, а не решать заново.',
    defaults: { minReopened: 1 },
    specs: [{ key: 'minReopened', label: 'возвращалась не меньше раз', min: 1, max: 100, integer: true }],
    async run(em, p) {
      const rows = await query<{ id: number; title: string; reopened_count: number; appeal_count: number; theme_id: number | null; district_id: number | null; organization_id: number | null }>(em,
        `SELECT id, title, reopened_count, appeal_count, theme_id, district_id, organization_id FROM problem WHERE municipality_id = ? AND active AND reopened_count >= ? ORDER BY reopened_count DESC, id`,
        [p.municipalityId, p.t.minReopened]);
      const evidence = await evidenceOf(em, { key: 'pa.problem_id', id: 'pa.appeal_id', from: 'FROM problem_appeal pa WHERE true', params: [], order: 'pa.appeal_id DESC' }, rows.map((r) => r.id));
      return rows.map((r): Finding => ({ subjectKey: `p:${r.id}`, problemId: r.id, themeId: r.theme_id, districtId: r.district_id, organizationId: r.organization_id,
        text: `Проблема «${r.title}» возвращалась после решения ${r.reopened_count} раз(а), сейчас ${r.appeal_count} обращений. Рекомендуется включить её в план ремонта.`,
        figures: { reopened: r.reopened_count, appeals: r.appeal_count }, evidence: evidence.get(r.id) ?? [] }));
    },
  },
  {
    code: 'THEME_TEMPLATE',
    label: 'Ответы по теме — шаблонные',
    explanation: 'Доля ответов периода по теме, текст которых (без учёта регистра и пробелов по краям) повторяется не меньше «minCopies» раз, не меньше «share»; темы с числом ответов не меньше «minAnswers».',
    defaults: { share: 0.5, minAnswers: 20, minCopies: 5 },
    specs: [{ key: 'share', label: 'доля не меньше', min: 0, max: 1 }, { key: 'minAnswers', label: 'ответов не меньше', min: 1, max: 100000, integer: true }, { key: 'minCopies', label: 'повторов текста не меньше', min: 2, max: 100000, integer: true }],
    async run(em, p) {
      const rows = await query<{ theme_id: number; name: string; n: number; templated: number }>(em,
        `WITH ans AS (SELECT a.theme_id, lower(btrim(a.answer_text)) AS t FROM appeal a WHERE ${inPeriod} AND a.theme_id IS NOT NULL AND a.answer_text IS NOT NULL AND btrim(a.answer_text) <> ''),
              c AS (SELECT theme_id, t, count(*) AS k FROM ans GROUP BY 1, 2)
         SELECT c.theme_id, th.name, sum(c.k)::int AS n, coalesce(sum(c.k) FILTER (WHERE c.k >= ?), 0)::int AS templated
           FROM c JOIN theme th ON th.id = c.theme_id GROUP BY 1, 2`, [...periodParams(p), p.t.minCopies]);
      const found = rows.filter((r) => r.n >= p.t.minAnswers && r.templated / r.n >= p.t.share);
      const evidence = await evidenceOf(em, { key: 'a.theme_id', from: `FROM appeal a WHERE ${inPeriod} AND a.answer_text IS NOT NULL`, params: periodParams(p), order: 'a.answered_at DESC NULLS LAST, a.id DESC' }, found.map((r) => r.theme_id));
      return found.map((r): Finding => {
        const share = r.templated / r.n;
        return { subjectKey: `t:${r.theme_id}`, themeId: r.theme_id,
          text: `Тема «${r.name}»: ${r.templated} из ${r.n} ответов (${pct(share)}) — одинаковые тексты, повторённые не меньше ${p.t.minCopies} раз, ${period(p)}. Рекомендуется требовать ответов по существу конкретного обращения.`,
          figures: { templated: r.templated, answers: r.n, share: Math.round(share * 1000) / 1000 }, evidence: evidence.get(r.theme_id) ?? [] };
      });
    },
  },
  {
    code: 'ORG_COMMUNICATION',
    label: 'Организация с ошибками коммуникации',
    explanation: 'По последней проверке ответов на ошибки коммуникации (comm_finding, п. 2.1.3: грубость, пренебрежение, обвинение гражданина, ответ о другом адресе или другому человеку, противоречие ответу другого органа): доля ответов периода с такими ошибками у организации не меньше «minShare» и таких ответов не меньше «minFindings»; организации с числом ответов не меньше «minAnswers». Пока проверки не было, правило ничего не предлагает.',
    defaults: { minShare: 0.05, minFindings: 3, minAnswers: 20 },
    specs: [{ key: 'minShare', label: 'доля не меньше', min: 0, max: 1 }, { key: 'minFindings', label: 'ответов с ошибками не меньше', min: 1, max: 100000, integer: true }, { key: 'minAnswers', label: 'ответов не меньше', min: 1, max: 100000, integer: true }],
    async run(em, p) {
      const rows = await query<{ organization_id: number; name: string; n: number; bad: number; kinds: Record<string, number> | null }>(em,
        `WITH ans AS (SELECT a.id, a.organization_id FROM appeal a WHERE ${inPeriod} AND a.organization_id IS NOT NULL AND a.answer_text IS NOT NULL AND btrim(a.answer_text) <> ''),
              f AS (SELECT DISTINCT f.appeal_id, f.kind FROM comm_finding f WHERE f.municipality_id = ? AND f.source = 'APPEAL'),
              k AS (SELECT ans.organization_id, f.kind, count(*)::int AS n FROM ans JOIN f ON f.appeal_id = ans.id GROUP BY 1, 2)
         SELECT ans.organization_id, coalesce(o.short_name, o.name) AS name, count(*)::int AS n,
                count(*) FILTER (WHERE EXISTS (SELECT 1 FROM f WHERE f.appeal_id = ans.id))::int AS bad,
                (SELECT jsonb_object_agg(k.kind, k.n) FROM k WHERE k.organization_id = ans.organization_id) AS kinds
           FROM ans JOIN organization o ON o.id = ans.organization_id GROUP BY 1, 2`, [...periodParams(p), p.municipalityId]);
      const label: Record<string, string> = { RUDE: 'грубость', DISMISSIVE: 'пренебрежение', BLAME: 'обвинение гражданина', WRONG_ADDRESS: 'ответ о другом адресе', WRONG_PERSON: 'ответ другому человеку', CONTRADICTION: 'противоречие ответу другого органа' };
      const found = rows.filter((r) => r.n >= p.t.minAnswers && r.bad >= p.t.minFindings && r.bad / r.n >= p.t.minShare);
      const evidence = await evidenceOf(em, { key: 'a.organization_id', order: 'a.id DESC', params: periodParams(p),
        from: `FROM appeal a WHERE ${inPeriod} AND EXISTS (SELECT 1 FROM comm_finding f WHERE f.appeal_id = a.id AND f.municipality_id = a.municipality_id)` }, found.map((r) => r.organization_id));
      const out: Finding[] = [];
      for (const r of found) {
        const share = r.bad / r.n;
        const kinds = Object.entries(r.kinds ?? {}).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${label[k] ?? k} — ${n}`).join(', ');
        out.push({ subjectKey: `o:${r.organization_id}`, organizationId: r.organization_id,
          text: `${r.name ?? 'Организация'}: ошибки коммуникации в ${r.bad} из ${r.n} ответов (${pct(share)}), ${period(p)}: ${kinds}. Рекомендуется разобрать эти ответы с организацией и пригласить её специалистов на семинар по подготовке ответов.`,
          figures: { withErrors: r.bad, answers: r.n, share: Math.round(share * 1000) / 1000, ...(r.kinds ?? {}) }, evidence: evidence.get(r.organization_id) ?? [] });
      }
      return out;
    },
  },
];
