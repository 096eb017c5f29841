import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Security headers of every answer (pages, API, tiles): a Content-Security-Policy that allows only this site's own
 * scripts (the client has no inline script; maplibre's workers are blob: URLs, its images data:/blob:), no framing
 * (frame-ancestors + X-Frame-Options against clickjacking), no MIME sniffing, no referrer to other sites.
 * GraphiQL's page also allows inline styles (its editor injects <style> elements); scripts stay 'self' there too.
 */
export interface SecurityHeaderOptions {
  /** Origins besides 'self' the client may fetch from (the production basemap's style, tiles, glyphs). */
  extraConnect?: string[];
}

export function contentSecurityPolicy(opts: SecurityHeaderOptions & { inlineStyles?: boolean } = {}): string {
  const extra = (opts.extraConnect ?? []).join(' ');
  return [
    "default-src 'self'",
    "script-src 'self'",
    `style-src 'self'${opts.inlineStyles ? " 'unsafe-inline'" : ''}`,
    `img-src 'self' data: blob:${extra ? ` ${extra}` : ''}`,
    "font-src 'self' data:",
    `connect-src 'self'${extra ? ` ${extra}` : ''}`,
    "worker-src 'self' blob:",
    "child-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

export function securityHeaders(opts: SecurityHeaderOptions = {}) {
  const csp = contentSecurityPolicy(opts);
  return (_req: IncomingMessage, res: ServerResponse) => {
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  };
}

/** The origin of a configured URL (for the CSP), or nothing when there is none or it is not absolute. */
export function originOf(url: string | null | undefined): string[] {
  if (!url) return [];
  try {
    return [new URL(url).origin];
  } catch {
    return [];
  }
}
