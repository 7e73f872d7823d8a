/**
 * The control plane. The whole request path, top to bottom:
 *
 *   requestContext → services → controlHost → auditCalls → adminAuth → route
 *
 * The host check comes first so a tenant host learns nothing (not even that auth exists); the
 * audit step wraps authentication so refused credentials are recorded too; the OpenAPI document
 * and its Swagger UI are the only unauthenticated routes, and only on the control host.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { swaggerUI } from '@hono/swagger-ui';
import { notFound, onError } from '../../src/errors.js';
import { requestContext } from '../../src/middleware/request-context.js';
import type { ControlAppEnv } from '../../src/control/app-env.js';
import { adminAuth, auditCalls, controlHost, controlServicesStep } from '../../src/control/middleware.js';
import { validationHook } from '../../src/control/routes/common.js';
import { tenants } from '../../src/control/routes/tenants.js';
import { domains } from '../../src/control/routes/domains.js';
import { tiers } from '../../src/control/routes/tiers.js';
import { auditLog } from '../../src/control/routes/audit.js';
import { migrations } from '../../src/control/routes/migrations.js';

/** The control worker's app. */
export function buildControl() {
  const app = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
  app.onError(onError);
  app.notFound(notFound);

  app.use(requestContext());
  app.get('/healthz', (c) => c.json({ ok: true }));
  app.use(controlServicesStep());
  app.use(controlHost());

  app.openAPIRegistry.registerComponent('securitySchemes', 'adminBearer', {
    type: 'http', scheme: 'bearer', description: 'ADMIN_TOKEN, or an admin JWT with scope admin:read / admin:write',
  });
  app.doc31('/admin/v1/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Tenant router control plane', version: '1.0.0', description: 'Tenants, domains, templates, provisioning, usage, audit and migrations.' },
    security: [{ adminBearer: [] }],
  });
  app.get('/admin/v1/docs', swaggerUI({ url: '/admin/v1/openapi.json' }));

  app.use('/admin/v1/*', auditCalls());
  app.use('/admin/v1/*', adminAuth());
  app.route('/admin/v1/tenants', tenants);
  app.route('/admin/v1/tenants', domains);
  app.route('/admin/v1/tiers', tiers);
  app.route('/admin/v1/audit', auditLog);
  app.route('/admin/v1/migrations', migrations);
  return app;
}

export default buildControl();
