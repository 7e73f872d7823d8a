/**
 * The edge router. The whole request path, top to bottom:
 *
 *   requestContext → observe → services → readyz → securityAudit → resolveTenant → authenticate
 *     → residency → storageQuota → requestBodyLimit → quota → meterBandwidth → proxy → breaker
 *     → tenantCrypto → the caller's routes
 *
 * Order matters: the tenant must be known before its token can be checked (issuer, claim name),
 * but nothing about it is told before the token is: resolveTenant finds the tenant silently, and
 * authenticate, once the caller is authenticated, names it (`X-Tenant`, `X-Tenant-Region`) and
 * refuses a suspended or not-yet-ready tenant. Policy comes after authentication too, so that an
 * anonymous caller learns nothing about a tenant's state, geo rules or residency; on the shared
 * API host every token refused before that point gets one and the same answer. Quota comes after
 * policy so that refused requests do not spend the tenant's budget, and so do the tier's storage
 * and body limits (a write over storage is 507, a body over the limit 413, neither metered);
 * bandwidth is metered right after admission. proxy forwards the paths under
 * the proxied prefixes to the tenant's region-pinned origin with a signed tenant context (each
 * origin has its breaker), so a database outage never refuses them; the breaker comes last, right
 * before the database. securityAudit wraps the steps that refuse: it sees their refusals and
 * records the ones an operator must find later (tenant mismatch, residency violation) in the
 * audit log. observe wraps it all: it takes up the caller's trace, and writes the
 * `traceparent` and `Server-Timing` headers, one access-log line per request and its metrics
 * (src/metrics/: Analytics Engine, and the isolate's batch for the aggregator); `timed` records
 * how long each step took before handing on.
 *
 * The caller's routes come last and see what the steps set (`TenantRouterEnv`): `c.var.tenant`,
 * `c.var.identity`, `c.var.db` bound to the tenant's database, region and isolation, `c.var.crypto`
 * sealing and opening fields with the tenant's own key (src/tenant-keys/). What a route
 * costs (`weights`) and what it does when the quota guard cannot be asked (`failModes`) are the
 * caller's per-route options; everything else about a tenant comes from the control plane.
 */
import { Hono } from 'hono';
import type { AppEnv } from '../app-env.js';
import { notFound, onError } from '../errors.js';
import { requestContext } from '../middleware/request-context.js';
import { observe, timed } from '../middleware/observe.js';
import { readyz } from '../middleware/readyz.js';
import { services } from '../middleware/services.js';
import { securityAudit } from '../middleware/security-audit.js';
import { resolveTenant } from '../middleware/resolve-tenant.js';
import { authenticate } from '../middleware/authenticate.js';
import { residency } from '../middleware/residency.js';
import { quota } from '../middleware/quota.js';
import { storageQuota } from '../middleware/storage-quota.js';
import { requestBodyLimit } from '../middleware/request-body-limit.js';
import { meterBandwidth } from '../middleware/meter-bandwidth.js';
import { breaker } from '../middleware/breaker.js';
import { tenantCrypto } from '../middleware/tenant-crypto.js';
import { contextJwks, proxy } from '../proxy/index.js';
import { routerServices } from '../services.js';
import { mountRoutes, type TenantRouterOptions } from './options.js';
import { failModeFunction, weightFunction } from './route-table.js';
import { MetricsRecorder } from '../metrics/recorder.js';

/** The whole pipeline in front of `opts.routes`; bad options throw here, not on the first request. */
export function createTenantRouter(opts: TenantRouterOptions): Hono<AppEnv> {
  const weight = weightFunction(opts.weights);
  const failMode = failModeFunction(opts.failModes);
  const app = new Hono<AppEnv>();
  app.onError(onError);
  app.notFound(notFound);

  app.use(requestContext());
  // One recorder per app (per isolate): it batches what observe records for the aggregator.
  const metrics = opts.metrics === false ? null : new MetricsRecorder(opts.metrics);
  app.use(observe({ log: opts.accessLog, metrics }));
  // Liveness needs no tenant, no configuration and no database.
  app.get('/healthz', (c) => c.json({ ok: true }));

  app.use(services(opts.services ?? routerServices));
  // Readiness: the control database, the L2 cache, each region's breaker.
  app.get('/readyz', readyz());
  // The public keys of the signed tenant context that proxied requests carry (API host only).
  app.get('/.well-known/jwks.json', contextJwks());
  app.use(securityAudit());
  app.use(timed('tenant', resolveTenant()));
  app.use(timed('auth', authenticate()));
  app.use(timed('policy', residency()));
  // The tier's storage and body limits: a write over storage is 507, a body over the limit 413, neither metered.
  app.use(storageQuota());
  app.use(requestBodyLimit());
  app.use(timed('quota', quota({ weight, failMode })));
  app.use(meterBandwidth());
  // Proxied prefixes leave here for the tenant's origin (its own breaker, not the database's).
  app.use(timed('proxy', proxy()));
  app.use(timed('breaker', breaker()));
  // c.var.crypto: the tenant's field encryption (no I/O until a route seals or opens).
  app.use(tenantCrypto());

  mountRoutes(app, opts.routes);
  return app;
}
