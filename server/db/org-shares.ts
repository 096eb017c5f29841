import type { EntityManager } from '@mikro-orm/postgresql';
import { query } from './sql.js';

/**
 * «An organisation's share against the city's»: of the appeals an organisation received, how many count for a
 * measure (`den`) and how many of those are bad (`num`), beside the same sums over every organisation. One
 * definition of each measure for the rating (server/rating), the recommendation rules (server/recommendations) and
 * the seminar invitations (server/seminars).
 *
 * A measure is SQL over `appeal a` and, when it says so, `answer_quality q` (LEFT JOIN on the appeal).
 */
export interface OrgMeasure {
  /** Needs `answer_quality q`. */
  quality?: boolean;
  /** The appeals the share is taken of. */
  den: string;
  /** The bad ones among them (read together with `den`). */
  num: string;
}

export const ORG_MEASURES = {
  /** Formal answers (отписки) among the answers whose quality was judged. */
  FORMAL: { quality: true, den: 'q.verdict IS NOT NULL', num: `q.verdict = 'FORMAL'` },
  /** Answered after the answer's due time, among the answered appeals that had one. */
  ANSWERED_LATE: { den: 'a.answered_at IS NOT NULL AND a.answer_due_at IS NOT NULL', num: 'a.answered_at > a.answer_due_at' },
  /** Overdue now or answered late (appeal_deadline_state), among the appeals with a due time (the answer's or the appeal's). */
  DEADLINE_LATE: {
    den: 'coalesce(a.answer_due_at, a.due_at) IS NOT NULL',
    num: `appeal_deadline_state(a.answered_at, coalesce(a.answer_due_at, a.due_at), a.answer_at_risk_at, now()) IN ('OVERDUE', 'ANSWERED_LATE')`,
  },
} satisfies Record<string, OrgMeasure>;

export interface OrgShareRow { organizationId: number; name: string; shortName: string | null; num: number; den: number }
export interface OrgShares {
  /** Every organisation with an appeal in the selection (den may be 0). */
  rows: OrgShareRow[];
  /** The sums over every organisation; share null when den is 0. */
  city: { num: number; den: number; share: number | null };
}

/**
 * The measure's figures of every organisation and of the city over the appeals that `where` selects (SQL over
 * `appeal a` with its parameters; it should bound the municipality and the period), in one statement.
 */
export async function orgShares(em: EntityManager, m: OrgMeasure, where: { sql: string; params: readonly unknown[] }): Promise<OrgShares> {
  const rows = await query<{ id: number; name: string; short_name: string | null; num: number; den: number; city_num: number; city_den: number }>(em, `
    WITH per AS (
      SELECT a.organization_id AS id, count(*) FILTER (WHERE (${m.den}) AND (${m.num}))::int AS num, count(*) FILTER (WHERE ${m.den})::int AS den
        FROM appeal a ${m.quality ? 'LEFT JOIN answer_quality q ON q.appeal_id = a.id' : ''}
       WHERE ${where.sql} AND a.organization_id IS NOT NULL
       GROUP BY a.organization_id)
    SELECT o.id, o.name, o.short_name, per.num, per.den, sum(per.num) OVER ()::int AS city_num, sum(per.den) OVER ()::int AS city_den
      FROM per JOIN organization o ON o.id = per.id ORDER BY o.id`, where.params);
  const num = rows[0]?.city_num ?? 0, den = rows[0]?.city_den ?? 0;
  return {
    rows: rows.map((r) => ({ organizationId: r.id, name: r.name, shortName: r.short_name, num: r.num, den: r.den })),
    city: { num, den, share: den > 0 ? num / den : null },
  };
}

/**
 * The organisations whose share is far above the city's: at least `minCases` cases, a share of at least `ratio` ×
 * the city's and at least `minShare`.
 */
export function aboveCity(s: OrgShares, t: { ratio: number; minCases: number; minShare?: number }): (OrgShareRow & { share: number })[] {
  const city = s.city.share ?? 0;
  return s.rows.filter((r) => r.den > 0 && r.den >= t.minCases).map((r) => ({ ...r, share: r.num / r.den }))
    .filter((r) => r.share >= (t.minShare ?? 0) && r.share >= t.ratio * city);
}
