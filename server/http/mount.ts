import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Express, RequestHandler } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Limits } from '../config.js';
import type { AuthService } from '../auth/sessions.js';
import type { Open311Options } from '../open311/routes.js';

/** What a capability's HTTP routes get from the composition root (server/app.ts). */
export interface MountDeps {
  orm: MikroORM;
  municipalityId: number;
  auth: AuthService;
  limits: Limits;
  /** In front of a download (/exports/…): the session, signed-in users only, EXPORT_RATE_LIMIT_PER_MINUTE. */
  exportGuard: RequestHandler[];
  /** Overrides of the Open311 endpoint's settings (tests). */
  open311?: Open311Options;
  /** The weekly-report scheduler: off (tests), or its check interval (server/reports). */
  reportScheduler?: false | { intervalMs?: number };
  log?: (msg: string) => void;
}

/** What a capability leaves running after mounting its routes. */
export interface Mounted {
  /** Answers a request before Express (cached tiles); calls next() for every request it does not answer. */
  front?(req: IncomingMessage, res: ServerResponse, next: () => void): void;
  /** Called once when the app stops, after the HTTP server has closed. */
  close?(): void | Promise<void>;
}

/** A capability's HTTP routes: `export const mount: Mount = (app, deps) => …`, listed once in server/app.ts. */
export type Mount = (app: Express, deps: MountDeps) => void | Mounted | Promise<void | Mounted>;
