/**
 * Blue-green migration of a `database` tenant on Neon (src/branches/blue-green.ts), end to end
 * against the Neon API stand-in (real WAL recovery for projects with history) and the router:
 * writers run throughout; a migration is applied on a branch made under the write fence, verified
 * and promoted, so main has the new column and every acknowledged write, and the state before is
 * kept as a branch; a migration that fails on its branch never reaches main, whose rows and
 * writes go on. The migrations are given to the function directly: the catalogue is shared by
 * every test's tenants, and a broken entry there would break them all.
 */
import { describe, expect, it } from 'vitest';
import type { ControlEnv } from '../../src/control/env.js';
import { AppError } from '../../src/errors.js';
import { blueGreenMigrate } from '../../src/branches/blue-green.js';
import { loadCatalogue } from '../../src/control/migration-catalog.js';
import { requireTenant } from '../../src/control/lifecycle.js';
import { tenantIdent } from '../../src/provisioning/provisioner.js';
import { postJson, sqlAt, stack, unique } from '../support/helpers.js';
import { tokenFor } from '../support/control.js';
import { call, controlEnv, servicesFor } from '../control/in-process.js';

const EU = 'aws-eu-central-1';
const api = stack.neonApi;
const env = controlEnv({
  PROVISIONER: 'neon', NEON_API_KEY: api.apiKey, NEON_API_URL: api.url, NEON_ORG_ID: api.orgId,
  NEON_REGION_PROJECTS: JSON.stringify(api.regionProjects), NEON_HISTORY_RETENTION_SECONDS: '3600',
} satisfies Partial<ControlEnv>);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const neon = (path: string) => fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${api.apiKey}` } });

/** Rows (titles) and columns of main's tracks, read as the owner acting as the tenant. */
async function mainState(projectId: string, tenantId: string): Promise<{ titles: string[]; columns: string[]; ledger: string[] }> {
  const ident = tenantIdent(tenantId);
  const { uri } = (await (await neon(`/projects/${projectId}/connection_uri?database_name=${ident}&role_name=${ident}`)).json()) as { uri: string };
  const sql = sqlAt(uri);
  const [, rows, cols, ledger] = await sql.transaction([
    sql.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]),
    sql.query('SELECT title FROM tracks'),
    sql.query("SELECT column_name AS c FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'tracks'"),
    sql.query('SELECT name FROM public.schema_migrations ORDER BY name'),
  ]);
  return {
    titles: (rows as { title: string }[]).map((r) => r.title).sort(),
    columns: (cols as { c: string }[]).map((r) => r.c).sort(),
    ledger: (ledger as { name: string }[]).map((r) => r.name),
  };
}

/** Writers through the router until `stop()`: the titles answered 201, and anything but 201 / 503 TENANT_MIGRATING. */
function writers(host: string, token: string, stop: () => boolean) {
  const acknowledged: string[] = [];
  const unexpected: string[] = [];
  let refused = 0;
  let n = 0;
  const one = async (w: number) => {
    while (!stop()) {
      const title = `bg${w}-${++n}`;
      const res = await postJson(host, '/api/v1/tracks', { title, artist: 'x', durationMs: 1 }, token);
      const body = await res.text();
      if (res.status === 201) acknowledged.push(title);
      else if (res.status === 503 && body.includes('"TENANT_MIGRATING"')) { refused++; await sleep(50); }
      else if (res.status === 503 && body.includes('"UPSTREAM_UNAVAILABLE"')) { await sleep(50); } // the promotion restarts the compute
      else unexpected.push(`${res.status} ${body.slice(0, 200)}`);
    }
  };
  return { acknowledged, unexpected, refused: () => refused, done: Promise.all([one(1), one(2)]) };
}

describe('blue-green migration of a database tenant through a Neon branch', () => {
  it('applies on a branch, verifies, promotes: main gets the column and every acknowledged write; a failing migration never reaches main', async () => {
    const res = await call(env, '/admin/v1/tenants', { method: 'POST', json: { slug: unique('bg-'), tier: 'ENTERPRISE', region: EU, residency: 'EU' } });
    expect(res.status, await res.clone().text()).toBe(201);
    const t = await res.json() as { id: string; slug: string };
    const host = `${t.slug}.localhost`;
    const token = await tokenFor(t.id);
    const [placement] = await sqlAt(stack.control.postgresUrl).query('SELECT external_ref FROM tenant_placements WHERE tenant_id = $1', [t.id]);
    const projectId = placement!.external_ref as string;
    const s = await servicesFor(env);
    const catalogue = await loadCatalogue(s.sql);
    const column = { name: '9901_bg_note.sql', sql: 'ALTER TABLE tracks ADD COLUMN bg_note text' };

    let stopped = false;
    const load = writers(host, token, () => stopped);
    await sleep(1_000);
    const report = await blueGreenMigrate(s, await requireTenant(s, t.id), [...catalogue, column]);
    await sleep(1_000);
    stopped = true;
    await load.done;
    expect(load.unexpected).toEqual([]);
    expect(report.applied).toEqual(['9901_bg_note.sql']);
    expect(report.preserved?.kind).toBe('preserved');
    const after = await mainState(projectId, t.id);
    expect(after.columns).toContain('bg_note');
    expect(after.ledger).toContain('9901_bg_note.sql');
    // Every write answered 201 is in main exactly once: none was lost between the branch point and the promotion.
    expect(after.titles).toEqual([...load.acknowledged].sort());
    console.log(JSON.stringify({ blueGreen: { fenceMs: report.fenceMs, acknowledged: load.acknowledged.length, refused: load.refused() } }));

    // A migration that fails on its branch: refused, main unchanged, the branch gone, writes go on.
    const broken = { name: '9902_broken.sql', sql: 'ALTER TABLE tracks ADD COLUMN bg_other text; SELECT no_such_function()' };
    const err = await blueGreenMigrate(s, await requireTenant(s, t.id), [...catalogue, column, broken]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect([(err as AppError).status, (err as AppError).code]).toEqual([409, 'MIGRATION_FAILED']);
    const still = await mainState(projectId, t.id);
    expect(still.columns).not.toContain('bg_other');
    expect(still.ledger).not.toContain('9902_broken.sql');
    expect(still.titles).toEqual(after.titles);
    const branches = ((await (await call(env, `/admin/v1/tenants/${t.id}/branches`)).json()) as { branches: { kind: string }[] }).branches;
    expect(branches.filter((b) => b.kind === 'migration')).toEqual([]);
    expect((await postJson(host, '/api/v1/tracks', { title: 'after', artist: 'x', durationMs: 1 }, token)).status).toBe(201);

    // Nothing is left when the tenant goes.
    expect((await call(env, `/admin/v1/tenants/${t.id}?confirm=${t.slug}`, { method: 'DELETE' })).status).toBe(200);
  }, 180_000);
});
