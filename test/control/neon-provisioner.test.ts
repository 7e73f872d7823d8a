/**
 * PROVISIONER=neon end to end through the control worker (in process, test/control/in-process.ts)
 * and the router (SELF) against the Neon API stand-in: a database tenant gets a project of its own
 * in its region and the configured organisation, and the router serves its API from that project's
 * database; row and schema tenants go to the region's shared project, which is checked through the
 * API first; deleting the database tenant deletes its project and database. The configuration is
 * refused without the Neon variables, naming the one missing.
 */
import { describe, expect, it } from 'vitest';
import { parseControlConfig, type ControlEnv } from '../../src/control/env.js';
import { tenantIdent } from '../../src/provisioning/provisioner.js';
import { call as viaRouter, postJson, sqlAt, stack, unique } from '../support/helpers.js';
import { tokenFor } from '../support/control.js';
import { call, controlEnv } from './in-process.js';

const EU = 'aws-eu-central-1';
const api = stack.neonApi;
const hooks = new URL(api.url).origin;
const neonEnv = (over: Partial<ControlEnv> = {}) => controlEnv({
  PROVISIONER: 'neon', NEON_API_KEY: api.apiKey, NEON_API_URL: api.url, NEON_ORG_ID: api.orgId,
  NEON_REGION_PROJECTS: JSON.stringify(api.regionProjects), ...over,
});

interface LogEntry { method: string; path: string; query: string; status: number }
const apiLog = async (): Promise<LogEntry[]> => ((await (await fetch(`${hooks}/_test/log`)).json()) as { entries: LogEntry[] }).entries;
const neon = (path: string) => fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${api.apiKey}` } });

async function create(env: ControlEnv, tier: string): Promise<{ id: string; slug: string; isolation: string; status: string }> {
  const res = await call(env, '/admin/v1/tenants', { method: 'POST', json: { slug: unique('neon-'), tier, region: EU, residency: 'EU' } });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json() as Promise<{ id: string; slug: string; isolation: string; status: string }>;
}

describe('PROVISIONER=neon through the control worker', () => {
  it('a database tenant gets its own project in its region and organisation, the router serves it from there, and delete removes it', async () => {
    const env = neonEnv();
    const t = await create(env, 'ENTERPRISE');
    expect(t).toMatchObject({ isolation: 'database', status: 'active' });

    const listed = await (await neon(`/projects?org_id=${api.orgId}&search=tenant-${t.id}&limit=10`)).json() as { projects: { id: string; name: string; region_id: string; org_id?: string }[] };
    expect(listed.projects).toEqual([expect.objectContaining({ name: `tenant-${t.id}`, region_id: EU, org_id: api.orgId })]);
    const projectId = listed.projects[0]!.id;
    const [placement] = await sqlAt(stack.control.postgresUrl).query('SELECT external_ref, database_name FROM tenant_placements WHERE tenant_id = $1', [t.id]);
    expect(placement).toEqual({ external_ref: projectId, database_name: tenantIdent(t.id) });

    const token = await tokenFor(t.id);
    const host = `${t.slug}.localhost`;
    const wrote = await postJson(host, '/api/v1/tracks', { title: 'On Neon', artist: 'Band', durationMs: 1000 }, token);
    expect(wrote.status).toBe(201);
    const read = await viaRouter(host, '/api/v1/tracks', { token });
    expect(read.status).toBe(200);
    expect(JSON.stringify(await read.json())).toContain('On Neon');
    // The row is in the project's own database, not in the region's shared one.
    const ownRows = await sqlAt(withDb(stack.regions[EU]!.adminUrl, tenantIdent(t.id))).query('SELECT title FROM tracks');
    expect(ownRows).toEqual([{ title: 'On Neon' }]);

    const del = await call(env, `/admin/v1/tenants/${t.id}?confirm=${t.slug}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    expect((await neon(`/projects/${projectId}`)).status).toBe(404);
    expect(await sqlAt(stack.regions[EU]!.adminUrl).query('SELECT 1 FROM pg_database WHERE datname = $1', [tenantIdent(t.id)])).toEqual([]);
  });

  it("row and schema tenants go to the region's shared project, which the provisioner checks through the API", async () => {
    const env = neonEnv();
    const mark = (await apiLog()).length;
    const row = await create(env, 'STANDARD');
    const schema = await create(env, 'PREMIUM');
    expect([row.isolation, schema.isolation]).toEqual(['row', 'schema']);
    const calls = (await apiLog()).slice(mark).map((e) => `${e.method} ${e.path} ${e.status}`);
    // One look at the shared project per region and isolate, and no project made for either tenant.
    expect(calls).toEqual([`GET /projects/${api.regionProjects[EU]} 200`]);
    const shared = await sqlAt(stack.regions[EU]!.postgresUrl).query('SELECT nspname FROM pg_namespace WHERE nspname = $1', [tenantIdent(schema.id)]);
    expect(shared).toEqual([{ nspname: tenantIdent(schema.id) }]);
  });

  it('a shared project that does not exist fails provisioning with a sentence naming it', async () => {
    const env = neonEnv({ NEON_REGION_PROJECTS: JSON.stringify({ ...api.regionProjects, [EU]: 'no-such-project-000000' }) });
    const res = await call(env, '/admin/v1/tenants', { method: 'POST', json: { slug: unique('neon-'), tier: 'STANDARD', region: EU, residency: 'EU' } });
    expect(res.status).toBe(503);
    const body = await res.json() as { error: { code: string } };
    expect(body.error.code).toBe('PROVISIONING_FAILED');
  });

  it('an organisation the key does not belong to is refused by the API as Neon refuses it', async () => {
    const res = await fetch(`${api.url}/projects`, {
      method: 'POST', headers: { authorization: `Bearer ${api.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ project: { name: 'x', region_id: EU, org_id: 'org-unknown-00000000' } }),
    });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ message: 'organization not found' });
  });

  it.each([
    [{ NEON_ORG_ID: undefined }, 'NEON_ORG_ID: NEON_ORG_ID is required with PROVISIONER=neon'],
    [{ NEON_REGION_PROJECTS: undefined }, 'NEON_REGION_PROJECTS: NEON_REGION_PROJECTS is required with PROVISIONER=neon'],
    [{ NEON_REGION_PROJECTS: JSON.stringify({ [EU]: api.regionProjects[EU] }) }, 'NEON_REGION_PROJECTS: NEON_REGION_PROJECTS must name a project for every region of REGION_ADMIN_URLS'],
    [{ NEON_REGION_PROJECTS: '[1]' }, 'NEON_REGION_PROJECTS: must be a JSON object of region → Neon project id'],
  ])('PROVISIONER=neon is refused with %j', (over, message) => {
    expect(() => parseControlConfig(neonEnv(over as Partial<ControlEnv>))).toThrow(message);
  });
});

function withDb(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}
