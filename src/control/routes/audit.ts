/** /admin/v1/audit: the hash-chained log, filtered, and its verification. */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ControlAppEnv } from '../app-env.js';
import { listAudit, verifyAudit } from '../audit.js';
import { audit } from '../middleware.js';
import { AuditEntrySchema, AuditQuery, AuditVerifySchema } from '../schemas.js';
import { findTenant } from '../tenant-repo.js';
import { ERRORS, jsonOk, validationHook } from './common.js';

export const auditLog = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
const tags = ['audit'];

auditLog.openapi(createRoute({
  method: 'get', path: '/', tags, operationId: 'listAuditEntries', summary: 'Audit entries, newest first (filters: tenant id or slug, action or action prefix, actor, time range)',
  request: { query: AuditQuery },
  responses: { 200: jsonOk(z.object({ entries: z.array(AuditEntrySchema), nextCursor: z.number().int().nullable() }), 'A page of entries'), ...ERRORS },
}), async (c) => {
  const q = c.req.valid('query');
  let tenant = q.tenant;
  if (tenant && !/^[0-9a-f-]{36}$/i.test(tenant)) tenant = (await findTenant(c.var.services.sql, tenant))?.id ?? '00000000-0000-0000-0000-000000000000';
  audit(c, 'audit.list');
  return c.json(await listAudit(c.var.services.sql, { ...q, tenant }), 200);
});

auditLog.openapi(createRoute({
  method: 'get', path: '/verify', tags, operationId: 'verifyAuditLog', summary: 'Verify the hash chain from the first entry to the head',
  responses: { 200: jsonOk(AuditVerifySchema, 'ok, or the first broken entry'), ...ERRORS },
}), async (c) => {
  const r = await verifyAudit(c.var.services.sql);
  audit(c, 'audit.verify', null, { ok: r.ok, checked: r.checked });
  return c.json(r, 200);
});
