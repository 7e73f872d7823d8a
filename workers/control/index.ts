/**
 * The control plane. The whole request path, top to bottom:
 *
 *   requestContext → services → controlHost → auditCalls → adminAuth → bodyLimit
 *     → maintainAfterWrites → idempotency → route
 *
 * The host check comes first so a tenant host learns nothing (not even that auth exists); the
 * audit step wraps authentication so refused credentials are counted too (summarised, see
 * src/control/refusals.ts); bodies are only read once the caller is authenticated; the OpenAPI
 * document and its Swagger UI are the only unauthenticated routes, and only on the control host.
 * Idempotency keys belong to the authenticated caller, so they are looked at after adminAuth; a
 * replay is audited like any call. A known path asked with another method is 405 with Allow.
 * The Cron Trigger (every minute) runs the same maintenance as every admin write: deferred cache
 * invalidations, purges whose grace has passed; and the scheduled parts (src/control/maintenance.ts), the alert rules among them.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { onError } from '../../src/errors.js';
import { idempotency } from '../../src/idempotency/middleware.js';
import { requestContext } from '../../src/middleware/request-context.js';
import type { ControlAppEnv } from '../../src/control/app-env.js';
import { swaggerDocs } from '../../src/control/docs.js';
import { openApiDocument } from '../../src/control/openapi.js';
import type { ControlEnv } from '../../src/control/env.js';
import { runScheduled } from '../../src/control/maintenance.js';
import { controlReadyz } from '../../src/control/readyz.js';
import { adminAuth, adminBodyLimit, auditCalls, controlHost, controlServicesStep, maintainAfterWrites } from '../../src/control/middleware.js';
import { controlServices } from '../../src/control/services.js';
import { methodAwareNotFound, validationHook } from '../../src/control/routes/common.js';
import { tenants } from '../../src/control/routes/tenants.js';
import { moves } from '../../src/control/routes/moves.js';
import { branches } from '../../src/control/routes/branches.js';
import { backups } from '../../src/control/routes/backups.js';
import { domains } from '../../src/control/routes/domains.js';
import { tiers } from '../../src/control/routes/tiers.js';
import { auditLog } from '../../src/control/routes/audit.js';
import { migrations } from '../../src/control/routes/migrations.js';
import { exportsApi, tenantData } from '../../src/control/routes/tenant-data.js';
import { keys } from '../../src/control/routes/keys.js';
import { metrics } from '../../src/control/routes/metrics.js';
import { alerts } from '../../src/control/routes/alerts.js';

/** The largest admin request body (a YAML import of a thousand templates is ~600 KiB). */
const BODY_LIMIT_BYTES = 1024 * 1024;

/** The control worker's app. */
export function buildControl() {
  const app = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
  app.onError(onError);
  app.notFound(methodAwareNotFound(() => app.routes));

  app.use(requestContext());
  app.get('/healthz', (c) => c.json({ ok: true }));
  app.use(controlServicesStep());
  // Readiness: the control database, the cache, each region's database (no secrets in the answer).
  app.get('/readyz', controlReadyz());
  app.use(controlHost());

  app.openAPIRegistry.registerComponent('securitySchemes', 'adminBearer', {
    type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN, or an admin JWT with scope admin:read / admin:write',
  });
  app.get('/admin/v1/openapi.json', (c) => c.json(openApiDocument(app, new URL(c.req.url).origin)));
  app.get('/admin/v1/docs', swaggerDocs('/admin/v1/openapi.json'));

  app.use('/admin/v1/*', auditCalls());
  app.use('/admin/v1/*', adminAuth());
  app.use('/admin/v1/*', adminBodyLimit(BODY_LIMIT_BYTES));
  app.use('/admin/v1/*', maintainAfterWrites());
  app.use('/admin/v1/*', idempotency());
  app.route('/admin/v1/tenants', tenants);
  app.route('/admin/v1/tenants', domains);
  app.route('/admin/v1/tenants', moves);
  // Point-in-time restore of database tenants through Neon branches (src/branches/, docs/branches.md).
  app.route('/admin/v1/tenants', branches);
  // Per-tenant logical backups in R2 (BACKUPS) and their restore (src/backups/, docs/backups.md).
  app.route('/admin/v1/tenants', backups);
  // A tenant's data as a whole: erase (crypto-shredding, signed receipt) and export (signed manifest).
  app.route('/admin/v1/tenants', tenantData);
  app.route('/admin/v1/exports', exportsApi);
  app.route('/admin/v1/tiers', tiers);
  app.route('/admin/v1/audit', auditLog);
  app.route('/admin/v1/migrations', migrations);
  app.route('/admin/v1/keys', keys);
  // The scheduled alert rules' alerts (src/alerts/, docs/alerts.md): list, acknowledge, remediate.
  app.route('/admin/v1/alerts', alerts);
  // /metrics (Prometheus) and /tenants/{id}/metrics: the router's aggregator, through METRICS_AGGREGATOR.
  app.route('/admin/v1', metrics);
  return app;
}

const app = buildControl();

/** Maintenance from the Cron Trigger; a failure is logged and retried by the next run. */
export async function scheduled(_controller: ScheduledController, env: ControlEnv, ctx: ExecutionContext): Promise<void> {
  const run = controlServices(env).then(runScheduled).then(
    (report) => console.log(JSON.stringify({ level: 'info', msg: 'maintenance', ...report })),
    (err) => console.error(JSON.stringify({ level: 'error', msg: 'maintenance failed', error: String(err).slice(0, 300) })));
  ctx.waitUntil(run);
  await run;
}

export default { fetch: app.fetch, scheduled } satisfies ExportedHandler<ControlEnv>;
