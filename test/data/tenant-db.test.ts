/**
 * TenantDataRouter against the stack's databases: a sealed secret opens for its own tenant only,
 * even once cached; the serving role is checked on a target's first use in an isolate (a fresh
 * router stands for a fresh isolate); every call is bounded by the query timeout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importMasterKey } from '../../src/crypto/secret-box.js';
import { TenantDataRouter } from '../../src/data/tenant-db.js';
import { AppError } from '../../src/errors.js';
import { LocalProvisioner } from '../../src/provisioning/local-provisioner.js';
import { withDatabase, type Placement } from '../../src/provisioning/provisioner.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { sqlAt, stack, tenant as seeded } from '../support/helpers.js';

const EU = 'aws-eu-central-1';
const TRACKS = { name: '0001_tracks.sql', sql: 'CREATE TABLE tracks (id int PRIMARY KEY, tenant_id uuid)' };
const regionUrls = Object.fromEntries(Object.entries(stack.regions).map(([r, x]) => [r, x.routerUrl]));
const router = (queryTimeoutMs?: number) => new TenantDataRouter({ regionUrls, masterKey: importMasterKey(stack.routerEnv.MASTER_KEY!), queryTimeoutMs });
const asTenant = (id: string, p: Placement) => ({ id, isolation: p.strategy, placement: p }) as unknown as Tenant;

async function refusal(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

let provisioner: LocalProvisioner;
const made: [string, Placement][] = [];
async function databaseTenant(): Promise<{ id: string; placement: Placement }> {
  const id = crypto.randomUUID();
  const placement = await provisioner.provision({ tenantId: id, region: EU, isolation: 'database', migrations: [TRACKS] });
  made.push([id, placement]);
  return { id, placement };
}

beforeAll(async () => {
  provisioner = new LocalProvisioner({
    regions: { [EU]: { adminUrl: stack.regions[EU]!.postgresUrl } }, routerRole: 'app_router',
    masterKey: await importMasterKey(stack.routerEnv.MASTER_KEY!),
  });
});
afterAll(async () => { for (const [id, p] of made) await provisioner.deprovision(id, p).catch(() => {}); });

describe('decrypted connection strings', () => {
  it("are cached per tenant and sealed secret: A's secret copied onto B does not open for B, even after A used it", async () => {
    const a = await databaseTenant();
    const r = router();
    expect(await r.for(asTenant(a.id, a.placement)).query('SELECT current_database() AS db')).toEqual([{ db: a.placement.databaseName }]);
    // Same sealed string, another tenant: the binding (AES-GCM additional data) must still be checked.
    const b = seeded('wayne').id;
    const err = await refusal(r.for(asTenant(b, a.placement)).query('SELECT current_database() AS db'));
    expect(err.status).toBe(500);
    expect(err.code).toBe('INTERNAL');
    // And A is still served from the cache.
    expect(await r.for(asTenant(a.id, a.placement)).query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});

describe('the serving role check', () => {
  it('refuses, on first use in a fresh isolate, a target whose role was made BYPASSRLS', async () => {
    const t = await databaseTenant();
    const role = t.placement.roleName!;
    const owner = sqlAt(stack.regions[EU]!.adminUrl);
    const warm = router();
    expect(await warm.for(asTenant(t.id, t.placement)).query('SELECT 1 AS one')).toEqual([{ one: 1 }]);

    await owner.query(`ALTER ROLE ${role} BYPASSRLS`);
    try {
      const err = await refusal(router().for(asTenant(t.id, t.placement)).query('SELECT 1 AS one'));
      expect(err.status).toBe(503);
      expect(err.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(err.message).toBe('tenant database role is not safe to serve');
      // The check costs no round trip because it runs once per isolate and target: an isolate
      // that already checked this target keeps serving it (new isolates are the safety net).
      expect(await warm.for(asTenant(t.id, t.placement)).query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await owner.query(`ALTER ROLE ${role} NOBYPASSRLS`);
    }
    expect(await router().for(asTenant(t.id, t.placement)).query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('refuses a target whose role owns the tables (an owner can switch RLS off)', async () => {
    const t = await databaseTenant();
    const owner = sqlAt(withDatabase(stack.regions[EU]!.adminUrl, t.placement.databaseName!));
    await owner.query(`ALTER TABLE tracks OWNER TO ${t.placement.roleName}`);
    const err = await refusal(router().for(asTenant(t.id, t.placement)).query('SELECT 1 AS one'));
    expect(err.message).toBe('tenant database role is not safe to serve');
  });
});

describe('query timeout', () => {
  it('answers 503 UPSTREAM_UNAVAILABLE within the timeout when the database is slow', async () => {
    const r = router(400);
    const t0 = Date.now();
    const err = await refusal(r.for(seededRow()).query('SELECT pg_sleep(3)'));
    const took = Date.now() - t0;
    expect(err.status).toBe(503);
    expect(err.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(took).toBeLessThan(1_500);
  });
});

/** Seeded row tenant q-eu as the router sees it. */
function seededRow(): Tenant {
  const t = seeded('q-eu');
  return asTenant(t.id, { region: t.region, strategy: 'row', schemaName: 'shared', roleName: null, databaseName: null, connectionSecret: null, externalRef: null });
}
