import type { Response } from 'express';
import { GraphQLError } from 'graphql';
import { InputError } from '../errors.js';

/**
 * The error of a plain HTTP route (not GraphQL) as a GraphQL-shaped JSON answer: bad input 400 (naming the field),
 * a missing or lost session 401, anything else 500 (logged under `tag`, never shown).
 */
export function sendRouteError(res: Response, e: unknown, tag: string): void {
  if (e instanceof InputError) {
    res.status(400).json({ errors: [{ message: e.message, extensions: { code: 'BAD_USER_INPUT', field: e.field } }] });
  } else if (e instanceof GraphQLError && e.extensions.code === 'UNAUTHENTICATED') {
    res.status(401).json({ errors: [{ message: e.message, extensions: e.extensions }] });
  } else {
    console.error(`[${tag}] internal error`, e);
    res.status(500).json({ errors: [{ message: 'Внутренняя ошибка сервера', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
  }
}
