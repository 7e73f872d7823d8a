/** `tenant branch create|list|verify|promote|discard`: point-in-time restore of a database tenant through Neon branches (src/branches/, docs/branches.md). */
import { str, strs, UsageError, type Args, type Command } from './command.js';
import { keyValues, table } from './format.js';
import type { BranchVerification, BranchView } from './client.js';

const EXPECT = { type: 'string' as const, arg: 'TABLE=N', multiple: true, help: 'rows the table must hold (repeatable); a difference is reported, and refuses a promotion' };

/** `--expect tracks=3 --expect albums=0` → { tracks: 3, albums: 0 }. */
export function expectations(a: Args): Record<string, number> | undefined {
  const given = strs(a, 'expect');
  if (given.length === 0) return undefined;
  const out: Record<string, number> = {};
  for (const e of given) {
    const m = /^([A-Za-z_][A-Za-z0-9_]{0,62})=(\d{1,15})$/.exec(e);
    if (!m) throw new UsageError(`--expect takes TABLE=N, not ${e}`);
    out[m[1]!] = Number(m[2]);
  }
  return out;
}

const counts = (v: BranchVerification) => table(['table', 'rows', 'expected'],
  Object.entries(v.tables).map(([t, n]) => [t, String(n), String(v.mismatches.find((m) => m.table === t)?.expected ?? '')])
    .concat(v.mismatches.filter((m) => m.actual === null).map((m) => [m.table, 'missing', String(m.expected)])));
const describe = (b: BranchView) => `${b.id} (${b.name}, ${b.kind})`;

const create: Command = {
  name: 'tenant branch create', args: '<id|slug>', arity: [1, 1],
  summary: "Branch a database tenant's data at a point in time, and count its rows",
  details: 'The branch gets its own endpoint; the live data is untouched. Promote it to restore, discard it otherwise. Exit 1 when --expect is not met.',
  options: { at: { type: 'string', arg: 'T', required: true, help: 'the point in time, ISO 8601 (e.g. 2026-12-03T12:00:00Z)' }, expect: EXPECT },
  examples: ['tenant branch create acme --at 2026-12-03T12:00:00Z', 'tenant branch create acme --at 2026-12-03T12:00:00Z --expect tracks=120'],
  async run(ctx, a) {
    const at = str(a, 'at')!;
    if (!Number.isFinite(Date.parse(at))) throw new UsageError('--at must be an ISO 8601 timestamp');
    const r = await ctx.client().createBranch(a.positionals[0]!, { at: new Date(at).toISOString(), expect: expectations(a) });
    ctx.out.result(r, () => [...keyValues([['branch', describe(r.branch)], ['at', r.branch.parentTimestamp ?? at], ['made in', `${r.ms} ms`], ['verified', r.ok ? 'yes' : 'NO']]), '', ...counts(r)]);
    return r.ok ? 0 : 1;
  },
};

const list: Command = {
  name: 'tenant branch list', args: '<id|slug>', arity: [1, 1], summary: "The branches of a database tenant's Neon project, main first",
  examples: ['tenant branch list acme'],
  async run(ctx, a) {
    const r = await ctx.client().listBranches(a.positionals[0]!);
    ctx.out.result(r, () => table(['id', 'name', 'kind', 'parent', 'at', 'created'],
      r.branches.map((b) => [b.id, b.name, b.kind, b.parentId ?? '', b.parentTimestamp ?? '', b.createdAt])));
    return 0;
  },
};

const verify: Command = {
  name: 'tenant branch verify', args: '<id|slug> <branch-id>', arity: [2, 2], summary: 'Count the rows per table of a branch; exit 1 when --expect is not met',
  options: { expect: EXPECT },
  examples: ['tenant branch verify acme br-quiet-lake-1a2b3c4d --expect tracks=120'],
  async run(ctx, a) {
    const r = await ctx.client().verifyBranch(a.positionals[0]!, a.positionals[1]!, { expect: expectations(a) });
    ctx.out.result(r, () => [...keyValues([['branch', describe(r.branch)], ['verified', r.ok ? 'yes' : 'NO']]), '', ...counts(r)]);
    return r.ok ? 0 : 1;
  },
};

const promote: Command = {
  name: 'tenant branch promote', args: '<id|slug> <branch-id>', arity: [2, 2],
  summary: "Make a branch the tenant's live data (main restored from it); the replaced state is kept as a pre-restore branch",
  details: 'Verified first: with --expect, a difference refuses the promotion (409 BRANCH_VERIFY_FAILED) and nothing changes. '
    + 'The tenant keeps its endpoint and connection string; requests in flight during the switch may fail once.',
  options: { expect: EXPECT },
  examples: ['tenant branch promote acme br-quiet-lake-1a2b3c4d --expect tracks=120'],
  async run(ctx, a) {
    const r = await ctx.client().promoteBranch(a.positionals[0]!, a.positionals[1]!, { expect: expectations(a) });
    ctx.out.result(r, () => keyValues([['promoted', describe(r.promoted.branch)], ['previous state kept as', describe(r.preserved)], ['restored in', `${r.ms} ms`]]));
    return 0;
  },
};

const discard: Command = {
  name: 'tenant branch discard', args: '<id|slug> <branch-id>', arity: [2, 2], summary: 'Delete a restore branch or a preserved state (never main; children first)',
  examples: ['tenant branch discard acme br-quiet-lake-1a2b3c4d'],
  async run(ctx, a) {
    const r = await ctx.client().discardBranch(a.positionals[0]!, a.positionals[1]!);
    ctx.out.result(r, () => keyValues([['discarded', describe(r.discarded)]]));
    return 0;
  },
};

const migrate: Command = {
  name: 'tenant branch migrate', args: '<id|slug>', arity: [1, 1],
  summary: "Blue-green migration of a database tenant: the catalogue applied on a branch, verified, then promoted",
  details: "The tenant's writes are refused (503 TENANT_MIGRATING) from the branch point to the promotion; reads go on. "
    + 'A migration that fails on the branch never reaches the live data (409 MIGRATION_FAILED, the branch discarded). '
    + 'The state before is kept as a pre-restore branch: promote it to roll back.',
  examples: ['tenant branch migrate acme'],
  async run(ctx, a) {
    const r = await ctx.client().migrateOnBranch(a.positionals[0]!);
    ctx.out.result(r, () => keyValues([
      ['applied', r.applied.length ? r.applied.join(', ') : 'nothing (already current)'],
      ...(r.preserved ? [['previous state kept as', describe(r.preserved)] as [string, string]] : []),
      ['writes paused', `${r.fenceMs} ms`],
    ]));
    return 0;
  },
};

export const tenantBranchCommands: Command[] = [create, list, verify, promote, discard, migrate];
