// Offline GraphiQL for МЦУ Hub: everything (editor, CSS, fonts) is bundled by Vite.
import { GraphiQL } from 'graphiql';
import 'graphiql/style.css';
import './graphiql.css';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';

const defaultQuery = `# МЦУ Hub — GraphQL API.
# Пример: последние обращения с темой,
# районом и исполнителем.
query LatestAppeals($filter: AppealFilter, $first: Int) {
  appeals(filter: $filter, first: $first) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      node {
        id
        channel
        receivedAt
        status
        address
        text
        district { id name }
        theme { id name }
        organization { id name }
      }
    }
  }
}
`;

const defaultVariables = JSON.stringify(
  { filter: { from: new Date(Date.now() - 30 * 24 * 3600 * 1000).toISOString() }, first: 10 },
  null,
  2,
);

type FetcherParams = { query: string; operationName?: string | null; variables?: unknown };
type FetcherOpts = { headers?: Record<string, unknown> };

// POST /graphql with a JSON body; same origin, so session cookies travel with it.
async function fetcher(params: FetcherParams, opts?: FetcherOpts) {
  const res = await fetch('/graphql', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(opts?.headers as Record<string, string>) },
    body: JSON.stringify(params),
  });
  const body = await res.text();
  try {
    return JSON.parse(body);
  } catch {
    return { errors: [{ message: `Ответ сервера не JSON (HTTP ${res.status}): ${body.slice(0, 300)}` }] };
  }
}

// GraphiQL 4 takes the first-run variables from storage, not from defaultTabs: seed them once.
try {
  if (localStorage.getItem('graphiql:variables') === null && localStorage.getItem('graphiql:tabState') === null) {
    localStorage.setItem('graphiql:variables', defaultVariables);
  }
} catch {
  // Storage may be disabled; the example simply starts without variables.
}

const container = document.getElementById('graphiql');
if (!container) throw new Error('#graphiql container is missing');
container.textContent = '';
createRoot(container).render(
  <StrictMode>
    <GraphiQL
      fetcher={fetcher}
      defaultQuery={defaultQuery}
      defaultTabs={[{ query: defaultQuery, variables: defaultVariables }]}
      defaultEditorToolsVisibility="variables"
    />
  </StrictMode>,
);
