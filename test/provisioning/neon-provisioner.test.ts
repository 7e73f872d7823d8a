/**
 * NeonProvisioner in workerd against the local stand-in for Neon's API (test/harness/neon-api.ts),
 * which creates real roles and databases on the regional clusters: what a `database` tenant gets,
 * that provisioning is resumable and never makes a second project, that operations are awaited and
 * 429/423 retried, and that `row`/`schema` tenants stay in the region's shared database.
 */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { importMasterKey, open, seal, type MasterKeys } from '../../src/crypto/secret-box.js';
import { TenantDataRouter } from '../../src/data/tenant-db.js';
import { NeonProvisioner, type NeonProvisionerOptions } from '../../src/provisioning/neon-provisioner.js';
import { tenantIdent, withDatabase, type Placement } from '../../src/provisioning/provisioner.js';
import { runtimeRoleName } from '../../src/provisioning/runtime-role.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { sqlAt, stack } from '../support/helpers.js';

const US = 'aws-us-east-2';
const EU = 'aws-eu-central-1';
// The router's role in the shared databases (the stack's bootstrap makes it: src/bootstrap/).
const ROUTER_ROLE = 'app_router';
const TRACKS = { name: '0001_tracks.sql', sql: 'CREATE TABLE tracks (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), title text NOT NULL);' };
const ARTISTS = { name: '0002_artists.sql', sql: 'CREATE TABLE artists (id bigint PRIMARY KEY, name text NOT NULL);' };
const RLS_TRACKS = { name: '0001_tracks.sql', sql: `CREATE TABLE tracks (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL, title text NOT NULL);
  ALTER TABLE tracks ENABLE ROW LEVEL SECURITY; ALTER TABLE tracks FORCE ROW LEVEL SECURITY;
  CREATE POLICY own ON tracks USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);` };
const BROKEN = { name: '0002_artists.sql', sql: 'CREATE TABLE artists (id bigint PRIMARY KEY); SELECT no_such_function();' };

interface LogEntry { seq: number; method: string; path: string; query: string; status: number; operationStatus?: string }

const neonApi = stack.neonApi;
const hooks = new URL(neonApi.url).origin;
const sleeps: number[] = [];
let masterKey: MasterKeys;

beforeAll(async () => { masterKey = await importMasterKey(stack.routerEnv.MASTER_KEY!); });

function provisioner(extra: Partial<NeonProvisionerOptions> = {}): NeonProvisioner {
  return new NeonProvisioner({
    apiKey: neonApi.apiKey, baseUrl: neonApi.url, masterKey, routerRole: ROUTER_ROLE, pollIntervalMs: 20,
    regions: Object.fromEntries(Object.entries(stack.regions).map(([r, x]) => [r, { adminUrl: x.postgresUrl }])),
    // Records the waits asked for, and waits a token amount so the suite stays fast.
    sleep: (ms) => { sleeps.push(ms); return new Promise((r) => setTimeout(r, 5)); },
    ...extra,
  });
}

const newTenant = () => { const id = crypto.randomUUID(); return { id, ident: tenantIdent(id) }; };
const dbRequest = (tenantId: string, region = EU, migrations = [TRACKS]) => ({ tenantId, region, isolation: 'database' as const, migrations });

/** Every API request the stand-in has answered so far. */
async function apiLog(): Promise<LogEntry[]> {
  return ((await (await fetch(`${hooks}/_test/log`)).json()) as { entries: LogEntry[] }).entries;
}

/** Runs `fn` and returns the API requests it made. */
async function requestsOf(fn: () => Promise<unknown>): Promise<LogEntry[]> {
  const mark = (await apiLog()).length;
  await fn();
  return (await apiLog()).slice(mark);
}

/** The error `p` rejects with. */
async function failure(p: Promise<unknown>): Promise<Error> {
  try { await p; } catch (err) { return err as Error; }
  throw new Error('expected a failure');
}

async function hook(path: string, body: unknown): Promise<void> {
  const res = await fetch(`${hooks}/_test/${path}`, { method: 'POST', body: JSON.stringify(body) });
  expect(res.status).toBe(200);
}

/** Calls Neon's API (the stand-in) directly, as an operator would. */
function neon(path: string): Promise<Response> {
  return fetch(`${neonApi.url}${path}`, { headers: { authorization: `Bearer ${neonApi.apiKey}` } });
}

async function projectsNamed(tenantId: string): Promise<{ id: string; name: string; region_id: string }[]> {
  const res = await neon(`/projects?search=tenant-${tenantId}&limit=400`);
  return ((await res.json()) as { projects: { id: string; name: string; region_id: string }[] }).projects;
}

const databaseExists = async (region: string, name: string) =>
  (await sqlAt(stack.regions[region]!.adminUrl).query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).length === 1;
const roleExists = async (region: string, name: string) =>
  (await sqlAt(stack.regions[region]!.adminUrl).query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name])).length === 1;
const appliedIn = async (region: string, db: string) =>
  (await sqlAt(withDatabase(stack.regions[region]!.adminUrl, db)).query('SELECT name FROM public.schema_migrations ORDER BY name')).map((r) => r.name);

describe('NeonProvisioner: database tenants', () => {
  it('creates a Neon project in the tenant region with a real database, migrations applied, and the URI only sealed', async () => {
    const { id, ident } = newTenant();
    const fetchSpy = vi.spyOn(globalThis, 'fetch');
    let placement: Placement;
    try {
      placement = await provisioner().provision(dbRequest(id));
      // The API client went through workerd's fetch (axios's fetch adapter), not a Node http module.
      const apiCalls = fetchSpy.mock.calls.map(([input]) => (input instanceof Request ? input.url : String(input))).filter((u) => u.startsWith(neonApi.url));
      expect(apiCalls).toContain(`${neonApi.url}/projects`);
    } finally {
      fetchSpy.mockRestore();
    }

    const runtime = await runtimeRoleName(id);
    expect(runtime).toMatch(/^t_[0-9a-f]{32}$/);
    expect(runtime).not.toBe(ident);
    expect(placement).toMatchObject({ region: EU, strategy: 'database', schemaName: 'public', roleName: runtime, databaseName: ident });
    const [project] = await projectsNamed(id);
    expect(project).toMatchObject({ id: placement.externalRef, name: `tenant-${id}`, region_id: EU });

    const uri = await open(masterKey, placement.connectionSecret!, id);
    const u = new URL(uri);
    expect(u.host).toBe(new URL(stack.regions[EU]!.adminUrl).host);
    expect(u.password.length).toBeGreaterThan(10);
    // Nothing outside the sealed secret carries the connection string or its password.
    expect(placement.connectionSecret).not.toContain(u.password);
    expect(JSON.stringify({ ...placement, connectionSecret: null })).not.toMatch(new RegExp(`${u.password}|postgres(ql)?://`));

    // The sealed URI is the runtime role's, not the owner's.
    expect(await sqlAt(uri).query('SELECT current_user AS "user", current_database() AS db, to_regclass(\'public.tracks\') IS NOT NULL AS tracks'))
      .toEqual([{ user: runtime, db: ident, tracks: true }]);
    expect(await appliedIn(EU, ident)).toEqual(['0001_tracks.sql']);
    expect(await databaseExists(EU, ident)).toBe(true);
    expect(await databaseExists(US, ident)).toBe(false);
  });

  it('waits for the project\'s operations to finish before using it', async () => {
    const { id } = newTenant();
    const requests = await requestsOf(() => provisioner().provision(dbRequest(id)));
    const create = requests.findIndex((r) => r.method === 'POST' && r.path === '/projects');
    expect(requests[create]!.status).toBe(201);
    const polls = new Map<string, string[]>();
    for (const r of requests.slice(create + 1)) {
      if (r.path.includes('/operations/')) polls.set(r.path, [...(polls.get(r.path) ?? []), r.operationStatus!]);
    }
    // Neon starts two: create_timeline and start_compute. Each is polled until finished, and no longer.
    expect(polls.size).toBe(2);
    for (const statuses of polls.values()) {
      expect(statuses.at(-1)).toBe('finished');
      expect(statuses.slice(0, -1)).toEqual(statuses.slice(0, -1).map(() => 'running'));
      expect(statuses.length).toBeGreaterThan(1);
    }
  });

  it('returns the same project when provisioned again, without a second POST /projects', async () => {
    const { id, ident } = newTenant();
    const p = provisioner();
    const first = await p.provision(dbRequest(id));
    let second: Placement | undefined;
    const requests = await requestsOf(async () => { second = await p.provision(dbRequest(id)); });
    expect(requests.filter((r) => r.method === 'POST')).toEqual([]);
    expect(requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /projects 200', `GET /projects/${first.externalRef}/connection_uri 200`,
    ]);
    expect(second!.externalRef).toBe(first.externalRef);
    // The same runtime role of the same database, re-keyed: only the newest sealed URI logs in.
    const [a, b] = [new URL(await open(masterKey, first.connectionSecret!, id)), new URL(await open(masterKey, second!.connectionSecret!, id))];
    expect([b.username, b.host, b.pathname]).toEqual([a.username, a.host, a.pathname]);
    expect(await sqlAt(b.toString()).query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(((await sqlAt(a.toString()).query('SELECT 1').catch((e: unknown) => e)) as { code?: string }).code).toBe('28P01');
    expect(await projectsNamed(id)).toHaveLength(1);
    expect(await appliedIn(EU, ident)).toEqual(['0001_tracks.sql']);
  });

  it('after a failure half-way keeps the project, and a retry completes on that same project', async () => {
    const { id, ident } = newTenant();
    const p = provisioner();
    await expect(p.provision(dbRequest(id, EU, [TRACKS, BROKEN]))).rejects.toThrow(/no_such_function/);
    const [project] = await projectsNamed(id);
    expect(project).toBeDefined();
    expect(await appliedIn(EU, ident)).toEqual(['0001_tracks.sql']);

    let placement: Placement | undefined;
    const requests = await requestsOf(async () => { placement = await p.provision(dbRequest(id, EU, [TRACKS, ARTISTS])); });
    expect(requests.some((r) => r.method === 'POST' && r.path === '/projects')).toBe(false);
    expect(placement!.externalRef).toBe(project!.id);
    expect(await projectsNamed(id)).toHaveLength(1);
    expect(await appliedIn(EU, ident)).toEqual(['0001_tracks.sql', '0002_artists.sql']);
  });

  it('fails when a Neon operation fails, and a retry after it uses the project already made', async () => {
    const { id } = newTenant();
    await hook('fail-operations', { count: 1 });
    await expect(provisioner().provision(dbRequest(id))).rejects.toThrow(/Neon operation \w+ \([0-9a-f-]+\) failed/);
    const [project] = await projectsNamed(id);
    const placement = await provisioner().provision(dbRequest(id));
    expect(placement.externalRef).toBe(project!.id);
  });

  it("migrate applies new migrations as the project's owner, for the tenant whose sealed URI it holds only", async () => {
    const { id, ident } = newTenant();
    const p = provisioner();
    const placement = await p.provision(dbRequest(id, US));
    expect(await p.migrate(id, placement, [TRACKS, ARTISTS])).toEqual(['0002_artists.sql']);
    expect(await appliedIn(US, ident)).toEqual(['0001_tracks.sql', '0002_artists.sql']);
    // The new table is the owner's, and the runtime role may use it (default privileges).
    const runtime = await open(masterKey, placement.connectionSecret!, id);
    expect(await sqlAt(runtime).query('SELECT count(*)::int AS n FROM artists')).toEqual([{ n: 0 }]);
    await expect(p.migrate(crypto.randomUUID(), placement, [TRACKS, ARTISTS])).rejects.toThrow();
  });

  it('deprovision deletes the project, its database and roles, retrying 423, and checks nothing is left; a second deprovision succeeds', async () => {
    const { id, ident } = newTenant();
    const p = provisioner();
    const placement = await p.provision(dbRequest(id));
    await hook('fail-next', { method: 'DELETE', path: `/projects/${placement.externalRef}`, status: 423 });
    const requests = await requestsOf(() => p.deprovision(id, placement));
    const deletes = (rs: LogEntry[]) => rs.filter((r) => r.method === 'DELETE').map((r) => `${r.method} ${r.status}`);
    expect(deletes(requests)).toEqual(['DELETE 423', 'DELETE 200']);
    // Verified afterwards: no project of the tenant, by name or by id.
    expect(requests.filter((r) => r.method === 'GET' && r.seq > requests.find((x) => x.status === 200 && x.method === 'DELETE')!.seq)
      .map((r) => `${r.path} ${r.status}`)).toEqual(['/projects 200', `/projects/${placement.externalRef} 404`]);
    expect((await neon(`/projects/${placement.externalRef}`)).status).toBe(404);
    expect(await databaseExists(EU, ident)).toBe(false);
    expect(await roleExists(EU, ident)).toBe(false);
    expect(await roleExists(EU, placement.roleName!)).toBe(false);
    expect(await p.leftovers(id, placement)).toEqual({ projects: 0, branches: 0 });

    const again = await requestsOf(() => p.deprovision(id, placement));
    expect(deletes(again)).toEqual(['DELETE 404']);
    await p.unfence(id, placement); // nothing to lift: the fence went with the project
  });

  it('deprovision without an externalRef finds the project by its name', async () => {
    const { id, ident } = newTenant();
    const p = provisioner();
    const placement = await p.provision(dbRequest(id, US));
    await p.deprovision(id, { ...placement, externalRef: null });
    expect(await projectsNamed(id)).toEqual([]);
    expect(await databaseExists(US, ident)).toBe(false);
  });
});

describe('NeonProvisioner: the role the router serves through', () => {
  const asTenant = (id: string, p: Placement) => ({ id, isolation: p.strategy, placement: p }) as unknown as Tenant;
  const regionUrls = Object.fromEntries(Object.entries(stack.regions).map(([r, x]) => [r, x.routerUrl]));
  // A fresh TenantDataRouter is what a fresh isolate has: it checks a target on first use.
  const freshRouter = () => new TenantDataRouter({ regionUrls, masterKey: Promise.resolve(masterKey) });
  const ownerUri = async (p: Placement, ident: string) =>
    ((await (await neon(`/projects/${p.externalRef}/connection_uri?database_name=${ident}&role_name=${ident}`)).json()) as { uri: string }).uri;

  it('is not the owner: the owner (a neon_superuser member) would be refused, the runtime role cannot bypass RLS', async () => {
    const { id, ident } = newTenant();
    const placement = await provisioner().provision(dbRequest(id, EU, [RLS_TRACKS]));
    const owner = await ownerUri(placement, ident);
    expect(await sqlAt(owner).query("SELECT pg_has_role(current_user, 'neon_superuser', 'MEMBER') AS member")).toEqual([{ member: true }]);

    // Served through the sealed runtime URI...
    expect(await freshRouter().for(asTenant(id, placement)).query('SELECT count(*)::int AS n FROM tracks')).toEqual([{ n: 0 }]);
    // ...and refused through the owner's, were it ever sealed instead.
    const asOwner = { ...placement, connectionSecret: await seal(masterKey, owner, id) };
    await expect(freshRouter().for(asTenant(id, asOwner)).query('SELECT 1')).rejects.toMatchObject({ status: 503, message: 'tenant database role is not safe to serve' });

    // RLS holds for the runtime role: rows of another tenant id stay invisible to it.
    await sqlAt(withDatabase(stack.regions[EU]!.adminUrl, ident)).query("INSERT INTO tracks (tenant_id, title) VALUES (gen_random_uuid(), 'not yours')");
    expect(await sqlAt(await open(masterKey, placement.connectionSecret!, id)).query('SELECT count(*)::int AS n FROM tracks')).toEqual([{ n: 0 }]);
  });

  it('a runtime role made BYPASSRLS afterwards is refused on first use by a fresh isolate', async () => {
    const { id } = newTenant();
    const placement = await provisioner().provision(dbRequest(id));
    await sqlAt(stack.regions[EU]!.adminUrl).query(`ALTER ROLE ${placement.roleName} BYPASSRLS`);
    await expect(freshRouter().for(asTenant(id, placement)).query('SELECT 1')).rejects.toMatchObject({ status: 503, code: 'UPSTREAM_UNAVAILABLE' });
  });
});

describe('NeonProvisioner: API failures', () => {
  it('retries 429 answers, waiting as long as Retry-After says', async () => {
    const { id } = newTenant();
    await hook('rate-limit', { count: 2, retryAfter: 1 });
    sleeps.length = 0;
    let placement: Placement | undefined;
    const requests = await requestsOf(async () => { placement = await provisioner().provision(dbRequest(id)); });
    expect(requests.slice(0, 3).map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual(['GET /projects 429', 'GET /projects 429', 'GET /projects 200']);
    expect(sleeps.slice(0, 2)).toEqual([1000, 1000]);
    expect(placement!.externalRef).toBe((await projectsNamed(id))[0]!.id);
  });

  it('backs off exponentially without Retry-After, and gives up after maxRetries with a message free of secrets', async () => {
    const { id } = newTenant();
    await hook('rate-limit', { count: 3, retryAfter: null });
    sleeps.length = 0;
    const err = await failure(provisioner({ maxRetries: 2 }).provision(dbRequest(id)));
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toBe('Neon API listProjects failed (HTTP 429): too many requests');
    expect(sleeps).toHaveLength(2);
    expect(sleeps[0]).toBeGreaterThanOrEqual(250);
    expect(sleeps[0]).toBeLessThanOrEqual(500);
    expect(sleeps[1]).toBeGreaterThanOrEqual(500);
    expect(sleeps[1]).toBeLessThanOrEqual(1000);
    expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain(neonApi.apiKey);
    expect(await projectsNamed(id)).toEqual([]);
  });

  it('does not retry other 4xx answers, and does not echo the API key', async () => {
    const { id } = newTenant();
    const badKey = `bad${crypto.randomUUID()}`;
    const requests = await requestsOf(async () => {
      const err = await failure(provisioner({ apiKey: badKey }).provision(dbRequest(id)));
      expect(err.message).toBe('Neon API listProjects failed (HTTP 401): authentication required');
      expect(JSON.stringify(err, Object.getOwnPropertyNames(err))).not.toContain(badKey);
    });
    expect(requests.map((r) => r.status)).toEqual([401]);
  });

  it('refuses a region it has no cluster for before calling Neon', async () => {
    const { id } = newTenant();
    const requests = await requestsOf(() => expect(provisioner().provision(dbRequest(id, 'aws-ap-southeast-1'))).rejects.toThrow(/no cluster for region/));
    expect(requests).toEqual([]);
  });
});

describe('the Neon API stand-in', () => {
  it('answers like Neon: 401 without the key, 400 for an unknown region, cursor pages, 404 for unknown ids', async () => {
    const noKey = await fetch(`${neonApi.url}/projects`);
    expect(noKey.status).toBe(401);
    expect(await noKey.json()).toMatchObject({ code: expect.any(String), message: 'authentication required' });

    const badRegion = await fetch(`${neonApi.url}/projects`, {
      method: 'POST', headers: { authorization: `Bearer ${neonApi.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ project: { name: 'nowhere', region_id: 'aws-ap-southeast-1' } }),
    });
    expect(badRegion.status).toBe(400);
    expect(await badRegion.json()).toMatchObject({ code: expect.any(String), message: expect.stringMatching(/region/) });

    const p = provisioner();
    const [a, b] = [newTenant(), newTenant()];
    await p.provision(dbRequest(a.id));
    await p.provision(dbRequest(b.id));
    const page = async (cursor?: string) => (await (await neon(`/projects?search=tenant-&limit=1${cursor ? `&cursor=${cursor}` : ''}`)).json()) as
      { projects: { id: string }[]; pagination: { cursor: string } };
    const first = await page();
    expect(first.projects).toHaveLength(1);
    expect(first.pagination.cursor).toBe(first.projects[0]!.id);
    const second = await page(first.pagination.cursor);
    expect(second.projects).toHaveLength(1);
    expect(second.projects[0]!.id).not.toBe(first.projects[0]!.id);

    expect((await neon('/projects/no-such-project-1')).status).toBe(404);
    expect((await neon(`/projects/${first.projects[0]!.id}/operations/${crypto.randomUUID()}`)).status).toBe(404);
  });
});

describe('NeonProvisioner: shared-database tenants', () => {
  it('keeps schema tenants in the region shared database without calling Neon', async () => {
    const { id, ident } = newTenant();
    const p = provisioner();
    let placement: Placement | undefined;
    const requests = await requestsOf(async () => {
      placement = await p.provision({ tenantId: id, region: US, isolation: 'schema', migrations: [TRACKS] });
    });
    expect(requests).toEqual([]);
    expect(placement).toEqual({ region: US, strategy: 'schema', schemaName: ident, roleName: ident, databaseName: null, connectionSecret: null, externalRef: null });
    const app = sqlAt(stack.regions[US]!.postgresUrl);
    expect(await app.query('SELECT schema_name FROM information_schema.schemata WHERE schema_name = $1', [ident])).toEqual([{ schema_name: ident }]);
    expect(await app.query(`SELECT name FROM ${ident}.schema_migrations`)).toEqual([{ name: '0001_tracks.sql' }]);

    await p.deprovision(id, placement!);
    expect(await app.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [ident])).toEqual([]);
  });
});

describe('NeonProvisioner: organisation and region projects', () => {
  it("creates a database tenant's project in the organisation and finds it there only", async () => {
    const { id } = newTenant();
    const p = provisioner({ orgId: neonApi.orgId, regionProjects: neonApi.regionProjects });
    const placement = await p.provision(dbRequest(id));
    const inOrg = await (await neon(`/projects?org_id=${neonApi.orgId}&search=tenant-${id}`)).json() as { projects: { id: string; org_id?: string }[] };
    expect(inOrg.projects).toEqual([expect.objectContaining({ id: placement.externalRef, org_id: neonApi.orgId })]);
    // The personal account's list (no org_id) does not hold it.
    expect(await projectsNamed(id)).toEqual([]);
    expect(await p.provision(dbRequest(id))).toMatchObject({ externalRef: placement.externalRef });
    await p.deprovision(id, placement);
    expect(await p.leftovers(id, placement)).toEqual({ projects: 0, branches: 0 });
  });

  it('refuses a region without a shared project at construction, and an unknown organisation through the API', async () => {
    expect(() => provisioner({ regionProjects: { [EU]: neonApi.regionProjects[EU]! } })).toThrow(/has no shared project for region/);
    const err = await failure(provisioner({ orgId: 'org-unknown-00000000' }).provision(dbRequest(newTenant().id)));
    expect(err.message).toBe('Neon API listProjects failed (HTTP 404): organization not found');
  });

  it("refuses a shared project in another region than its own", async () => {
    const swapped = { ...neonApi.regionProjects, [EU]: neonApi.regionProjects[US]! };
    const err = await failure(provisioner({ orgId: neonApi.orgId, regionProjects: swapped }).provision({ tenantId: crypto.randomUUID(), region: EU, isolation: 'row', migrations: [] }));
    expect(err.message).toBe(`the shared Neon project ${neonApi.regionProjects[US]} of region ${EU} is in ${US}`);
  });
});
