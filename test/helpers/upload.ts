/** Sends a GraphQL multipart request (one file under variable `file`), as browsers and the web client do. */
export async function gqlUpload(url: string, query: string, variables: Record<string, unknown>, file: { name: string; content: Buffer | string; type?: string }) {
  const form = new FormData();
  form.append('operations', JSON.stringify({ query, variables: { ...variables, file: null } }));
  form.append('map', JSON.stringify({ 0: ['variables.file'] }));
  form.append('0', new Blob([file.content], { type: file.type ?? 'application/octet-stream' }), file.name);
  const res = await fetch(`${url}/graphql`, { method: 'POST', body: form, headers: { 'apollo-require-preflight': 'true' } });
  return (await res.json()) as { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}
