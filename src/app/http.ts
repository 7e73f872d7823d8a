/**
 * HTTP-level refusals for the sample application's routes: a JSON 405 with `Allow` for a method a
 * route does not have (Hono alone would answer 404, as if the resource did not exist), and 415
 * for a body that is not JSON (the validator would otherwise read it as `{}` and blame a field).
 */
import type { MiddlewareHandler } from 'hono';
import { AppError } from '../errors.js';

/** A handler for `.all(path)` after a route's real methods: 405 naming the ones it has. */
export const methodNotAllowed = (methods: readonly string[]): MiddlewareHandler => async (c) => {
  const allow = [...new Set([...methods, ...(methods.includes('GET') ? ['HEAD'] : [])])].join(', ');
  throw new AppError(405, 'METHOD_NOT_ALLOWED', `${c.req.method} is not allowed here; allowed: ${allow}`, { Allow: allow });
};

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

/** Refuses a request body whose Content-Type is not JSON with 415, before anything reads it. */
export const requireJson = (): MiddlewareHandler => async (c, next) => {
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim();
  if (!JSON_TYPE.test(type)) {
    throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'request body must be JSON (Content-Type: application/json)', { Accept: 'application/json' });
  }
  await next();
};
