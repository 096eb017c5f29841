import type { NextFunction, Request, Response } from 'express';
import type { MikroORM } from '@mikro-orm/postgresql';
import { admissionOf } from '../db/admission.js';

/**
 * Middleware: the rest of the request (an export) runs under the pool's admission of heavy work
 * (server/db/admission.ts), holding its slot until the answer has been sent or the connection closed.
 */
export function heavyRoute(orm: MikroORM) {
  return (req: Request, res: Response, next: NextFunction) => {
    admissionOf(orm.em).run(() => new Promise<void>((resolve) => {
      res.once('close', () => resolve());
      next();
    })).catch(next);
  };
}
