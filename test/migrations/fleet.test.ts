/**
 * The fleet migration path (src/migrations/batch-runner.ts over one connection per database): a
 * tenant whose migration is in flight is served (its requests wait for the migration's commit and
 * see the new schema), a migration never queues behind a tenant's long transaction (lock_timeout),
 * a down undoes exactly what was applied, and the control plane marks a batch `migrating`.
 */
import { describe, expect, it } from 'vitest';
import { sha256 } from '../../src/migrations/runner.js';
import { migrateSharedDatabase, revertSharedDatabase } from '../../src/provisioning/fleet-migrate.js';
import { importMasterKey } from '../../src/crypto/secret-box.js';
import { LocalProvisioner, withClient } from '../../src/provisioning/local-provisioner.js';
import type { Placement } from '../../src/provisioning/provisioner.js';
import { appliedBySchema, applyToSchema, installBatchFunctions } from '../../src/migrations/batch-runner.js';
import { admin, createViaApi, tokenFor } from '../support/control.js';
import { call, postJson, sqlAt, stack } from '../support/helpers.js';

const REGION = 'aws-us-east-2';
const url = () => stack.regions[REGION]!.postgresUrl;

async function schemaTenant() {
  const t = await createViaApi({ tier: 'PREMIUM', region: REGION });
  const view = await (await admin(`/admin/v1/tenants/${t.id}`)).json() as { placement: Placement };
  expect(view.placement.strategy).toBe('schema');
  return { t, placed: { tenantId: t.id, placement: { ...view.placement, region: REGION } }, schema: view.placement.schemaName! };
}

/** The stack's catalogue (what the tenant has), with `extra` migrations after it. */
async function catalogueWith(...extra: { name: string; sql: string; down?: string }[]) {
  const rows = await sqlAt(stack.control.postgresUrl).query('SELECT name, sql, checksum FROM tenant_migration_catalog ORDER BY name') as { name: string; sql: string; checksum: string }[];
  return [...rows, ...await Promise.all(extra.map(async (m) => ({ ...m, checksum: await sha256(m.sql) })))];
}

const columnsOf = async (schema: string) => (await sqlAt(url()).query(
  "SELECT column_name AS c FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'tracks' ORDER BY 1", [schema]) as { c: string }[]).map((r) => r.c);

describe('fleet migrations', () => {
  it('serves a tenant whose migration is in flight: reads and writes wait for its commit and see the new schema', async () => {
    const { t, placed, schema } = await schemaTenant();
    const token = await tokenFor(t.id);
    const host = `${t.slug}.localhost`;
    expect((await call(host, '/api/v1/tracks', { token })).status).toBe(200);
    const catalogue = await catalogueWith({ name: '9001_probe.sql', sql: 'ALTER TABLE tracks ADD COLUMN probe smallint; SELECT pg_sleep(1.5);' });

    const t0 = Date.now();
    let committedAt = 0;
    const migration = migrateSharedDatabase(url(), [placed], catalogue).then((r) => { committedAt = Date.now(); return r; });
    await new Promise((r) => setTimeout(r, 400));
    const [read, write] = await Promise.all([
      call(host, '/api/v1/tracks', { token }).then(async (r) => ({ status: r.status, body: await r.json() as { tracks: unknown[] }, at: Date.now() })),
      postJson(host, '/api/v1/tracks', { title: 'During', artist: 'Migration', durationMs: 1000 }, token)
        .then(async (r) => ({ status: r.status, body: await r.json() as { track: { id: string } }, at: Date.now() })),
    ]);
    const outcome = (await migration).get(t.id);
    expect(outcome).toEqual({ ok: true, applied: ['9001_probe.sql'] });
    expect(read.status).toBe(200);
    expect(write.status).toBe(201);
    // Both were held by the migration's lock, not refused, and answered once it committed.
    expect(read.at - t0).toBeGreaterThanOrEqual(1400);
    expect(write.at - t0).toBeGreaterThanOrEqual(1400);
    expect(Math.abs(write.at - committedAt)).toBeLessThan(1000);
    // The write ran against the migrated table.
    expect(await sqlAt(url()).query(`SELECT title, probe FROM ${schema}.tracks WHERE id = $1`, [write.body.track.id])).toEqual([{ title: 'During', probe: null }]);
    expect(await columnsOf(schema)).toContain('probe');
  });

  it("fails a tenant's migration after lock_timeout instead of queueing behind its open transaction, and applies nothing", async () => {
    const { schema } = await schemaTenant();
    const catalogue = await catalogueWith({ name: '9002_blocked.sql', sql: 'ALTER TABLE tracks ADD COLUMN blocked smallint;' });
    await withClient(url(), async (holder) => {
      await holder.query('BEGIN');
      await holder.query(`SELECT count(*) FROM ${schema}.tracks`);
      try {
        const t0 = Date.now();
        const outcome = await withClient(url(), async (c) => {
          await installBatchFunctions(c);
          const pending = catalogue.filter((m) => m.name === '9002_blocked.sql');
          return applyToSchema(c, schema, pending, 300);
        });
        expect(outcome).toMatchObject({ ok: false, error: expect.stringMatching(/lock timeout/) });
        expect(Date.now() - t0).toBeLessThan(4000);
      } finally {
        await holder.query('ROLLBACK');
      }
    });
    expect(await columnsOf(schema)).not.toContain('blocked');
    const applied = await withClient(url(), async (c) => { await installBatchFunctions(c); return appliedBySchema(c, [schema]); });
    expect([...applied.get(schema)!.keys()]).not.toContain('9002_blocked.sql');
  });

  it('reverts with the downs, newest first, only what the tenant has, and its record with it', async () => {
    const { placed, schema } = await schemaTenant();
    const a = { name: '9003_a.sql', sql: 'ALTER TABLE tracks ADD COLUMN a smallint;', down: 'ALTER TABLE tracks DROP COLUMN a;' };
    const b = { name: '9004_b.sql', sql: 'ALTER TABLE tracks RENAME COLUMN a TO b;', down: 'ALTER TABLE tracks RENAME COLUMN b TO a;' };
    const catalogue = await catalogueWith(a, b);
    expect((await migrateSharedDatabase(url(), [placed], catalogue)).get(placed.tenantId)).toEqual({ ok: true, applied: ['9003_a.sql', '9004_b.sql'] });
    expect(await columnsOf(schema)).toContain('b');
    const extra = { name: '9005_never.sql', sql: 'SELECT 1', down: 'SELECT no_such_function()', checksum: await sha256('SELECT 1') };
    const reverted = await revertSharedDatabase(url(), [placed], [...catalogue.filter((m) => m.name >= '9003'), extra]);
    const before = catalogue.filter((m) => m.name < '9003').at(-1)!.name;
    expect(reverted.get(placed.tenantId)).toEqual({ ok: true, reverted: ['9004_b.sql', '9003_a.sql'], head: before });
    expect(await columnsOf(schema)).not.toContain('a');
    expect(await columnsOf(schema)).not.toContain('b');
    expect(await sqlAt(url()).query(`SELECT name FROM ${schema}.schema_migrations WHERE name >= '9'`)).toEqual([]);
  });

  it('refuses a rollback of a migration that ships no down before touching any tenant, and a migration whose checksum changed', async () => {
    const { placed, schema } = await schemaTenant();
    const catalogue = await catalogueWith({ name: '9006_c.sql', sql: 'ALTER TABLE tracks ADD COLUMN c smallint;' });
    await migrateSharedDatabase(url(), [placed], catalogue);
    const refused = await revertSharedDatabase(url(), [placed], catalogue.slice(-1));
    expect(refused.get(placed.tenantId)).toEqual({ ok: false, error: '9006_c.sql has no down migration' });
    expect(await columnsOf(schema)).toContain('c');
    const edited = catalogue.map((m) => m.name === '9006_c.sql' ? { ...m, checksum: 'f'.repeat(64) } : m);
    expect((await migrateSharedDatabase(url(), [placed], edited)).get(placed.tenantId)).toEqual({ ok: false, error: 'migration 9006_c.sql changed after it was applied' });
  });
});

describe('LocalProvisioner.migrateMany / revertMany', () => {
  it('migrates a schema and a database tenant of one region in one call and rolls both back with the down', async () => {
    const provisioner = new LocalProvisioner({
      regions: Object.fromEntries(Object.entries(stack.regions).map(([r, x]) => [r, { adminUrl: x.postgresUrl }])),
      routerRole: 'app_router', masterKey: await importMasterKey(stack.routerEnv.MASTER_KEY!),
    });
    const { placed: schemaPlaced, schema } = await schemaTenant();
    const db = await createViaApi({ tier: 'ENTERPRISE', region: REGION });
    const dbView = await (await admin(`/admin/v1/tenants/${db.id}`)).json() as { placement: Placement };
    expect(dbView.placement.strategy).toBe('database');
    const dbPlaced = { tenantId: db.id, placement: { ...dbView.placement, region: REGION } };
    const m = { name: '9007_fleet.sql', sql: 'ALTER TABLE tracks ADD COLUMN fleet smallint;', down: 'ALTER TABLE tracks DROP COLUMN fleet;' };
    const catalogue = await catalogueWith(m);
    const applied = await provisioner.migrateMany(REGION, [schemaPlaced, dbPlaced], catalogue);
    expect(Object.fromEntries(applied)).toEqual({ [schemaPlaced.tenantId]: { ok: true, applied: ['9007_fleet.sql'] }, [db.id]: { ok: true, applied: ['9007_fleet.sql'] } });
    const dbUrl = new URL(url());
    dbUrl.pathname = `/${dbView.placement.databaseName}`;
    const dbColumns = async () => (await sqlAt(dbUrl.toString()).query("SELECT column_name AS c FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'tracks'") as { c: string }[]).map((r) => r.c);
    expect(await dbColumns()).toContain('fleet');
    expect(await columnsOf(schema)).toContain('fleet');
    const reverted = await provisioner.revertMany(REGION, [schemaPlaced, dbPlaced], catalogue.filter((x) => x.name === m.name));
    expect(reverted.get(db.id)).toMatchObject({ ok: true, reverted: ['9007_fleet.sql'] });
    expect(reverted.get(schemaPlaced.tenantId)).toMatchObject({ ok: true, reverted: ['9007_fleet.sql'] });
    expect(await dbColumns()).not.toContain('fleet');
    expect(await columnsOf(schema)).not.toContain('fleet');
  });
});

describe('POST /admin/v1/migrations/apply and /revert', () => {
  it('migrates a batch with the catalogue, records each tenant current, and skips tenants that cannot be migrated', async () => {
    const { t } = await schemaTenant();
    const row = await createViaApi({ tier: 'FREE', region: REGION });
    const unknown = crypto.randomUUID();
    const res = await admin('/admin/v1/migrations/apply', { method: 'POST', json: { tenantIds: [t.id, row.id, unknown] } });
    expect(res.status).toBe(200);
    const { results } = await res.json() as { results: { tenantId: string; state: string; applied: string[]; error: string | null }[] };
    expect(results).toEqual([
      { tenantId: t.id, state: 'current', applied: [], error: null },
      { tenantId: row.id, state: 'current', applied: [], error: null },
      { tenantId: unknown, state: 'skipped', applied: [], error: 'not found' },
    ]);
    const rows = await sqlAt(stack.control.postgresUrl).query('SELECT tenant_id AS id, state, applied FROM tenant_migration_status WHERE tenant_id = ANY($1::uuid[]) ORDER BY 1', [[t.id, row.id]]) as { id: string; state: string; applied: string }[];
    const head = (await sqlAt(stack.control.postgresUrl).query('SELECT max(name) AS h FROM tenant_migration_catalog') as { h: string }[])[0]!.h;
    expect(rows.map((r) => [r.state, r.applied])).toEqual([['current', head], ['current', head]]);
  });

  it('refuses bad batches (400) and a revert of a migration without a down (409) or unknown (404)', async () => {
    const bad = await admin('/admin/v1/migrations/apply', { method: 'POST', json: { tenantIds: ['not-a-uuid'] } });
    expect(bad.status).toBe(400);
    expect((await bad.json() as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
    expect((await admin('/admin/v1/migrations/apply', { method: 'POST', json: { tenantIds: [] } })).status).toBe(400);
    const { t } = await schemaTenant();
    const noDown = await admin('/admin/v1/migrations/revert', { method: 'POST', json: { tenantIds: [t.id], migrations: ['0001_tracks.sql'] } });
    expect(noDown.status).toBe(409);
    expect((await noDown.json() as { error: { code: string; message: string } }).error).toMatchObject({ code: 'INVALID_STATE', message: expect.stringMatching(/no down/) });
    const unknown = await admin('/admin/v1/migrations/revert', { method: 'POST', json: { tenantIds: [t.id], migrations: ['9999_nope.sql'] } });
    expect(unknown.status).toBe(404);
    const downOfUnknown = await admin('/admin/v1/migrations/9999_nope.sql/down', { method: 'PUT', body: 'SELECT 1', headers: { 'content-type': 'application/sql' } });
    expect(downOfUnknown.status).toBe(404);
  });
});
