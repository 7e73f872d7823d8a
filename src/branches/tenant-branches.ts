/**
 * Point-in-time restore of a `database` tenant on Neon, for the control routes
 * (src/control/routes/branches.ts): branch at T, verify (rows per table, against what the caller
 * expects), promote (the default branch restored from the verified branch; the replaced state
 * kept as `pre-restore-…`), list, discard. The tenant's endpoint, and so its sealed connection
 * string and the routers' cache entries, never change: nothing is re-sealed or invalidated.
 * Refused with 422 BRANCHES_NOT_SUPPORTED for `row`/`schema` tenants (they live in a shared
 * database) and without PROVISIONER=neon (local databases have no history).
 */
import { AppError } from '../errors.js';
import type { ControlServices } from '../control/services.js';
import type { TenantView } from '../control/schemas.js';
import { loadPlacement } from '../control/tenant-repo.js';
import { NeonApiError } from '../provisioning/neon-calls.js';
import { tenantIdent } from '../provisioning/provisioner.js';
import type { NeonBranches } from './neon-branches.js';
import { preservedName, restoreName, type BranchView } from './names.js';
import { compareCounts, countRows, type Mismatch, type TableCounts } from './verify.js';

interface Scope { api: NeonBranches; tenantId: string; projectId: string; ident: string }
export interface Verification { branch: BranchView; tables: TableCounts; mismatches: Mismatch[]; ok: boolean }

/** The tenant's Neon project, or why it has no branches to work with. */
export async function branchScope(s: ControlServices, t: TenantView): Promise<Scope> {
  if (!s.branches) throw new AppError(422, 'BRANCHES_NOT_SUPPORTED', 'branches need PROVISIONER=neon: local databases keep no history');
  if (t.isolation !== 'database') throw new AppError(422, 'BRANCHES_NOT_SUPPORTED', `a ${t.isolation} tenant lives in its region's shared database: only database tenants have branches`);
  if (t.status !== 'active' && t.status !== 'suspended') throw new AppError(409, 'INVALID_STATE', `the tenant is ${t.status}`);
  const placement = await loadPlacement(s.sql, t.id);
  if (!placement?.externalRef) throw new AppError(422, 'BRANCHES_NOT_SUPPORTED', 'the tenant has no Neon project on record');
  return { api: s.branches, tenantId: t.id, projectId: placement.externalRef, ident: tenantIdent(t.id) };
}

export const listBranches = async (sc: Scope): Promise<BranchView[]> => neon(() => sc.api.list(sc.projectId));

/** A restore branch at `at`, counted right away. */
export async function createRestoreBranch(sc: Scope, at: Date, expect: TableCounts = {}): Promise<Verification & { ms: number }> {
  if (at.getTime() > Date.now()) throw new AppError(422, 'BRANCH_POINT_INVALID', 'at is in the future');
  const t0 = Date.now();
  const branch = await neon(() => sc.api.createAt(sc.projectId, at, restoreName(at)), 'BRANCH_POINT_INVALID');
  const ms = Date.now() - t0;
  return { ...(await verifyBranch(sc, branch.id, expect, branch)), ms };
}

/** Rows per table of the branch, and the tables that differ from `expect`. */
export async function verifyBranch(sc: Scope, branchId: string, expect: TableCounts = {}, known?: BranchView): Promise<Verification> {
  const branch = known ?? await findBranch(sc, branchId);
  const uri = await neon(() => sc.api.ownerUri(sc.projectId, branch.id, sc.ident));
  const tables = await neon(() => countRows(uri, sc.tenantId));
  const mismatches = compareCounts(tables, expect);
  return { branch, tables, mismatches, ok: mismatches.length === 0 };
}

/**
 * Makes `branchId` the tenant's live data: verified against `expect` first (409
 * BRANCH_VERIFY_FAILED, nothing changed, when it differs), then the default branch is restored
 * from it; the state it replaces is kept as a `pre-restore-…` branch.
 */
export async function promoteBranch(sc: Scope, branchId: string, expect: TableCounts = {}): Promise<{ main: BranchView; preserved: BranchView; promoted: Verification; ms: number }> {
  const branch = await findBranch(sc, branchId);
  if (branch.default) throw new AppError(422, 'BRANCH_IS_MAIN', 'the default branch is the live data already');
  const promoted = await verifyBranch(sc, branch.id, expect, branch);
  if (!promoted.ok) throw new AppError(409, 'BRANCH_VERIFY_FAILED', `the branch differs from what was expected: ${JSON.stringify(promoted.mismatches).slice(0, 300)}`);
  const t0 = Date.now();
  const { main, preserved } = await neon(() => sc.api.promote(sc.projectId, branch.id, preservedName(new Date())));
  return { main, preserved, promoted, ms: Date.now() - t0 };
}

/** Deletes a restore or preserved branch. */
export async function discardBranch(sc: Scope, branchId: string): Promise<BranchView> {
  const branch = await findBranch(sc, branchId);
  if (branch.default) throw new AppError(422, 'BRANCH_IS_MAIN', 'the default branch holds the live data and cannot be discarded');
  const children = (await listBranches(sc)).filter((b) => b.parentId === branch.id);
  if (children.length > 0) throw new AppError(409, 'BRANCH_HAS_CHILDREN', `discard its children first: ${children.map((c) => c.id).join(', ')}`);
  await neon(() => sc.api.discard(sc.projectId, branch.id));
  return branch;
}

async function findBranch(sc: Scope, branchId: string): Promise<BranchView> {
  const branch = (await listBranches(sc)).find((b) => b.id === branchId);
  if (!branch) throw new AppError(404, 'NOT_FOUND', 'no such branch in the tenant\'s project');
  return branch;
}

/** Neon's 4xx refusals of a request become `refusal` (422) with Neon's message; failures 503. */
async function neon<T>(fn: () => Promise<T>, refusal?: 'BRANCH_POINT_INVALID'): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof NeonApiError) {
      if (refusal && err.status === 400) throw new AppError(422, refusal, err.message);
      throw new AppError(503, 'UPSTREAM_UNAVAILABLE', err.message);
    }
    if (err instanceof RangeError) throw new AppError(422, 'BRANCH_IS_MAIN', err.message);
    if (err instanceof AppError) throw err;
    // An operation that failed or never finished, a branch that cannot be reached: Neon's side, not the caller's.
    console.error(JSON.stringify({ level: 'error', msg: 'neon branch call failed', error: String((err as Error)?.message ?? err).slice(0, 300) }));
    throw new AppError(503, 'UPSTREAM_UNAVAILABLE', 'Neon did not complete the branch operation; retry', { 'Retry-After': '30' });
  }
}
