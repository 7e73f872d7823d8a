/**
 * /admin/v1/keys: the MASTER_KEY ring's ids and what each still seals, and re-sealing under the
 * current key (the step between adding a new key and removing the old one: docs/key-rotation.md).
 * Never a key in an answer or the audit log: ids and counts only.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ControlAppEnv } from '../app-env.js';
import { audit } from '../middleware.js';
import { keyStatus, resealSecrets } from '../../crypto/reseal.js';
import { rewrapTenantKeys } from '../../tenant-keys/rewrap.js';
import { ERRORS, jsonOk, validationHook } from './common.js';

export const keys = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
const tags = ['keys'];

/** Rows one call examines unless told otherwise; the CLI continues with `nextCursor`. */
const DEFAULT_LIMIT = 1000;

const Counts = z.record(z.string(), z.number().int());
const KeyStatusSchema = z.object({
  current: z.string().openapi({ description: 'The key id new secrets are sealed under' }),
  kids: z.array(z.string()).openapi({ description: "The ring's key ids, current first" }),
  sealed: Counts.openapi({ description: 'Sealed connection secrets per key id (every ring id, and any other id found)' }),
  tenantKeys: Counts.openapi({ description: 'Wrapped tenant data keys per key id (re-wrapped by POST /admin/v1/keys/rewrap)' }),
  unrecognised: z.number().int(),
  retirable: z.array(z.string()).openapi({ description: 'Ring ids, other than the current one, that seal and wrap nothing: they can be removed' }),
  pendingInvalidations: z.number().int().openapi({ description: 'Router cache invalidations not delivered yet' }),
}).openapi('KeyStatus');

const ResealBody = z.object({
  cursor: z.uuid().optional().openapi({ description: 'Continue after this tenant id (the previous call\'s nextCursor)' }),
  limit: z.number().int().min(1).max(10_000).optional().openapi({ description: `Rows to examine in this call (default ${DEFAULT_LIMIT})` }),
}).strict().openapi('ResealRequest');

const ResealSchema = z.object({
  current: z.string(),
  examined: z.number().int(),
  resealed: z.number().int(),
  raced: z.number().int().openapi({ description: 'Changed meanwhile (re-provisioned): left as they are' }),
  failedCount: z.number().int(),
  failed: z.array(z.object({
    tenantId: z.string(), kid: z.string().nullable(), reason: z.enum(['key-not-in-ring', 'does-not-open', 'unrecognised-format']),
  })).openapi({ description: 'Up to 20 of the secrets that could not be opened' }),
  nextCursor: z.string().nullable(),
  status: KeyStatusSchema,
}).openapi('ResealReport');

keys.openapi(createRoute({
  method: 'get', path: '/', tags, operationId: 'getKeys', summary: "The MASTER_KEY ring's key ids and the sealed secrets under each",
  responses: { 200: jsonOk(KeyStatusSchema, 'Key ids and counts (never the keys)'), ...ERRORS },
}), async (c) => {
  const status = await keyStatus(c.var.services);
  audit(c, 'keys.status');
  return c.json(status, 200);
});

keys.openapi(createRoute({
  method: 'post', path: '/reseal', tags, operationId: 'resealKeys',
  summary: 'Re-seal connection secrets not under the current key (batched, idempotent, compare-and-set)',
  request: { body: { content: { 'application/json': { schema: ResealBody } }, required: false } },
  responses: { 200: jsonOk(ResealSchema, 'What was re-sealed, and the counts after it'), ...ERRORS },
}), async (c) => {
  const body = c.req.valid('json');
  const s = c.var.services;
  const report = await resealSecrets(s, { cursor: body.cursor ?? null, limit: body.limit ?? DEFAULT_LIMIT });
  const status = await keyStatus(s);
  const { failed: _sample, ...counts } = report;
  audit(c, 'keys.reseal', null, { ...counts, sealed: status.sealed });
  return c.json({ ...report, status }, 200);
});

keys.openapi(createRoute({
  method: 'post', path: '/rewrap', tags, operationId: 'rewrapTenantKeys',
  summary: "Re-wrap tenant data keys not under the current key (the data keys and everything sealed with them stay as they are; batched, idempotent, compare-and-set)",
  request: { body: { content: { 'application/json': { schema: ResealBody } }, required: false } },
  responses: { 200: jsonOk(ResealSchema, 'What was re-wrapped (`resealed`), and the counts after it'), ...ERRORS },
}), async (c) => {
  const body = c.req.valid('json');
  const s = c.var.services;
  const report = await rewrapTenantKeys(s, { cursor: body.cursor ?? null, limit: body.limit ?? DEFAULT_LIMIT });
  const status = await keyStatus(s);
  const { failed: _sample, ...counts } = report;
  audit(c, 'keys.rewrap', null, { ...counts, tenantKeys: status.tenantKeys });
  return c.json({ ...report, status }, 200);
});
