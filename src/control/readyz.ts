import type { Context } from 'hono';
import { checkReadiness, controlPing, ReadinessCache } from '../observability/readiness.js';
import type { ControlAppEnv } from './app-env.js';

/**
 * `GET /readyz` of the control plane: 200 ready / 503 not ready. Its control database is required;
 * the L2 cache (invalidations; down: they wait in the outbox) and each region's database
 * (provisioning) are reported as `ok`/`down`. Bounded (2 s per check) and cached 5 s per isolate.
 */
export const controlReadyz = (ttlMs = 5_000) => {
  // One answer per isolate's services (per configuration), reused for ttlMs.
  const caches = new WeakMap<object, ReadinessCache>();
  return async (c: Context<ControlAppEnv>) => {
    const s = c.var.services;
    // Keyed by the isolate's config object: each request's services (forRequest) are a fresh copy.
    let cache = caches.get(s.config);
    if (!cache) caches.set(s.config, (cache = new ReadinessCache(ttlMs)));
    const invalidator = s.cache;
    const r = await cache.get(() => checkReadiness({
      control: controlPing(s.config.CONTROL_DATABASE_URL),
      cache: invalidator.ping ? () => invalidator.ping!() : null,
      region: async (region) => { await controlPing(s.config.REGION_ADMIN_URLS[region]!)(); return 'ok'; },
      regions: Object.keys(s.config.REGION_ADMIN_URLS),
    }).then((x) => ({ ...x, checks: { ...x.checks, regions: Object.fromEntries(Object.entries(x.checks.regions).map(([k, v]) => [k, v === 'ok' ? 'ok' : 'down'])) } })));
    c.header('Cache-Control', 'no-store');
    return c.json(r, r.status === 'ready' ? 200 : 503);
  };
};
