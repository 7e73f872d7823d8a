/** /admin/v1/migrations: the tenant migration catalogue and every tenant's progress through it. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ControlAppEnv } from '../app-env.js';
import { audit } from '../middleware.js';
import { catalogue, listCatalogue, migrationStatus } from '../migration-catalog.js';
import { MigrationNameParam, MigrationStatusSchema } from '../schemas.js';
import { CONFLICT, ERRORS, jsonOk, validationHook } from './common.js';

export const migrations = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
const tags = ['migrations'];

migrations.openapi(createRoute({
  method: 'get', path: '/', tags, operationId: 'listMigrations', summary: 'The catalogue of tenant migrations',
  responses: { 200: jsonOk(z.object({ migrations: z.array(z.object({ name: z.string(), checksum: z.string(), createdAt: z.string() })) }), 'Catalogue'), ...ERRORS },
}), async (c) => {
  audit(c, 'migration.list');
  return c.json({ migrations: await listCatalogue(c.var.services.sql) }, 200);
});

migrations.openapi(createRoute({
  method: 'get', path: '/status', tags, operationId: 'getMigrationStatus', summary: 'Per-tenant migration status (filter by state; cursor pagination)',
  request: { query: z.object({
    state: z.enum(['current', 'pending', 'failed']).optional().openapi({ description: '`pending` includes failed tenants' }),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
    cursor: z.uuid().optional(),
  }) },
  responses: { 200: jsonOk(z.object({
    tenants: z.array(MigrationStatusSchema), nextCursor: z.string().nullable(),
    summary: z.object({ total: z.number().int(), current: z.number().int(), pending: z.number().int(), failed: z.number().int() }),
  }), 'A page of statuses and the totals'), ...ERRORS },
}), async (c) => {
  audit(c, 'migration.status');
  return c.json(await migrationStatus(c.var.services.sql, c.req.valid('query')), 200);
});

migrations.openapi(createRoute({
  method: 'put', path: '/{name}', tags, operationId: 'catalogueMigration', summary: 'Catalogue a tenant migration (forward-only: a name never changes its text)',
  request: { params: MigrationNameParam, body: { content: { 'application/sql': { schema: z.string() } }, required: true } },
  responses: { 200: jsonOk(z.object({ name: z.string(), result: z.enum(['created', 'unchanged']) }), 'Catalogued'), ...ERRORS, ...CONFLICT },
}), async (c) => {
  const name = c.req.valid('param').name;
  const text = await c.req.text();
  const result = await catalogue(c.var.services.sql, name, text);
  audit(c, 'migration.catalogue', null, { name, result });
  return c.json({ name, result }, 200);
});
