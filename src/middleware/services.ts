import { createMiddleware } from 'hono/factory';
import { AppError } from '../errors.js';
import type { Env } from '../env.js';
import type { Services } from '../services.js';

export interface ServicesVars { services: Services }

/** Makes the isolate's services available; a configuration error is a clear 500 naming the variable. */
export const services = (build: (env: Env) => Services) =>
  createMiddleware<{ Bindings: Env; Variables: ServicesVars }>(async function services(c, next) {
    let s: Services;
    try {
      s = build(c.env);
    } catch (err) {
      console.error(JSON.stringify({ level: 'error', msg: 'configuration', error: String(err) }));
      throw new AppError(500, 'INTERNAL', 'router is misconfigured');
    }
    c.set('services', s);
    await next();
  });
