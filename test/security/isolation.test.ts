/**
 * Isolation, per strategy: tenant A can neither list, read by id nor delete tenant B's tracks
 * through the router, and a direct query with A's isolation applied cannot see B's rows. RLS is a
 * real second wall: every role the router serves through owns nothing and cannot bypass it, and
 * the router refuses a target whose role could.
 */
import { NeonDbError } from '@neondatabase/serverless';
import { describe, expect, it } from 'vitest';
import { importMasterKey, open } from '../../src/crypto/secret-box.js';
import { withDatabase } from '../../src/provisioning/provisioner.js';
import { call, errorOf, platformToken, postJson, sqlAt, stack, tenant, unique } from '../support/helpers.js';
import { createViaApi, tokenFor } from '../support/control.js';
import { runtimeRoleName } from '../../src/provisioning/runtime-role.js';


const PAIRS = [
  { strategy: 'row', a: 'acme', b: 'umbrella', hostA: 'acme.localhost', hostB: 'umbrella.localhost' },
  { strategy: 'schema', a: 'globex', b: 'soylent', hostA: 'globex.localhost', hostB: 'soylent.localhost' },
  { strategy: 'database', a: 'initech', b: 'wayne', hostA: 'initech.test', hostB: 'wayne.localhost' },
] as const;

async function createTrack(host: string, slug: string, title: string): Promise<string> {
  const res = await postJson(host, '/api/v1/tracks', { title, artist: 'Isolation', durationMs: 1234 }, await platformToken(slug));
  expect(res.status).toBe(201);
  return ((await res.json()) as { track: { id: string } }).track.id;
}

describe.each(PAIRS)('$strategy isolation', ({ strategy, a, b, hostA, hostB }) => {
  it('both tenants really use this strategy', () => {
    expect(tenant(a).isolation).toBe(strategy);
    expect(tenant(b).isolation).toBe(strategy);
  });

  it("tenant A cannot list, read or delete tenant B's tracks", async () => {
    const titleB = unique('secret-of-b-');
    const idB = await createTrack(hostB, b, titleB);
    const tokenA = await platformToken(a);

    const list = await call(hostA, '/api/v1/tracks?limit=100', { token: tokenA });
    expect(list.status).toBe(200);
    const { tracks } = await list.json() as { tracks: { id: string; title: string }[] };
    expect(tracks.some((t) => t.id === idB || t.title === titleB)).toBe(false);

    expect((await call(hostA, `/api/v1/tracks/${idB}`, { token: tokenA })).status).toBe(404);
    expect((await call(hostA, `/api/v1/tracks/${idB}`, { token: tokenA, method: 'DELETE' })).status).toBe(404);

    // Still there for its owner.
    const own = await call(hostB, `/api/v1/tracks/${idB}`, { token: await platformToken(b) });
    expect(own.status).toBe(200);
    expect(((await own.json()) as { track: { title: string } }).track.title).toBe(titleB);
  });
});

describe('isolation below the router', () => {
  it("row: as the router's role with A's tenant setting, B's rows are invisible and cannot be written", async () => {
    const idB = await createTrack('umbrella.localhost', 'umbrella', unique('row-b-'));
    const sql = sqlAt(stack.regions['aws-us-east-2']!.routerUrl);
    const [, rows] = await sql.transaction([
      sql.query("SELECT set_config('search_path', 'shared', true), set_config('app.tenant_id', $1, true)", [tenant('acme').id]),
      sql.query('SELECT id FROM tracks WHERE id = $1', [idB]),
    ]);
    expect(rows).toEqual([]);
    // Without any tenant setting, the router role sees nothing at all.
    expect(await sql.query('SELECT count(*)::int AS n FROM shared.tracks')).toEqual([{ n: 0 }]);
    // And cannot insert a row for another tenant.
    await expect(sql.transaction([
      sql.query("SELECT set_config('app.tenant_id', $1, true)", [tenant('acme').id]),
      sql.query("INSERT INTO shared.tracks (tenant_id, title, artist, duration_ms) VALUES ($1, 'x', 'y', 1)", [tenant('umbrella').id]),
    ])).rejects.toThrow(/row-level security/);
  });

  it("schema: as A's role, B's schema is not readable", async () => {
    await createTrack('soylent.localhost', 'soylent', unique('schema-b-'));
    const sql = sqlAt(stack.regions['aws-eu-central-1']!.routerUrl);
    const roleA = `t_${tenant('globex').id.replace(/-/g, '')}`;
    const schemaB = `t_${tenant('soylent').id.replace(/-/g, '')}`;
    const err = await sql.transaction([
      sql.query("SELECT set_config('role', $1, true), set_config('search_path', $1, true)", [roleA]),
      sql.query(`SELECT count(*) FROM ${schemaB}.tracks`),
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NeonDbError);
    expect((err as NeonDbError).code).toBe('42501');
    // The router role itself inherits no tenant's rights.
    const direct = await sql.query(`SELECT count(*) FROM ${schemaB}.tracks`).catch((e: unknown) => e);
    expect((direct as NeonDbError).code).toBe('42501');
  });

  it("database: A's own credentials cannot connect to B's database, nor can the router role", async () => {
    const control = sqlAt(stack.control.postgresUrl);
    const [row] = await control.query('SELECT connection_secret FROM tenant_placements WHERE tenant_id = $1', [tenant('initech').id]) as [{ connection_secret: string }];
    expect(row.connection_secret).toMatch(/^v1\./);
    const urlA = await open(await importMasterKey(stack.routerEnv.MASTER_KEY!), row.connection_secret, tenant('initech').id);
    const dbB = `t_${tenant('wayne').id.replace(/-/g, '')}`;
    // A's credentials work on A's database...
    expect(await sqlAt(urlA).query('SELECT current_database() AS db')).toEqual([{ db: new URL(urlA).pathname.slice(1) }]);
    // ...and are refused by B's, which lives in the same cluster.
    const intoB = new URL(urlA);
    intoB.pathname = `/${dbB}`;
    const err = await sqlAt(intoB.toString()).query('SELECT 1').catch((e: unknown) => e);
    expect((err as NeonDbError).code).toBe('42501');
    const router = new URL(stack.regions['aws-eu-central-1']!.routerUrl);
    router.pathname = `/${dbB}`;
    expect(((await sqlAt(router.toString()).query('SELECT 1').catch((e: unknown) => e)) as NeonDbError).code).toBe('42501');
  });
});

describe('RLS as a second wall', () => {
  const unsafeReason = async (ownerUrl: string, role: string) =>
    ((await sqlAt(ownerUrl).query('SELECT router.unsafe_reason($1) AS why', [role])) as [{ why: string | null }])[0].why;

  it('every role the router serves through owns nothing and cannot bypass RLS', async () => {
    for (const region of Object.values(stack.regions)) {
      expect(await unsafeReason(region.postgresUrl, new URL(region.routerUrl).username)).toBeNull();
    }
    const key = await importMasterKey(stack.routerEnv.MASTER_KEY!);
    const control = sqlAt(stack.control.postgresUrl);
    for (const slug of ['initech', 'wayne']) {
      const [row] = await control.query('SELECT region, connection_secret FROM tenant_placements WHERE tenant_id = $1', [tenant(slug).id]) as [{ region: string; connection_secret: string }];
      const url = new URL(await open(key, row.connection_secret, tenant(slug).id));
      expect(await unsafeReason(withDatabase(stack.regions[row.region]!.adminUrl, url.pathname.slice(1)), url.username)).toBeNull();
    }
  });

  it('the router refuses a dedicated database whose role was made BYPASSRLS, on its first use', async () => {
    const t = await createViaApi({ tier: 'ENTERPRISE' });
    // A dedicated database's login role (src/provisioning/runtime-role.ts).
    const role = await runtimeRoleName(t.id);
    await sqlAt(stack.regions[t.region]!.adminUrl).query(`ALTER ROLE ${role} BYPASSRLS`);
    const res = await call(`${t.slug}.localhost`, '/api/v1/tracks', { token: await tokenFor(t.id) });
    expect(res.status).toBe(503);
    expect(await errorOf(res)).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', message: 'tenant database role is not safe to serve' });
  });
});
