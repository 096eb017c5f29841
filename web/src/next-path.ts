/**
 * Where to go after sign-in: `next` only when, parsed as a URL against this page's origin, it stays on this origin
 * (no open redirect: `/\evil.example`, `/\t/evil.example`, `//evil.example`, `https://evil.example` all become `/`,
 * as browsers would resolve them to another host; `/.//evil.example` becomes `/evil.example`, a path of this site). The login page itself is never a target.
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
  // Dot segments may leave a path that starts with `//` (`/.//evil.example` → `//evil.example`): as a target of
  // location.replace that is another host (a protocol-relative URL). One leading slash only.
  const path = u.pathname.replace(/^\/+/, '/');
  if (path.startsWith('/login.html')) return '/';
  return `${path}${u.search}${u.hash}`;
}
