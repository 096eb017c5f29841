import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { markDataChanged } from '../db/data-version.js';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { GraphQLFormattedError } from 'graphql';
import type { Context } from '../graphql/context.js';
import { getSchema } from '../graphql/schema.js';
import { graphqlHardening } from '../graphql/limits.js';
import { loadLimits, type Limits } from '../config.js';
import { rateLimitPlugin } from './limits.js';
import { stringifyResponse } from '../graphql/raw-json.js';

/** Error codes whose messages are meant for the user; everything else is logged and masked. */
const USER_CODES = new Set([
  'BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND', 'PERSISTED_QUERY_NOT_SUPPORTED', 'OPERATION_RESOLUTION_FAILURE',
  'TOO_MANY_REQUESTS', 'UNAUTHENTICATED', 'FORBIDDEN',
]);

export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const code = formatted.extensions?.code as string | undefined;
  const tokens = code === 'GRAPHQL_PARSE_FAILED' && /contains more th(?:an|at) (\d+) tokens/.exec(formatted.message);
  if (tokens) {
    return { message: `Запрос слишком длинный: не более ${tokens[1]} лексем (GRAPHQL_MAX_TOKENS)`, extensions: { code, field: 'query' } };
  }
  if (code && USER_CODES.has(code)) {
    const { stacktrace: _drop, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  // Internal errors may carry SQL or stack traces: log them, never send them.
  console.error('[graphql] internal error', error);
  return { message: 'Внутренняя ошибка сервера', locations: formatted.locations, path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
}

/**
 * After a mutation of this process, caches re-read the data version before their next answer (an edit is seen at
 * once here; other processes' edits within the version's re-read interval, server/db/data-version.ts).
 */
const dataChangedOnMutation: ApolloServerPlugin<Context> = {
  async requestDidStart() {
    return {
      async willSendResponse({ operation }) {
        // Awaited: the answer leaves once every worker of the server (WEB_CONCURRENCY) will re-read the version.
        if (operation?.operation === 'mutation') await markDataChanged();
      },
    };
  },
};

export async function createApollo(opts: { introspection?: boolean; limits?: Limits } = {}): Promise<ApolloServer<Context>> {
  const limits = opts.limits ?? loadLimits();
  const introspection = opts.introspection ?? limits.introspection;
  const hardening = graphqlHardening(limits, { blockFieldSuggestions: !introspection });
  const rateLimit = rateLimitPlugin(limits.rateLimitPerMinute);
  const apollo = new ApolloServer<Context>({
    schema: await getSchema(),
    introspection,
    // One operation per HTTP request: a JSON array of operations is refused (400).
    allowBatchedHttpRequests: false,
    // The application owns the lifecycle (server/main.ts stops HTTP, GraphQL, the pool and the database once).
    stopOnTerminationSignals: false,
    // The parser stops at this many tokens: a huge document costs no more than a small one.
    parseOptions: { maxTokens: limits.maxTokens },
    validationRules: hardening.validationRules,
    includeStacktraceInErrorResponses: false,
    // Compact JSON (Apollo pretty-prints by default: ~2× the bytes on pages of appeals); values
    // already serialised (RawJson: heat-map cell polygons) are written as they are.
    // An answer beyond GRAPHQL_MAX_RESPONSE_MB is replaced by an error (the other limits keep it from being built
    // in the first place in all but exceptional cases).
    stringifyResult: (value) => {
      const s = stringifyResponse(value);
      if (s.length <= limits.maxResponseBytes) return s;
      return JSON.stringify({ errors: [{ message: `Ответ слишком большой: более ${Math.round(limits.maxResponseBytes / 1048576)} МБ (GRAPHQL_MAX_RESPONSE_MB); уменьшите limit/first или сузьте фильтр`,
        extensions: { code: 'BAD_USER_INPUT', field: 'query' } }] });
    },
    formatError,
    // No HTTP cache hints: the cache-control plugin instruments every field (measurable on pages of 100).
    plugins: [
      ApolloServerPluginLandingPageDisabled(), ApolloServerPluginCacheControlDisabled(),
      ...(rateLimit ? [rateLimit] : []), ...hardening.plugins, dataChangedOnMutation,
    ],
  });
  await apollo.start();
  return apollo;
}
