import type { GraphQLSchema } from 'graphql';
import { heavy } from '../db/admission.js';
import type { Context } from './context.js';

/**
 * Root fields whose work is heavy for the database (long-period aggregates, recomputations): they run under the
 * pool's admission of heavy work (server/db/admission.ts), so a page of appeals or the problem list never waits
 * behind them for a connection. The cached aggregates (heatmap, districtStats, appealCounts) take a slot only when
 * they miss the cache (server/db/result-cache.ts); the point layer (appealsGeoJSON) weighs itself — heavy only when
 * it is expected to return more than GEOJSON_LIGHT_ROWS points (server/appeals/points.ts). One list, wrapped once
 * when the schema is built: no per-field middleware on the hot path.
 */
export const HEAVY_FIELDS: Record<'Query' | 'Mutation', readonly string[]> = {
  Query: ['indicatorDashboard', 'organizationRating', 'organizationRatingCard', 'officialPageRating',
    'answerQualityByOrganization', 'dataQualitySummary'],
  Mutation: ['recomputeProblems', 'detectRisks', 'judgeAnswers', 'retrainAnswerQuality', 'retrainClassifier', 'recomputeAppealDeadlines',
    'recomputeOfficialPageScores', 'runDataQualityCheck', 'generateRecommendations'],
};

export function admitHeavyFields(schema: GraphQLSchema): GraphQLSchema {
  for (const [type, names] of [['Query', HEAVY_FIELDS.Query], ['Mutation', HEAVY_FIELDS.Mutation]] as const) {
    const fields = (type === 'Query' ? schema.getQueryType() : schema.getMutationType())?.getFields() ?? {};
    for (const name of names) {
      const field = fields[name];
      const resolve = field?.resolve;
      if (!field || !resolve) continue;
      field.resolve = (source, args, context: Context, info) => heavy(context.em, () => resolve(source, args, context, info));
    }
  }
  return schema;
}
