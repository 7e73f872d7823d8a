import type { Context } from 'hono';
import { checkReadiness, controlPing, ReadinessCache } from '../observability/readiness.js';
import type { ServicesVars } from './services.js';

/** `GET /readyz` of the router: 200 ready / 503 not ready, with each dependency's state (no secrets, no URLs). */
export const readyz = (ttlMs = 5_000) => {
  // One answer per isolate's services (per configuration), reused for ttlMs.
  const caches = new WeakMap<object, ReadinessCache>();
  return async (c: Context<{ Variables: ServicesVars }>) => {
    const s = c.var.services;
    let cache = caches.get(s);
    if (!cache) caches.set(s, (cache = new ReadinessCache(ttlMs)));
    const shared = s.directory.shared;
    const r = await cache.get(() => checkReadiness({
      control: controlPing(s.config.CONTROL_DATABASE_URL),
      cache: shared?.ping ? () => shared.ping!() : null,
      region: async (region) => (await s.breakers.stub(`db:${region}`).view()).status,
      regions: Object.keys(s.config.REGION_DATABASE_URLS),
    }));
    c.header('Cache-Control', 'no-store');
    return c.json(r, r.status === 'ready' ? 200 : 503);
  };
};
