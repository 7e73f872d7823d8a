/** /admin/v1/tenants/{id}/branches: point-in-time restore of a database tenant through Neon branches (src/branches/). */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { ControlAppEnv } from '../app-env.js';
import { migrateTenant, requireTenant } from '../lifecycle.js';
import { audit } from '../middleware.js';
import { TenantRefParam } from '../schemas.js';
import { withTenantOperation } from '../../operations/claim.js';
import { branchScope, createRestoreBranch, discardBranch, listBranches, promoteBranch, verifyBranch } from '../../branches/tenant-branches.js';
import { BRANCH_ID } from '../../branches/names.js';
import { blueGreenMigrate } from '../../branches/blue-green.js';
import { ERRORS, errorSpec, jsonBody, jsonOk, NOT_FOUND, validationHook } from './common.js';

export const branches = new OpenAPIHono<ControlAppEnv>({ defaultHook: validationHook });
const tags = ['tenants'];

const Counts = z.record(z.string().max(63), z.number().int().min(0)).describe('Rows per table of the public schema');
const BranchSchema = z.object({
  id: z.string(), name: z.string(),
  kind: z.enum(['main', 'restore', 'preserved', 'migration', 'other']).describe('main: the live data; restore: made at a point in time; preserved: the state a promotion replaced; migration: a blue-green migration under way'),
  default: z.boolean(), parentId: z.string().nullable(), parentTimestamp: z.string().nullable(), createdAt: z.string(), state: z.string(),
}).openapi('Branch');
const Mismatch = z.object({ table: z.string(), expected: z.number().int(), actual: z.number().int().nullable() });
const VerificationSchema = z.object({ branch: BranchSchema, tables: Counts, mismatches: z.array(Mismatch), ok: z.boolean() }).openapi('BranchVerification');
const CreateBody = z.strictObject({
  at: z.iso.datetime({ offset: true }).describe('The point in time (ISO 8601) within the project\'s history window'),
  expect: Counts.optional(),
}).openapi('BranchRequest');
const ExpectBody = z.strictObject({ expect: Counts.optional() }).openapi('BranchExpectation');
const BranchParams = TenantRefParam.extend({
  branchId: z.string().regex(BRANCH_ID, 'must be a Neon branch id (br-…)').openapi({ param: { name: 'branchId', in: 'path' } }),
});
const UNSUPPORTED = { 422: errorSpec('Not a tenant with branches, or not a point it can be branched at', ['BRANCHES_NOT_SUPPORTED', 'BRANCH_POINT_INVALID', 'BRANCH_IS_MAIN']) } as const;
const STATE = { 409: errorSpec('The tenant or branch cannot do this now', ['INVALID_STATE', 'BRANCH_HAS_CHILDREN', 'BRANCH_VERIFY_FAILED', 'OPERATION_IN_PROGRESS']) } as const;

branches.openapi(createRoute({
  method: 'post', path: '/{id}/branches', tags, operationId: 'createTenantBranch',
  summary: 'Branch a database tenant\'s data at a point in time (a restore branch with its own endpoint), and count its rows',
  request: { params: TenantRefParam, body: jsonBody(CreateBody) },
  responses: {
    201: jsonOk(VerificationSchema.extend({ ms: z.number().int().describe('How long Neon took to make the branch') }), 'The restore branch and its rows per table'),
    ...ERRORS, ...NOT_FOUND, ...STATE, ...UNSUPPORTED,
  },
}), async (c) => {
  const s = c.var.services;
  const t = await requireTenant(s, c.req.valid('param').id);
  const body = c.req.valid('json');
  const sc = await branchScope(s, t);
  const made = await createRestoreBranch(sc, new Date(body.at), body.expect);
  audit(c, 'tenant.branch.create', t.id, { branchId: made.branch.id, name: made.branch.name, at: body.at, tables: made.tables, ok: made.ok, ms: made.ms });
  return c.json(made, 201);
});

branches.openapi(createRoute({
  method: 'get', path: '/{id}/branches', tags, operationId: 'listTenantBranches',
  summary: 'The branches of a database tenant\'s Neon project: main, restore branches, preserved states',
  request: { params: TenantRefParam },
  responses: { 200: jsonOk(z.object({ branches: z.array(BranchSchema) }), 'Branches, main first'), ...ERRORS, ...NOT_FOUND, ...STATE, ...UNSUPPORTED },
}), async (c) => {
  const s = c.var.services;
  const t = await requireTenant(s, c.req.valid('param').id);
  audit(c, 'tenant.branches', t.id);
  return c.json({ branches: await listBranches(await branchScope(s, t)) }, 200);
});

branches.openapi(createRoute({
  method: 'post', path: '/{id}/branches/{branchId}/verify', tags, operationId: 'verifyTenantBranch',
  summary: 'Count the rows per table of a branch and compare them with what is expected',
  request: { params: BranchParams, body: jsonBody(ExpectBody) },
  responses: { 200: jsonOk(VerificationSchema, 'Rows per table and the tables that differ'), ...ERRORS, ...NOT_FOUND, ...STATE, ...UNSUPPORTED },
}), async (c) => {
  const s = c.var.services;
  const p = c.req.valid('param');
  const t = await requireTenant(s, p.id);
  const v = await verifyBranch(await branchScope(s, t), p.branchId, c.req.valid('json').expect);
  audit(c, 'tenant.branch.verify', t.id, { branchId: p.branchId, tables: v.tables, ok: v.ok });
  return c.json(v, 200);
});

branches.openapi(createRoute({
  method: 'post', path: '/{id}/branches/{branchId}/promote', tags, operationId: 'promoteTenantBranch',
  summary: 'Make a branch the tenant\'s live data: verified first, then main is restored from it behind the same endpoint; the replaced state is kept as a pre-restore branch',
  request: { params: BranchParams, body: jsonBody(ExpectBody) },
  responses: {
    200: jsonOk(z.object({
      main: BranchSchema, preserved: BranchSchema, promoted: VerificationSchema, ms: z.number().int().describe('How long the restore took'),
      migrated: z.object({ applied: z.array(z.string()), state: z.enum(['current', 'failed']) }).describe('The catalogue applied again to the restored state (migrations applied after T)'),
    }), 'Promoted'),
    ...ERRORS, ...NOT_FOUND, ...STATE, ...UNSUPPORTED,
  },
}), async (c) => {
  const s = c.var.services;
  const p = c.req.valid('param');
  const t = await requireTenant(s, p.id);
  const sc = await branchScope(s, t);
  audit(c, 'tenant.branch.promote', t.id, { branchId: p.branchId });
  // One data operation per tenant at a time: no move copies from main while it is restored.
  const done = await withTenantOperation(s.sql, t.id, 'branch', async () => {
    const promoted = await promoteBranch(sc, p.branchId, c.req.valid('json').expect);
    // The restored state predates any migration applied since T: the catalogue is applied again
    // (and the router schema installed if it predates it), so the control plane's record holds.
    const migrated = await migrateTenant(s, t);
    return { ...promoted, migrated: { applied: migrated.applied, state: migrated.state } };
  });
  audit(c, 'tenant.branch.promote', t.id, { branchId: p.branchId, preserved: { id: done.preserved.id, name: done.preserved.name }, tables: done.promoted.tables, ms: done.ms, migrated: done.migrated });
  return c.json(done, 200);
});

branches.openapi(createRoute({
  method: 'delete', path: '/{id}/branches/{branchId}', tags, operationId: 'discardTenantBranch',
  summary: 'Discard a restore branch or a preserved state (never main)',
  request: { params: BranchParams },
  responses: { 200: jsonOk(z.object({ discarded: BranchSchema }), 'Deleted in Neon'), ...ERRORS, ...NOT_FOUND, ...STATE, ...UNSUPPORTED },
}), async (c) => {
  const s = c.var.services;
  const p = c.req.valid('param');
  const t = await requireTenant(s, p.id);
  const discarded = await discardBranch(await branchScope(s, t), p.branchId);
  audit(c, 'tenant.branch.discard', t.id, { branchId: discarded.id, name: discarded.name });
  return c.json({ discarded }, 200);
});

branches.openapi(createRoute({
  method: 'post', path: '/{id}/branches/migrate', tags, operationId: 'migrateTenantOnBranch',
  summary: 'Blue-green migration of a database tenant: writes fenced, a branch made, the catalogue applied and verified there, then promoted; a failure never reaches the tenant\'s data',
  request: { params: TenantRefParam },
  responses: {
    200: jsonOk(z.object({
      applied: z.array(z.string()), branch: BranchSchema.nullable().describe('The migrated branch that was promoted (null: nothing to apply)'),
      preserved: BranchSchema.nullable().describe('The state before the migration, kept until discarded (promote it to roll back)'),
      tables: Counts, fenceMs: z.number().int().describe('How long the tenant\'s writes were refused (503 TENANT_MIGRATING); reads never were'),
    }), 'Migrated and promoted (or nothing to apply)'),
    ...ERRORS, ...NOT_FOUND, ...UNSUPPORTED,
    409: errorSpec('The migration failed on the branch (main untouched, the branch discarded), or the tenant is busy', ['MIGRATION_FAILED', 'INVALID_STATE', 'OPERATION_IN_PROGRESS']),
  },
}), async (c) => {
  const s = c.var.services;
  const t = await requireTenant(s, c.req.valid('param').id);
  audit(c, 'tenant.branch.migrate', t.id);
  const done = await blueGreenMigrate(s, t);
  audit(c, 'tenant.branch.migrate', t.id, { applied: done.applied, branch: done.branch?.id ?? null, preserved: done.preserved ? { id: done.preserved.id, name: done.preserved.name } : null, fenceMs: done.fenceMs });
  return c.json(done, 200);
});
