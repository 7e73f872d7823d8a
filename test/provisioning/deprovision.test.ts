/**
 * Deprovisioning a tenant that routers keep serving from their caches (the control plane still
 * has it; deleting it there is another step): while it is written at ~10 writes/s through the
 * router, its storage is fenced and dropped, and afterwards no row, schema, role or database of
 * it is left in any cluster, and its requests are refused with 404 TENANT_NOT_FOUND, never 500.
 */
import { describe, expect, it } from 'vitest';
import { importMasterKey } from '../../src/crypto/secret-box.js';
import { LocalProvisioner } from '../../src/provisioning/local-provisioner.js';
import { tenantIdent, type Placement } from '../../src/provisioning/provisioner.js';
import { runtimeRoleName } from '../../src/provisioning/runtime-role.js';
import { createViaApi, tokenFor } from '../support/control.js';
import { errorOf, postJson, sqlAt, stack } from '../support/helpers.js';

interface Outcome { startedAt: number; endedAt: number; status: number; code: string | null }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const provisioner = async () => new LocalProvisioner({
  regions: Object.fromEntries(Object.entries(stack.regions).map(([r, x]) => [r, { adminUrl: x.postgresUrl }])),
  routerRole: 'app_router', masterKey: await importMasterKey(stack.routerEnv.MASTER_KEY!),
});

/** Writes a track every 100 ms (not waiting for the previous one) until `stop()`; the outcomes. */
function writeContinuously(host: string, token: string): { stop(): Promise<Outcome[]> } {
  const pending: Promise<Outcome>[] = [];
  const timer = setInterval(() => {
    const startedAt = Date.now();
    pending.push(postJson(host, '/api/v1/tracks', { title: `t${startedAt}`, artist: 'Deprovision', durationMs: 1000 }, token)
      .then(async (r) => {
        let code: string | null = null;
        if (r.status < 400) await r.body?.cancel(); else code = (await errorOf(r)).code;
        return { startedAt, endedAt: Date.now(), status: r.status, code };
      }));
  }, 100);
  return { stop: async () => { clearInterval(timer); return Promise.all(pending); } };
}

/** Creates a tenant of `tier` through the API, writes to it, deprovisions it mid-stream; the outcomes. */
async function deprovisionWhileWriting(tier: string, placementOf: (id: string) => Placement) {
  const t = await createViaApi({ tier });
  const p = await provisioner();
  const writer = writeContinuously(`${t.slug}.localhost`, await tokenFor(t.id));
  await sleep(1_000);
  const fencingAt = Date.now();
  await p.deprovision(t.id, placementOf(t.id));
  const doneAt = Date.now();
  await sleep(1_500);
  const outcomes = await writer.stop();
  return { id: t.id, p, outcomes, before: outcomes.filter((o) => o.endedAt < fencingAt), after: outcomes.filter((o) => o.startedAt > doneAt) };
}

const US = 'aws-us-east-2';
const base = { region: US, roleName: null, databaseName: null, connectionSecret: null, externalRef: null };
const countIn = async (url: string, sql: string, param: string) => Number(((await sqlAt(url).query(sql, [param])) as { n: number }[])[0]!.n);

describe('deprovisioning under traffic', () => {
  it('row: leaves zero rows in every cluster, and later writes are 404 TENANT_NOT_FOUND', async () => {
    const placement = (): Placement => ({ ...base, strategy: 'row', schemaName: 'shared' });
    const { id, p, outcomes, before, after } = await deprovisionWhileWriting('STANDARD', placement);
    // Written while the tenant was live (and then deleted by the fence), ...
    expect(before.length).toBeGreaterThan(0);
    expect(before.every((o) => o.status === 201)).toBe(true);
    // ...refused once it was fenced.
    expect(after.length).toBeGreaterThan(5);
    expect(after.map((o) => `${o.status} ${o.code}`)).toEqual(after.map(() => '404 TENANT_NOT_FOUND'));
    expect(outcomes.filter((o) => o.status >= 500)).toEqual([]);
    for (const region of Object.values(stack.regions)) {
      expect(await countIn(region.postgresUrl, 'SELECT count(*)::int AS n FROM shared.tracks WHERE tenant_id = $1', id)).toBe(0);
    }
    expect(await p.leftovers(id, placement())).toEqual({ rows: 0 });
  });

  it('schema: drops the schema and role, and later writes are 404, not a missing-role error', async () => {
    const placement = (id: string): Placement => ({ ...base, strategy: 'schema', schemaName: tenantIdent(id), roleName: tenantIdent(id) });
    const { id, p, outcomes, after } = await deprovisionWhileWriting('PREMIUM', placement);
    expect(after.length).toBeGreaterThan(5);
    expect(after.every((o) => o.status === 404 && o.code === 'TENANT_NOT_FOUND')).toBe(true);
    expect(outcomes.filter((o) => o.status >= 500)).toEqual([]);
    const url = stack.regions[US]!.postgresUrl;
    expect(await countIn(url, 'SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1', tenantIdent(id))).toBe(0);
    expect(await countIn(url, 'SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1', tenantIdent(id))).toBe(0);
    expect(await p.leftovers(id, placement(id))).toEqual({ schemas: 0, roles: 0 });
  });

  it('database: drops the database and role; requests meanwhile are refused, never answered 500', async () => {
    // No role recorded: deprovisioning drops both names a dedicated database's login role may have.
    const placement = (id: string): Placement => ({ ...base, strategy: 'database', schemaName: 'public', roleName: null, databaseName: tenantIdent(id) });
    const { id, p, outcomes, after } = await deprovisionWhileWriting('ENTERPRISE', placement);
    expect(after.length).toBeGreaterThan(5);
    // Once its database is gone a cached tenant cannot be told "fenced": its database refuses the login.
    // (A request that finds the database dropped drops its stale record first: one 503 TENANT_MIGRATING.)
    const refused = new Set(['404 TENANT_NOT_FOUND', '503 UPSTREAM_UNAVAILABLE', '503 CIRCUIT_OPEN', '503 TENANT_MIGRATING']);
    expect(after.filter((o) => !refused.has(`${o.status} ${o.code}`))).toEqual([]);
    expect(outcomes.filter((o) => o.status >= 500 && o.status !== 503)).toEqual([]);
    expect(await p.leftovers(id, placement(id))).toEqual({ databases: 0, roles: 0 });
    expect(await countIn(stack.regions[US]!.postgresUrl, 'SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1', await runtimeRoleName(id))).toBe(0);
    await p.deprovision(id, placement(id)); // idempotent
  });
});
