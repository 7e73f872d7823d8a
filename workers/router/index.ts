/**
 * The edge router. The whole request path, top to bottom:
 *
 *   requestContext → observe → securityAudit → resolveTenant → authenticate → residency
 *     → storageQuota → requestBodyLimit → quota → meterBandwidth → breaker → route
 *
 * Order matters: the tenant must be known before its token can be checked (issuer, claim name),
 * but nothing about it is told before the token is: resolveTenant finds the tenant silently, and
 * authenticate, once the caller is authenticated, names it (`X-Tenant`, `X-Tenant-Region`) and
 * refuses a suspended or not-yet-ready tenant. Policy comes after authentication too, so that an
 * anonymous caller learns nothing about a tenant's state, geo rules or residency; on the shared
 * API host every token refused before that point gets one and the same answer. Quota comes after
 * policy so that refused requests do not spend the tenant's budget, and so do the tier's
 * storage and body limits (a write over storage is 507, a body over the limit 413, neither
 * metered); bandwidth is metered right after admission, and the breaker last, right
 * before the database. securityAudit wraps the steps that refuse: it sees their refusals and
 * records the ones an operator must find later (tenant mismatch, residency violation) in the
 * audit log. observe wraps it all: it takes up the caller's trace, and writes the
 * `traceparent` and `Server-Timing` headers and one access-log line per request; `timed` records
 * how long each step took before handing on.
 */
import { Hono, type Context } from 'hono';
import type { AppEnv } from '../../src/app-env.js';
import { notFound, onError } from '../../src/errors.js';
import { requestContext } from '../../src/middleware/request-context.js';
import { observe, timed } from '../../src/middleware/observe.js';
import { readyz } from '../../src/middleware/readyz.js';
import { services } from '../../src/middleware/services.js';
import { securityAudit } from '../../src/middleware/security-audit.js';
import { resolveTenant } from '../../src/middleware/resolve-tenant.js';
import { authenticate } from '../../src/middleware/authenticate.js';
import { residency } from '../../src/middleware/residency.js';
import { quota } from '../../src/middleware/quota.js';
import { storageQuota } from '../../src/middleware/storage-quota.js';
import { requestBodyLimit } from '../../src/middleware/request-body-limit.js';
import { meterBandwidth } from '../../src/middleware/meter-bandwidth.js';
import { breaker } from '../../src/middleware/breaker.js';
import { routerServices, type Services } from '../../src/services.js';
import type { Env } from '../../src/env.js';
import { tracks } from '../../src/app/tracks.js';
import { me } from '../../src/app/me.js';

/** Writes cost two units: they hold a transaction and a row lock, reads do not. */
const routeWeight = (c: Context) => (c.req.method === 'GET' || c.req.method === 'HEAD' ? 1 : 2);

/** The router; `build` makes the isolate's services (the benchmark swaps the rate limiter); `accessLog` receives the access-log lines (console.log by default). */
export function buildRouter(build: (env: Env) => Services = routerServices, opts: { accessLog?: ((line: string) => void) | null } = {}) {
  const app = new Hono<AppEnv>();
  app.onError(onError);
  app.notFound(notFound);

  app.use(requestContext());
  app.use(observe({ log: opts.accessLog }));
  // Liveness needs no tenant, no configuration and no database.
  app.get('/healthz', (c) => c.json({ ok: true }));

  app.use(services(build));
  // Readiness: the control database, the L2 cache, each region's breaker.
  app.get('/readyz', readyz());
  app.use(securityAudit());
  app.use(timed('tenant', resolveTenant()));
  app.use(timed('auth', authenticate()));
  app.use(timed('policy', residency()));
  app.use(storageQuota());
  app.use(requestBodyLimit());
  app.use(timed('quota', quota({ weight: routeWeight })));
  app.use(meterBandwidth());
  app.use(timed('breaker', breaker()));

  app.route('/api/v1/tracks', tracks);
  app.route('/api/v1/me', me);
  return app;
}

export default buildRouter();
export { TenantGuard } from '../../src/quota/tenant-guard.js';
export { CircuitBreaker } from '../../src/breaker/circuit-breaker.js';
