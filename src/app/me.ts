/** `GET /api/v1/me`: who the pipeline says the caller is. No database work, so it also measures the pipeline alone. */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.js';
import { methodNotAllowed } from './http.js';

export const me = new Hono<AppEnv>()
  .get('/', (c) => {
    const { tenant, identity } = c.var;
    return c.json({ tenant: { id: tenant.id, slug: tenant.slug, region: tenant.region, tier: tenant.tier.name }, subject: identity.subject, via: identity.via });
  })
  .all('/', methodNotAllowed(['GET']));
