/**
 * /admin/v1/tenants/{id}/backups and /restore: per-tenant logical backups in the control plane's
 * R2 bucket, encrypted with the tenant's data key, and their restore into the same or a new
 * tenant (src/backups/, docs/backups.md).
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ControlAppEnv } from '../app-env.js';
import { requireTenant } from '../lifecycle.js';
import { audit } from '../middleware.js';
import { TenantRefParam } from '../schemas.js';
import { takeBackup } from '../../backups/backup.js';
import { restoreBackup } from '../../backups/restore.js';
import { listBackups } from '../../backups/store.js';
import { ERRORS, errorSpec, jsonBody, jsonOk, NOT_FOUND, validationHook } from './common.js';

export const backups = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
const tags = ['backups'];
const SLUG = /^[a-z][a-z0-9-]{0,38}[a-z0-9]$/;
const ISOLATION = z.enum(['row', 'schema', 'database']);

const BackupSchema = z.object({
  id: z.uuid(), tenantId: z.uuid(), kind: z.enum(['manual', 'scheduled']), status: z.enum(['running', 'complete', 'failed']),
  startedAt: z.string(), takenAt: z.string().nullable().describe('The snapshot\'s time: what a restore brings the tenant back to'),
  finishedAt: z.string().nullable(), isolation: ISOLATION.nullable(),
  tables: z.array(z.object({ name: z.string(), key: z.string(), rows: z.number().int(), digest: z.string() })).nullable(),
  rows: z.number().int().nullable(), bytes: z.number().int().nullable().describe('Size of the stored (gzip\'d, encrypted) object'),
  sha256: z.string().nullable().describe('SHA-256 of the stored object; a restore refuses any other'),
  keyId: z.string().nullable().describe('Which data key sealed it (a name derived from the key, not the key)'),
  error: z.string().nullable(), expiresAt: z.string().nullable(),
}).openapi('TenantBackup');

const RestoreBody = z.strictObject({
  backupId: z.uuid(),
  target: z.union([
    z.literal('same'),
    z.strictObject({ newTenant: z.strictObject({
      slug: z.string().regex(SLUG), name: z.string().min(1).max(200).optional(), tier: z.string().regex(/^[A-Z][A-Z0-9_]{1,39}$/).optional(),
      region: z.string().min(1).max(64).optional(), isolation: ISOLATION.optional(),
    }) }),
  ]).optional().openapi({ description: "`same` (default): the tenant's rows are replaced by the backup's; `{newTenant}`: a new tenant (settings not given are the source's) gets them" }),
}).openapi('RestoreRequest');

const RestoreReportSchema = z.object({
  backupId: z.uuid(), sourceTenantId: z.uuid(), tenantId: z.uuid(), into: z.enum(['same', 'new']), takenAt: z.string(),
  tables: z.array(z.object({ name: z.string(), rows: z.number().int() })), deleted: z.number().int(), inserted: z.number().int(),
  fenceMs: z.number().int().describe('How long the target\'s writes were refused (503 TENANT_MIGRATING); reads never were'),
  durationMs: z.number().int().describe('The whole restore, bucket read and decryption included (the RTO of this tenant\'s size)'),
}).openapi('RestoreReport');

const UNAVAILABLE = { 503: errorSpec('No backup bucket, or the backup/restore failed and was rolled back', ['BACKUPS_UNAVAILABLE', 'BACKUP_FAILED', 'RESTORE_FAILED', 'UPSTREAM_UNAVAILABLE']) } as const;

backups.openapi(createRoute({
  method: 'post', path: '/{id}/backups', tags, operationId: 'backupTenant',
  summary: "Take a logical backup of the tenant's rows now (one consistent snapshot, encrypted with its data key, stored in R2)",
  request: { params: TenantRefParam },
  responses: {
    201: jsonOk(BackupSchema, 'Taken and stored'), ...ERRORS, ...NOT_FOUND, ...UNAVAILABLE,
    409: errorSpec('The tenant cannot be backed up now (another data operation holds it: Retry-After)', ['INVALID_STATE', 'BACKUP_IN_PROGRESS', 'OPERATION_IN_PROGRESS', 'BACKUP_KEY_DESTROYED']),
    413: errorSpec('Too many rows, or too many bytes of rows, for one logical backup (recorded failed; the schedule waits a whole interval)', ['BACKUP_TOO_LARGE']),
  },
}), async (c) => {
  const s = c.var.services;
  const t = await requireTenant(s, c.req.valid('param').id);
  const rec = await takeBackup(s, t, 'manual', c.var.admin.actor, c.var.requestId);
  audit(c, 'tenant.backup', t.id, { backupId: rec.id, rows: rec.rows, bytes: rec.bytes, takenAt: rec.takenAt });
  return c.json(rec, 201);
});

backups.openapi(createRoute({
  method: 'get', path: '/{id}/backups', tags, operationId: 'listTenantBackups', summary: "The tenant's backups, newest first",
  request: { params: TenantRefParam },
  responses: { 200: jsonOk(z.object({ backups: z.array(BackupSchema) }), 'Backups'), ...ERRORS, ...NOT_FOUND },
}), async (c) => {
  const t = await requireTenant(c.var.services, c.req.valid('param').id);
  audit(c, 'tenant.backups', t.id);
  return c.json({ backups: await listBackups(c.var.services.sql, t.id) }, 200);
});

backups.openapi(createRoute({
  method: 'post', path: '/{id}/restore', tags, operationId: 'restoreTenant',
  summary: "Restore one of the tenant's backups into it (writes paused, rows replaced in one transaction, verified) or into a new tenant",
  request: { params: TenantRefParam, body: jsonBody(RestoreBody) },
  responses: {
    200: jsonOk(RestoreReportSchema, 'Restored and verified (count and digest per table)'),
    ...ERRORS, ...UNAVAILABLE,
    404: errorSpec('No such tenant, or no such backup of this tenant', ['TENANT_NOT_FOUND', 'BACKUP_NOT_FOUND']),
    409: errorSpec('The backup cannot be restored: nothing was changed', ['INVALID_STATE', 'OPERATION_IN_PROGRESS', 'BACKUP_CORRUPT', 'BACKUP_KEY_DESTROYED', 'BACKUP_HAS_SEALED_VALUES', 'RESTORE_FAILED', 'TENANT_EXISTS']),
    422: errorSpec('Not a tenant that can be created', ['SLUG_RESERVED', 'TEMPLATE_NOT_FOUND', 'RESIDENCY_MISMATCH', 'UNKNOWN_REGION']),
  },
}), async (c) => {
  const s = c.var.services;
  const t = await requireTenant(s, c.req.valid('param').id);
  const body = c.req.valid('json');
  const report = await restoreBackup(s, t, body.backupId, body.target ?? 'same', { actor: c.var.admin.actor, requestId: c.var.requestId });
  audit(c, 'tenant.restore', t.id, { ...report });
  return c.json(report, 200);
});
