import 'reflect-metadata';
import { buildSchema } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { referenceResolvers } from '../reference/resolver.js';
import { appealResolvers } from '../appeals/resolver.js';
import { heatmapResolvers } from '../heatmap/resolver.js';
import { intakeResolvers } from '../intake/resolver.js';
import { problemResolvers } from '../problems/resolver.js';
import { authChecker } from '../auth/checker.js';
import { authResolvers } from '../auth/resolver.js';
import { personalDataResolvers } from '../auth/personal-data.js';
import { auditResolvers } from '../audit/resolver.js';
import { appealWorkflowResolvers } from '../appeals/workflow.js';
import { indicatorResolvers } from '../indicators/resolver.js';
import { planResolvers } from '../plans/resolver.js';
import { dataQualityResolvers } from '../dataquality/resolver.js';
import { seminarResolvers } from '../seminars/resolver.js';
import { riskResolvers } from '../risks/resolver.js';
import { recommendationResolvers } from '../recommendations/resolver.js';
import { workTimeResolvers } from '../worktime/resolver.js';
import { deadlineResolvers } from '../deadlines/resolver.js';
import { ratingResolvers } from '../rating/resolver.js';
import { pageResolvers } from '../pages/resolver.js';
import { qualityResolvers } from '../quality/resolver.js';
import { open311Resolvers } from '../open311/resolver.js';
import { regionResolvers } from '../region/resolver.js';
import { admitHeavyFields } from './heavy.js';
import { reportResolvers } from '../reports/resolver.js';
import { informingResolvers } from '../informing/resolver.js';
import { communicationResolvers } from '../communication/resolver.js';

let cached: Promise<GraphQLSchema> | undefined;

export function getSchema(): Promise<GraphQLSchema> {
  cached ??= buildSchema({
    resolvers: [...referenceResolvers, ...appealResolvers, ...heatmapResolvers, ...intakeResolvers, ...problemResolvers,
      ...authResolvers, ...personalDataResolvers, ...auditResolvers, ...appealWorkflowResolvers, ...indicatorResolvers,
      ...planResolvers, ...dataQualityResolvers, ...seminarResolvers, ...riskResolvers, ...recommendationResolvers,
      ...workTimeResolvers, ...deadlineResolvers, ...ratingResolvers, ...pageResolvers, ...qualityResolvers,
      ...open311Resolvers, ...reportResolvers, ...informingResolvers, ...communicationResolvers, ...regionResolvers],
    scalarsMap: [{ type: Date, scalar: GraphQLDateTime }],
    validate: false,
    authChecker,
  }).then(admitHeavyFields);
  return cached;
}

/** The SDL committed as schema.graphql (sorted, so diffs are stable). */
export async function schemaSdl(): Promise<string> {
  return printSchema(lexicographicSortSchema(await getSchema())) + '\n';
}
