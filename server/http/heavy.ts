import type { NextFunction, Request, Response } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { heavy } from '../db/admission.js';

/** An HTTP handler (exports) run under the pool's admission of heavy work (server/db/admission.ts). */
export function heavyRoute(orm: MikroORM, handler: (req: Request, res: Response, next: NextFunction) => unknown) {
  return (req: Request, res: Response, next: NextFunction) => {
    heavy(orm.em, async () => { await handler(req, res, next); }).catch(next);
  };
}
