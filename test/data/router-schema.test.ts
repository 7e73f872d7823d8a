/**
 * The `router` schema in a region's shared database, in SQL: router.enter refuses a late
 * request, a fenced tenant and (when asked) an unsafe role; the fence waits for a transaction in
 * flight and then keeps every later one out; the router's role can read fences but not lift them.
 */
import { Client, NeonDbError } from '@neondatabase/serverless';
import { describe, expect, it } from 'vitest';
import { importMasterKey } from '../../src/crypto/secret-box.js';
import { LocalProvisioner } from '../../src/provisioning/local-provisioner.js';
import type { Placement } from '../../src/provisioning/provisioner.js';
import { sqlAt, stack } from '../support/helpers.js';

const US = 'aws-us-east-2';
const routerSql = () => sqlAt(stack.regions[US]!.routerUrl);
const ownerSql = () => sqlAt(stack.regions[US]!.postgresUrl);
const rowPlacement: Placement = { region: US, strategy: 'row', schemaName: 'shared', roleName: null, databaseName: null, connectionSecret: null, externalRef: null };
const provisioner = async () => new LocalProvisioner({
  regions: { [US]: { adminUrl: stack.regions[US]!.postgresUrl } }, routerRole: 'app_router',
  masterKey: await importMasterKey(stack.routerEnv.MASTER_KEY!),
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(NeonDbError);
  return (err as NeonDbError).code;
}

const enter = 'SELECT router.enter($1, $2, $3)';
const soon = () => new Date(Date.now() + 5_000).toISOString();

describe('router.enter', () => {
  it('admits a tenant before its deadline and refuses it after (TR003, its own class)', async () => {
    const id = crypto.randomUUID();
    await routerSql().query(enter, [id, soon(), 'false']);
    expect(await codeOf(routerSql().query(enter, [id, new Date(Date.now() - 1).toISOString(), 'false']))).toBe('TR003');
  });

  it("checks the serving role when asked: the router's role passes, a superuser is refused (TR002)", async () => {
    const id = crypto.randomUUID();
    await routerSql().query(enter, [id, soon(), 'true']);
    const err = await ownerSql().query(enter, [id, soon(), 'true']).catch((e: unknown) => e) as NeonDbError;
    expect(err.code).toBe('TR002');
    expect(err.message).toMatch(/superuser/);
    // Without the check the same call passes: the check is what refuses.
    await ownerSql().query(enter, [id, soon(), 'false']);
  });

  it("lets the router's role read fences but neither add nor remove one", async () => {
    const id = crypto.randomUUID();
    expect(await routerSql().query('SELECT count(*)::int AS n FROM router.fences WHERE tenant_id = $1', [id])).toEqual([{ n: 0 }]);
    expect(await codeOf(routerSql().query("INSERT INTO router.fences (tenant_id, reason) VALUES ($1, 'x')", [id]))).toBe('42501');
    expect(await codeOf(routerSql().query('DELETE FROM router.fences'))).toBe('42501');
  });
});

describe('fencing a row tenant', () => {
  it('waits for the transaction in flight, deletes what it wrote, and refuses every later one (TR001) until unfenced', async () => {
    const id = crypto.randomUUID();
    const p = await provisioner();
    const inFlight = new Client(stack.regions[US]!.routerUrl);
    inFlight.on('error', () => {});
    await inFlight.connect();
    let fenced = false;
    try {
      await inFlight.query('BEGIN');
      await inFlight.query("SELECT router.enter($1, $2, false), set_config('search_path', 'shared', true), set_config('app.tenant_id', $3, true)", [id, soon(), id]);
      await inFlight.query("INSERT INTO tracks (title, artist, duration_ms) VALUES ('in flight', 'x', 1)");
      const deprovision = p.deprovision(id, rowPlacement).then(() => { fenced = true; });
      await sleep(700);
      // The fence waits for the transaction that entered before it...
      expect(fenced).toBe(false);
      await inFlight.query('COMMIT');
      await deprovision;
    } finally {
      await inFlight.end().catch(() => {});
    }
    // ...then removes what it wrote, and no later transaction of the tenant gets in.
    expect(await ownerSql().query('SELECT count(*)::int AS n FROM shared.tracks WHERE tenant_id = $1', [id])).toEqual([{ n: 0 }]);
    expect(await codeOf(routerSql().query(enter, [id, soon(), 'false']))).toBe('TR001');
    expect(await p.leftovers(id, rowPlacement)).toEqual({ rows: 0 });
    // Other tenants are not fenced.
    await routerSql().query(enter, [crypto.randomUUID(), soon(), 'false']);

    await p.unfence(id, rowPlacement);
    expect(await ownerSql().query('SELECT count(*)::int AS n FROM router.fences WHERE tenant_id = $1', [id])).toEqual([{ n: 0 }]);
    await p.unfence(id, rowPlacement); // idempotent
  });
});
