/**
 * Where to go after sign-in: `next` only when, parsed as a URL against this page's origin, it stays on this origin
 * (no open redirect: `/\evil.example`, `/\t/evil.example`, `//evil.example`, `https://evil.example` all become `/`,
 * as browsers would resolve them to another host). The login page itself is never a target.
 */
export function safeNextPath(raw: string | null | undefined, origin: string): string {
  if (!raw) return '/';
  let u: URL;
  try {
    u = new URL(raw, origin);
  } catch {
    return '/';
  }
  if (u.origin !== origin || u.username || u.password) return '/';
  if (u.pathname.startsWith('/login.html')) return '/';
  return `${u.pathname}${u.search}${u.hash}`;
}
