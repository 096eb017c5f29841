import type { Period } from './period.js';
import type { Aggregate, QueueItem, RatingRow } from './service.js';
import { BASE_FACTORS, FACTOR_LABELS, type RatingSettings } from './settings.js';
import type { RatingFigures, RatingPeriod, RatingPeriodKind, RatingRowType, RatingSettingsType, ControlQueueItem } from './types.js';

const share = (n: number, d: number) => (d > 0 ? n / d : null);

export function figuresOut(a: Aggregate): RatingFigures {
  return {
    received: a.received, dueJudged: a.dueJudged, onTime: a.onTime, answered: a.answered, onTimeShare: share(a.onTime, a.dueJudged),
    medianAnswerMinutes: a.medianMinutes, overdueNow: a.overdue, judged: a.judged, formal: a.formal, formalShare: share(a.formal, a.judged),
    rated: a.rated, satisfactionMean: a.satisfactionMean, satisfiedShare: share(a.satisfied, a.rated), repeated: a.repeated, repeatShare: share(a.repeated, a.answered),
  };
}

export function rowOut(r: RatingRow): RatingRowType {
  return {
    organizationId: String(r.organizationId), name: r.name, shortName: r.shortName, kind: r.kind, parentId: r.parentId == null ? null : String(r.parentId),
    score: r.score, ranked: r.ranked, rank: r.rank, previousScore: r.previousScore, previousRank: r.previousRank, rankChange: r.rankChange,
    scoreChange: r.score != null && r.previousScore != null ? Math.round((r.score - r.previousScore) * 100) / 100 : null,
    satisfactionGoalMet: r.satisfactionGoalMet, figures: figuresOut(r.agg), breakdown: r.breakdown,
  };
}

export function periodOut(p: Period): RatingPeriod {
  return { kind: p.kind as RatingPeriodKind, from: p.from, to: p.to, previousFrom: p.prevFrom, previousTo: p.prevTo, label: p.label };
}

export function settingsOut(s: RatingSettings): RatingSettingsType {
  return {
    weights: BASE_FACTORS.map((f) => ({ factor: f, label: FACTOR_LABELS[f], weight: s.weights[f] })),
    indicators: s.indicators, minAppeals: s.minAppeals, answerTargetMinutes: s.answerTargetMinutes, answerWorstMinutes: s.answerWorstMinutes,
    satisfactionGoal: s.satisfactionGoal, updatedAt: s.updatedAt, updatedBy: s.updatedBy,
  };
}

export function queueItemOut(q: QueueItem): ControlQueueItem {
  return { ...q, id: String(q.id), organizationId: q.organizationId == null ? null : String(q.organizationId) };
}
