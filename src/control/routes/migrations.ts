/** /admin/v1/migrations: the tenant migration catalogue and every tenant's progress through it. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ControlAppEnv } from '../app-env.js';
import { audit } from '../middleware.js';
import { migrateBatch, revertBatch } from '../migration-batch.js';
import { catalogue, catalogueDown, listCatalogue, migrationStatus } from '../migration-catalog.js';
import { MigrationBatchResultSchema, MigrationBatchSchema, MigrationNameParam, MigrationRevertResultSchema, MigrationRevertSchema, MigrationStatusSchema } from '../schemas.js';
import { CONFLICT, ERRORS, jsonBody, jsonOk, NOT_FOUND, validationHook } from './common.js';

export const migrations = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
const tags = ['migrations'];

migrations.openapi(createRoute({
  method: 'get', path: '/', tags, operationId: 'listMigrations', summary: 'The catalogue of tenant migrations',
  responses: { 200: jsonOk(z.object({ migrations: z.array(z.object({ name: z.string(), checksum: z.string(), hasDown: z.boolean(), createdAt: z.string() })) }), 'Catalogue'), ...ERRORS },
}), async (c) => {
  audit(c, 'migration.list');
  return c.json({ migrations: await listCatalogue(c.var.services.sql) }, 200);
});

migrations.openapi(createRoute({
  method: 'get', path: '/status', tags, operationId: 'getMigrationStatus', summary: 'Per-tenant migration status (filter by state; cursor pagination)',
  request: { query: z.object({
    state: z.enum(['current', 'pending', 'failed', 'migrating']).optional().openapi({ description: '`pending` includes failed and migrating tenants' }),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
    cursor: z.uuid().optional(),
  }) },
  responses: { 200: jsonOk(z.object({
    tenants: z.array(MigrationStatusSchema), nextCursor: z.string().nullable(),
    summary: z.object({ total: z.number().int(), current: z.number().int(), pending: z.number().int(), failed: z.number().int(), migrating: z.number().int() }),
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

migrations.openapi(createRoute({
  method: 'put', path: '/{name}/down', tags, operationId: 'catalogueMigrationDown',
  summary: "Give a catalogued migration its down (run by a rollback; set once, never changed)",
  request: { params: MigrationNameParam, body: { content: { 'application/sql': { schema: z.string() } }, required: true } },
  responses: { 200: jsonOk(z.object({ name: z.string(), result: z.enum(['created', 'unchanged']) }), 'Catalogued'), ...ERRORS, ...NOT_FOUND, ...CONFLICT },
}), async (c) => {
  const name = c.req.valid('param').name;
  const result = await catalogueDown(c.var.services.sql, name, await c.req.text());
  audit(c, 'migration.catalogue_down', null, { name, result });
  return c.json({ name, result }, 200);
});

migrations.openapi(createRoute({
  method: 'post', path: '/apply', tags, operationId: 'applyMigrationBatch',
  summary: 'Apply the catalogue to a batch of tenants (one connection per database; each tenant migrating until its outcome is recorded)',
  request: { body: jsonBody(MigrationBatchSchema) },
  responses: { 200: jsonOk(MigrationBatchResultSchema, 'Each tenant\'s outcome (a failed migration is reported, not thrown)'), ...ERRORS },
}), async (c) => {
  const results = await migrateBatch(c.var.services, c.req.valid('json').tenantIds);
  const count = (st: string) => results.filter((r) => r.state === st).length;
  audit(c, 'migration.apply', null, { tenants: results.length, current: count('current'), failed: count('failed'), skipped: count('skipped') });
  return c.json({ results }, 200);
});

migrations.openapi(createRoute({
  method: 'post', path: '/revert', tags, operationId: 'revertMigrationBatch',
  summary: "Roll a batch of tenants back with the named migrations' downs (newest first, where applied)",
  request: { body: jsonBody(MigrationRevertSchema) },
  responses: { 200: jsonOk(MigrationRevertResultSchema, "Each tenant's outcome"), ...ERRORS, ...NOT_FOUND, ...CONFLICT },
}), async (c) => {
  const body = c.req.valid('json');
  const results = await revertBatch(c.var.services, body.tenantIds, body.migrations);
  const count = (st: string) => results.filter((r) => r.state === st).length;
  audit(c, 'migration.revert', null, { migrations: body.migrations, tenants: results.length, reverted: count('reverted'), failed: count('failed') });
  return c.json({ results }, 200);
});
