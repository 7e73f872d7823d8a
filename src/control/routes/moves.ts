/** /admin/v1/tenants/{id}/move and /moves: move a tenant's data to another isolation or region, online (src/moves/). */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ControlAppEnv } from '../app-env.js';
import { requireTenant } from '../lifecycle.js';
import { audit } from '../middleware.js';
import { TenantRefParam } from '../schemas.js';
import { listMoves } from '../../moves/store.js';
import { moveTenant } from '../../moves/move.js';
import { ERRORS, errorSpec, jsonBody, jsonOk, NOT_FOUND, validationHook } from './common.js';

export const moves = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
const tags = ['tenants'];

const MoveBody = z.strictObject({
  isolation: z.enum(['row', 'schema', 'database']).optional(),
  region: z.string().min(1).max(64).optional(),
}).openapi('MoveRequest');

const Where = z.object({ region: z.string(), isolation: z.enum(['row', 'schema', 'database']) });
const MoveReportSchema = z.object({
  moveId: z.uuid(), tenantId: z.uuid(), from: Where, to: Where,
  copied: z.record(z.string(), z.number().int()),
  tail: z.record(z.string(), z.object({ inserted: z.number().int(), replaced: z.number().int(), deleted: z.number().int() })),
  fenceMs: z.number().int().describe('How long the tenant\'s writes were refused (503 TENANT_MIGRATING); reads never were'),
  version: z.number().int(), cleaned: z.boolean().describe('Whether the source was emptied (else the maintenance run retries)'),
}).openapi('MoveReport');

moves.openapi(createRoute({
  method: 'post', path: '/{id}/move', tags, operationId: 'moveTenant',
  summary: 'Move the tenant\'s data to another isolation (row, schema, a database of its own) or region, online: reads are served throughout, writes are paused for the final copy',
  request: { params: TenantRefParam, body: jsonBody(MoveBody) },
  responses: {
    200: jsonOk(MoveReportSchema, 'Moved: copied, verified (count and digest per table), switched, source cleaned'),
    ...ERRORS, ...NOT_FOUND,
    409: errorSpec('The tenant cannot move now', ['INVALID_STATE', 'MOVE_IN_PROGRESS', 'OPERATION_IN_PROGRESS', 'MOVE_FAILED', 'MOVE_CLEANUP_PENDING']),
    422: errorSpec('Not a move this tenant may make', ['NOTHING_TO_MOVE', 'MOVE_NOT_SUPPORTED', 'RESIDENCY_MISMATCH', 'UNKNOWN_REGION']),
  },
}), async (c) => {
  const s = c.var.services;
  const t = await requireTenant(s, c.req.valid('param').id);
  const body = c.req.valid('json');
  audit(c, 'tenant.move', t.id, { from: { region: t.region, isolation: t.isolation }, to: body });
  const report = await moveTenant(s, t, body);
  audit(c, 'tenant.move', t.id, { moveId: report.moveId, from: report.from, to: report.to, fenceMs: report.fenceMs, copied: report.copied, tail: report.tail });
  return c.json(report, 200);
});

moves.openapi(createRoute({
  method: 'get', path: '/{id}/moves', tags, operationId: 'listTenantMoves', summary: 'The tenant\'s moves, newest first',
  request: { params: TenantRefParam },
  responses: { 200: jsonOk(z.object({ moves: z.array(z.record(z.string(), z.unknown())) }), 'Moves'), ...ERRORS, ...NOT_FOUND },
}), async (c) => {
  const t = await requireTenant(c.var.services, c.req.valid('param').id);
  audit(c, 'tenant.moves', t.id);
  return c.json({ moves: await listMoves(c.var.services.sql, t.id) }, 200);
});
