/**
 * A tenant's data as a whole (src/tenant-data/): erase it from every store with a signed receipt
 * (POST /admin/v1/tenants/{id}/erase), export all of it into one archive with a signed manifest
 * (POST /admin/v1/tenants/{id}/export), and verify a manifest or receipt (POST /admin/v1/exports/verify).
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { AppError } from '../../errors.js';
import type { ControlAppEnv } from '../app-env.js';
import { audit } from '../middleware.js';
import { findTenant } from '../tenant-repo.js';
import { findArchived } from '../deletion.js';
import { eraseTenant, type GuardAccess } from '../../tenant-data/erase.js';
import { verifyDocument } from '../../tenant-data/signing.js';
import { exportTenant } from '../../tenant-data/export.js';
import type { ControlEnv } from '../env.js';
import { TenantRefParam } from '../schemas.js';
import { CONFLICT, ERRORS, jsonBody, jsonOk, NOT_FOUND, validationHook } from './common.js';

export const tenantData = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
export const exportsApi = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
const tags = ['tenant data'];

/** The TenantGuard binding, when the control plane has one (a script_name binding to the router's class). */
export const guardAccess = (env: ControlEnv | undefined): GuardAccess => ({ ns: env?.TENANT_GUARD, jurisdictions: env?.DO_JURISDICTIONS !== 'false' });

const NDJSON = { 'application/x-ndjson': { schema: z.string() } };
const Counts = z.record(z.string(), z.number().int());
const SignatureSchema = z.object({ alg: z.literal('HS256'), kid: z.string(), value: z.string() }).openapi('DocumentSignature');
const ReceiptSchema = z.object({
  type: z.literal('tenant-erasure'),
  tenantId: z.uuid(),
  slug: z.string(),
  erasedAt: z.string(),
  removed: z.object({
    control: Counts.openapi({ description: 'Rows per control table before the erase' }),
    storage: Counts.openapi({ description: "The tenant storage's objects before the erase (rows, schema, role, database)" }),
    guard: z.enum(['erased', 'empty', 'not-bound', 'unreachable']).openapi({ description: "The TenantGuard's state: erased, had none, no TENANT_GUARD binding, or not reachable" }),
    cacheKeys: z.number().int().openapi({ description: "Router cache keys deleted (value and epoch each)" }),
  }),
  keyDestroyed: z.boolean().openapi({ description: 'The data key is gone: values sealed with it can never be opened again' }),
  fencePendingUntil: z.string().nullable().openapi({ description: "When the storage fence is lifted (null: lifted by the erase)" }),
  verification: z.object({ control: Counts, storage: Counts, complete: z.boolean() }).openapi({ description: 'A scan of every store after the erase' }),
  signature: SignatureSchema,
}).openapi('ErasureReceipt');

tenantData.openapi(createRoute({
  method: 'post', path: '/{id}/erase', tags, operationId: 'eraseTenant',
  summary: "Erase a tenant from every store and destroy its data key (crypto-shredding); `confirm` must repeat its slug. Answers the signed receipt, also appended to the audit log",
  request: { params: TenantRefParam, query: z.object({ confirm: z.string().max(64).optional() }) },
  responses: { 200: jsonOk(ReceiptSchema, 'Erased; what was removed, and a scan of what is left'), ...ERRORS, ...NOT_FOUND, ...CONFLICT },
}), async (c) => {
  const s = c.var.services;
  const ref = c.req.valid('param').id;
  const live = await findTenant(s.sql, ref);
  const slug = live?.slug ?? (await findArchived(s.sql, ref))?.slug;
  if (!slug) throw new AppError(404, 'TENANT_NOT_FOUND', 'no such tenant');
  if (c.req.valid('query').confirm !== slug) {
    throw new AppError(400, 'CONFIRMATION_REQUIRED', `erasing destroys the tenant's data and key for good: repeat its slug as ?confirm=${slug}`);
  }
  const receipt = await eraseTenant(s, live?.id ?? ref, guardAccess(c.env), { actor: c.var.admin.actor, requestId: c.var.requestId });
  audit(c, 'tenant.erase', receipt.tenantId, { slug, complete: receipt.verification.complete });
  return c.json(receipt, 200);
});

tenantData.openapi(createRoute({
  method: 'post', path: '/{id}/export', tags, operationId: 'exportTenant',
  summary: "Export everything held of a tenant (settings, domains, usage, storage, audit entries, guard state, its rows) as one JSON-lines archive ending in a signed manifest",
  request: { params: TenantRefParam },
  responses: {
    200: { description: 'One `{"part","item"}` line per item, then `{"manifest":{...}}`: every part with its count and SHA-256, signed', content: NDJSON },
    ...ERRORS, ...NOT_FOUND, ...CONFLICT,
  },
}), async (c) => {
  const { text, manifest } = await exportTenant(c.var.services, c.req.valid('param').id, guardAccess(c.env));
  audit(c, 'tenant.export', manifest.tenantId, { parts: manifest.parts.map((p) => ({ name: p.name, count: p.count })) });
  // The typed responses know JSON and text/* only: the archive's media type is declared above.
  return c.body(text, 200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'content-disposition': `attachment; filename="${manifest.slug}-export.jsonl"` }) as never;
});

exportsApi.openapi(createRoute({
  method: 'post', path: '/verify', tags, operationId: 'verifyTenantDocument',
  summary: 'Verify the signature of an export manifest or an erasure receipt',
  request: { body: jsonBody(z.object({ signature: SignatureSchema }).loose().openapi('SignedDocument')) },
  responses: { 200: jsonOk(z.object({ valid: z.boolean(), kid: z.string().nullable() }).openapi('Verification'), 'Whether the signature holds under a key of the ring'), ...ERRORS },
}), async (c) => {
  const r = await verifyDocument(c.var.services.config.MASTER_KEY, c.req.valid('json'));
  audit(c, 'exports.verify', null, { valid: r.valid });
  return c.json(r, 200);
});
