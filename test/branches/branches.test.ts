/**
 * Point-in-time restore of a `database` tenant through Neon branches, end to end: the control
 * worker (in process, PROVISIONER=neon, projects keeping an hour of history) against the Neon API
 * stand-in, whose projects with history have clusters of their own and recover WAL for real
 * (test/harness/neon-compute.ts), and the router (SELF) serving the tenant throughout.
 * Rows are written, T noted, more written and deleted; the branch at T holds exactly the rows of
 * T; promotion makes the router serve them behind the same connection string; the replaced state
 * is kept as a branch until discarded; deleting the tenant leaves no branch and no cluster.
 */
import { describe, expect, it } from 'vitest';
import type { ControlEnv } from '../../src/control/env.js';
import { tenantIdent } from '../../src/provisioning/provisioner.js';
import { call as viaRouter, postJson, sqlAt, stack, unique } from '../support/helpers.js';
import { tokenFor } from '../support/control.js';
import { call, controlEnv } from '../control/in-process.js';

const EU = 'aws-eu-central-1';
const api = stack.neonApi;
const hooks = new URL(api.url).origin;
const env = controlEnv({
  PROVISIONER: 'neon', NEON_API_KEY: api.apiKey, NEON_API_URL: api.url, NEON_ORG_ID: api.orgId,
  NEON_REGION_PROJECTS: JSON.stringify(api.regionProjects), NEON_HISTORY_RETENTION_SECONDS: '3600',
} satisfies Partial<ControlEnv>);

interface BranchOut { id: string; name: string; kind: string; default: boolean; parentId: string | null; parentTimestamp: string | null }
interface Verification { branch: BranchOut; tables: Record<string, number>; mismatches: unknown[]; ok: boolean; ms?: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const neon = (path: string) => fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${api.apiKey}` } });
const computes = async () => ((await (await fetch(`${hooks}/_test/computes`)).json()) as { computes: { projectId: string; branchId: string; running: boolean }[] }).computes;

async function createTenant(tier: string): Promise<{ id: string; slug: string }> {
  const res = await call(env, '/admin/v1/tenants', { method: 'POST', json: { slug: unique('br-'), tier, region: EU, residency: 'EU' } });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json() as Promise<{ id: string; slug: string }>;
}

/** The titles the router serves the tenant, sorted. */
async function served(host: string, token: string): Promise<string[]> {
  const res = await viaRouter(host, '/api/v1/tracks?limit=100', { token });
  expect(res.status).toBe(200);
  return ((await res.json()) as { tracks: { title: string }[] }).tracks.map((t) => t.title).sort();
}

/** The titles in a branch of the tenant's project, read as its owner (as the tenant: row security is forced) through the branch's own endpoint. */
async function titlesIn(projectId: string, branchId: string, ident: string, tenantId: string): Promise<string[]> {
  const res = await neon(`/projects/${projectId}/connection_uri?branch_id=${branchId}&database_name=${ident}&role_name=${ident}`);
  expect(res.status).toBe(200);
  const { uri } = (await res.json()) as { uri: string };
  const sql = sqlAt(uri);
  const [, rows] = await sql.transaction([sql.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]), sql.query('SELECT title FROM tracks')]);
  return (rows as { title: string }[]).map((r) => r.title).sort();
}

const branchesOf = async (id: string) => {
  const res = await call(env, `/admin/v1/tenants/${id}/branches`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { branches: BranchOut[] }).branches;
};

describe('point-in-time restore of a database tenant through Neon branches', () => {
  it('branches at T, verifies, promotes behind the same endpoint, keeps the replaced state until discarded, and leaves nothing when the tenant goes', async () => {
    const t = await createTenant('ENTERPRISE');
    const ident = tenantIdent(t.id);
    const token = await tokenFor(t.id);
    const host = `${t.slug}.localhost`;
    const [placement] = await sqlAt(stack.control.postgresUrl).query('SELECT external_ref FROM tenant_placements WHERE tenant_id = $1', [t.id]);
    const projectId = placement!.external_ref as string;
    const project = (await (await neon(`/projects/${projectId}`)).json()) as { project: { history_retention_seconds: number } };
    expect(project.project.history_retention_seconds).toBe(3600);

    const ids: Record<string, string> = {};
    for (const title of ['a', 'b', 'c']) {
      const res = await postJson(host, '/api/v1/tracks', { title, artist: 'x', durationMs: 1000 }, token);
      expect(res.status).toBe(201);
      ids[title] = ((await res.json()) as { track: { id: string } }).track.id;
    }
    await sleep(50);
    // T as the databases' clock reads it (workerd's clock only moves with I/O).
    const [{ now }] = await sqlAt(stack.control.postgresUrl).query('SELECT clock_timestamp() AS now') as [{ now: string }];
    const at = new Date(now).toISOString();
    console.log(`[branches] T=${at} workerd=${new Date().toISOString()}`);
    await sleep(50);
    for (const title of ['d', 'e']) expect((await postJson(host, '/api/v1/tracks', { title, artist: 'x', durationMs: 1000 }, token)).status).toBe(201);
    expect((await viaRouter(host, `/api/v1/tracks/${ids.a}`, { method: 'DELETE', token })).status).toBe(204);
    expect(await served(host, token)).toEqual(['b', 'c', 'd', 'e']);

    // Out of range: in the future, or before the project's history window.
    for (const bad of [new Date(Date.now() + 60_000), new Date(Date.now() - 7_200_000)]) {
      const res = await call(env, `/admin/v1/tenants/${t.id}/branches`, { method: 'POST', json: { at: bad.toISOString() } });
      expect(res.status).toBe(422);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BRANCH_POINT_INVALID');
    }

    const t0 = Date.now();
    const made = await call(env, `/admin/v1/tenants/${t.id}/branches`, { method: 'POST', json: { at, expect: { tracks: 3 } } });
    expect(made.status, await made.clone().text()).toBe(201);
    const branch = (await made.json()) as Verification;
    const branchMs = Date.now() - t0;
    expect(branch).toMatchObject({ ok: true, mismatches: [], branch: { kind: 'restore', default: false } });
    expect(branch.tables).toMatchObject({ tracks: 3 });
    expect(branch.branch.name).toMatch(/^restore-\d{8}T\d{9}Z$/);
    // Exactly the rows of T, in the branch's own database; main is untouched.
    expect(await titlesIn(projectId, branch.branch.id, ident, t.id)).toEqual(['a', 'b', 'c']);
    expect(await served(host, token)).toEqual(['b', 'c', 'd', 'e']);

    // A promotion whose expectation is not met changes nothing.
    const refused = await call(env, `/admin/v1/tenants/${t.id}/branches/${branch.branch.id}/promote`, { method: 'POST', json: { expect: { tracks: 4 } } });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('BRANCH_VERIFY_FAILED');
    expect(await served(host, token)).toEqual(['b', 'c', 'd', 'e']);

    const t1 = Date.now();
    const promoted = await call(env, `/admin/v1/tenants/${t.id}/branches/${branch.branch.id}/promote`, { method: 'POST', json: { expect: { tracks: 3 } } });
    expect(promoted.status, await promoted.clone().text()).toBe(200);
    const promotion = (await promoted.json()) as { main: BranchOut; preserved: BranchOut; ms: number };
    const promoteMs = Date.now() - t1;
    expect(promotion.preserved).toMatchObject({ kind: 'preserved', default: false });
    expect(promotion.preserved.name).toMatch(/^pre-restore-\d{8}T\d{9}Z$/);
    // The router serves the state of T through the connection string it had: nothing re-sealed.
    expect(await served(host, token)).toEqual(['a', 'b', 'c']);
    const [after] = await sqlAt(stack.control.postgresUrl).query('SELECT external_ref FROM tenant_placements WHERE tenant_id = $1', [t.id]);
    expect(after!.external_ref).toBe(projectId);
    expect((await postJson(host, '/api/v1/tracks', { title: 'f', artist: 'x', durationMs: 1 }, token)).status).toBe(201);
    expect(await served(host, token)).toEqual(['a', 'b', 'c', 'f']);
    console.log(`[branches] RTO: branch at T ${branchMs} ms (Neon ${branch.ms} ms) + promote ${promoteMs} ms (Neon ${promotion.ms} ms) = ${branchMs + promoteMs} ms`);

    // Which branches exist and why: main, the restore branch (now the preserved state's child), the preserved state.
    const listed = await branchesOf(t.id);
    expect(listed.map((b) => b.kind)).toEqual(['main', 'restore', 'preserved']);
    expect(listed.find((b) => b.kind === 'restore')!.parentId).toBe(promotion.preserved.id);
    // The preserved branch holds the pre-restore state.
    const kept = await call(env, `/admin/v1/tenants/${t.id}/branches/${promotion.preserved.id}/verify`, { method: 'POST', json: { expect: { tracks: 4 } } });
    expect(kept.status).toBe(200);
    expect(await kept.json()).toMatchObject({ ok: true, tables: { tracks: 4 } });
    expect(await titlesIn(projectId, promotion.preserved.id, ident, t.id)).toEqual(['b', 'c', 'd', 'e']);

    // Discard: never main, children first.
    const main = listed.find((b) => b.default)!;
    const mainRefused = await call(env, `/admin/v1/tenants/${t.id}/branches/${main.id}`, { method: 'DELETE' });
    expect(mainRefused.status).toBe(422);
    expect(((await mainRefused.json()) as { error: { code: string } }).error.code).toBe('BRANCH_IS_MAIN');
    const parentRefused = await call(env, `/admin/v1/tenants/${t.id}/branches/${promotion.preserved.id}`, { method: 'DELETE' });
    expect(parentRefused.status).toBe(409);
    expect(((await parentRefused.json()) as { error: { code: string } }).error.code).toBe('BRANCH_HAS_CHILDREN');
    expect((await call(env, `/admin/v1/tenants/${t.id}/branches/${branch.branch.id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await call(env, `/admin/v1/tenants/${t.id}/branches/${promotion.preserved.id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await branchesOf(t.id)).map((b) => b.kind)).toEqual(['main']);
    expect((await computes()).filter((c) => c.projectId === projectId).map((c) => c.branchId)).toEqual([main.id]);
    expect(await served(host, token)).toEqual(['a', 'b', 'c', 'f']);

    const actions = (await sqlAt(stack.control.postgresUrl).query('SELECT action FROM audit_log WHERE tenant_id = $1 AND action LIKE $2 ORDER BY seq', [t.id, 'tenant.branch%'])).map((r) => r.action);
    expect(actions).toEqual(expect.arrayContaining(['tenant.branch.create', 'tenant.branch.promote', 'tenant.branch.verify', 'tenant.branch.discard']));

    // A branch left behind goes with the tenant: its project, every branch and every cluster.
    const left = await call(env, `/admin/v1/tenants/${t.id}/branches`, { method: 'POST', json: { at: new Date().toISOString() } });
    expect(left.status).toBe(201);
    const del = await call(env, `/admin/v1/tenants/${t.id}?confirm=${t.slug}`, { method: 'DELETE' });
    expect(del.status, await del.clone().text()).toBe(200);
    expect((await neon(`/projects/${projectId}`)).status).toBe(404);
    expect((await neon(`/projects/${projectId}/branches`)).status).toBe(404);
    expect((await computes()).filter((c) => c.projectId === projectId)).toEqual([]);
  });

  it('refuses branches for shared-database tenants and without PROVISIONER=neon', async () => {
    const row = await createTenant('STANDARD');
    const res = await call(env, `/admin/v1/tenants/${row.id}/branches`, { method: 'POST', json: { at: new Date().toISOString() } });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('BRANCHES_NOT_SUPPORTED');
    const local = await call(controlEnv(), `/admin/v1/tenants/${row.id}/branches`);
    expect(local.status).toBe(422);
    expect(((await local.json()) as { error: { code: string } }).error.code).toBe('BRANCHES_NOT_SUPPORTED');
    const badId = await call(env, `/admin/v1/tenants/${row.id}/branches/not-a-branch`, { method: 'DELETE' });
    expect(badId.status).toBe(400);
  });
});
