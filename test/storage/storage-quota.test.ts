/**
 * Storage quota (issue 10 §4): measured per tenant by the scheduled run, over the tier's
 * storage_mb writes are refused 507 (reads and DELETE served), and after deleting data and the
 * next measurement writes are accepted again. The three measuring methods on real PostgreSQL.
 */
import { describe, expect, it } from 'vitest';
import { refreshStorage } from '../../src/storage/refresh.js';
import { rowTuplesQuery } from '../../src/storage/measure.js';
import { tenantIdent } from '../../src/provisioning/provisioner.js';
import { call, errorOf, postJson, sqlAt, stack } from '../support/helpers.js';
import { admin, createViaApi, L1_TTL_MS, tokenFor, within } from '../support/control.js';
import { controlEnv, servicesFor } from '../control/in-process.js';

const REGION = 'aws-us-east-2';
const owner = () => sqlAt(stack.regions[REGION]!.postgresUrl);
const services = () => servicesFor(controlEnv({ STORAGE_REFRESH_SECONDS: '0' }));
const track = { title: 'Song', artist: 'Band', durationMs: 1000 };

/** Rows of ~470 bytes (two 200-character texts) for a row tenant, written as the owner. */
async function fill(tenantId: string, rows: number): Promise<void> {
  const sql = owner();
  await sql.transaction([
    sql.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]),
    sql.query("INSERT INTO shared.tracks (tenant_id, title, artist, duration_ms) SELECT $1, repeat('t', 200), repeat('a', 200), 1000 FROM generate_series(1, $2::int)", [tenantId, rows]),
  ]);
}

async function empty(tenantId: string): Promise<void> {
  const sql = owner();
  await sql.transaction([
    sql.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]),
    sql.query('DELETE FROM shared.tracks WHERE tenant_id = $1', [tenantId]),
  ]);
}

const stored = async (id: string) => (await sqlAt(stack.control.postgresUrl).query('SELECT bytes::float8 AS bytes, method FROM tenant_storage WHERE tenant_id = $1', [id]))[0] as { bytes: number; method: string } | undefined;

describe('storage quota', () => {
  it('over storage_mb: POST 507 STORAGE_QUOTA_EXCEEDED, GET 200 and DELETE served; after deleting data and a refresh POST is 201 again', async () => {
    const t = await createViaApi({ tier: 'STANDARD', overrides: { ratePerMinute: 600_000, burst: 10_000, storageMb: 1 } });
    const host = `${t.slug}.localhost`;
    const token = await tokenFor(t.id);
    const created = await postJson(host, '/api/v1/tracks', track, token);
    expect(created.status).toBe(201);
    const { track: first } = await created.json() as { track: { id: string } };

    // ~1.4 MB of rows: over 1 MiB once measured (and not before: nothing is refused on a guess).
    await fill(t.id, 3000);
    expect((await postJson(host, '/api/v1/tracks', track, token)).status).toBe(201);
    const report = await refreshStorage(await services(), { only: [t.id] });
    expect(report).toMatchObject({ measured: 1, failed: 0, changed: 1 });
    const m = (await stored(t.id))!;
    expect(m.method).toBe('row_tuples');
    expect(m.bytes).toBeGreaterThan(1024 * 1024);

    // The crossing bumped the tenant and invalidated the routers' caches: within the L1 TTL.
    const refusedAfter = await within(L1_TTL_MS + 3_000, async () => (await postJson(host, '/api/v1/tracks', track, token)).status === 507);
    expect(refusedAfter).not.toBeNull();
    const refused = await postJson(host, '/api/v1/tracks', track, token);
    expect(refused.status).toBe(507);
    expect((await errorOf(refused)).code).toBe('STORAGE_QUOTA_EXCEEDED');
    expect((await call(host, '/api/v1/tracks?limit=5', { token })).status).toBe(200);
    expect((await call(host, `/api/v1/tracks/${first.id}`, { token })).status).toBe(200);
    expect((await call(host, `/api/v1/tracks/${first.id}`, { token, method: 'DELETE' })).status).toBe(204);

    const usage = await (await admin(`/admin/v1/tenants/${t.id}/usage`)).json() as { storage: { bytes: number; limitBytes: number; over: boolean; method: string } };
    expect(usage.storage).toMatchObject({ bytes: m.bytes, limitBytes: 1024 * 1024, over: true, method: 'row_tuples' });

    await empty(t.id);
    // Still refused until the next measurement says otherwise.
    expect((await postJson(host, '/api/v1/tracks', track, token)).status).toBe(507);
    expect(await refreshStorage(await services(), { only: [t.id] })).toMatchObject({ measured: 1, changed: 1 });
    expect((await stored(t.id))!.bytes).toBe(0);
    const acceptedAfter = await within(L1_TTL_MS + 3_000, async () => (await postJson(host, '/api/v1/tracks', track, token)).status === 201);
    expect(acceptedAfter).not.toBeNull();
    // A measurement that crosses nothing changes nothing the routers hold.
    expect(await refreshStorage(await services(), { only: [t.id] })).toMatchObject({ measured: 1, changed: 0 });
  });

  it('measures a schema tenant by its relations and a database tenant by its database, and a row tenant by its rows only', async () => {
    const [schemaT, dbT, rowA, rowB] = await Promise.all([
      createViaApi({ tier: 'PREMIUM' }), createViaApi({ tier: 'ENTERPRISE' }), createViaApi({ tier: 'STANDARD' }), createViaApi({ tier: 'STANDARD' }),
    ]);
    await fill(rowA.id, 500);
    const report = await refreshStorage(await services(), { only: [schemaT.id, dbT.id, rowA.id, rowB.id] });
    expect(report).toMatchObject({ measured: 4, failed: 0 });
    const [s, d, a, b] = await Promise.all([schemaT, dbT, rowA, rowB].map((x) => stored(x.id)));
    const ident = tenantIdent(schemaT.id);
    const [exact] = await owner().query(
      `SELECT sum(pg_total_relation_size(c.oid))::float8 AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r', 'm')`, [ident]) as { n: number }[];
    expect(s).toEqual({ bytes: exact!.n, method: 'schema_relations' });
    expect(d!.method).toBe('database_size');
    // An empty database still holds its catalogues: several MB.
    expect(d!.bytes).toBeGreaterThan(5 * 1024 * 1024);
    // Rows of another tenant in the same tables are not counted.
    expect(a!.method).toBe('row_tuples');
    expect(a!.bytes).toBeGreaterThan(500 * 400);
    expect(a!.bytes).toBeLessThan(500 * 600);
    expect(b).toEqual({ bytes: 0, method: 'row_tuples' });
    expect(rowTuplesQuery(['"shared"."tracks"'])).toContain('pg_column_size(x.*)');
  });

  it("the row method's error: the tuple sum of rows against PostgreSQL's own sizes of the same rows (docs/quotas.md)", async () => {
    // The same rows in a schema tenant's table, where PostgreSQL's exact figures are known.
    const t = await createViaApi({ tier: 'PREMIUM' });
    const table = `${tenantIdent(t.id)}.tracks`;
    const sql = owner();
    const [, , r] = await sql.transaction([
      sql.query("SELECT set_config('app.tenant_id', $1, true)", [t.id]),
      sql.query(`INSERT INTO ${table} (tenant_id, title, artist, duration_ms) SELECT $1, 'Song ' || g, 'Band ' || (g % 50), 180000 + g FROM generate_series(1, 2000) g`, [t.id]),
      sql.query(`SELECT (SELECT sum(pg_column_size(x.*)) FROM ${table} x)::float8 AS tuples, pg_relation_size('${table}')::float8 AS heap,
                        pg_total_relation_size('${table}')::float8 AS total`),
    ]) as [unknown, unknown, { tuples: number; heap: number; total: number }[]];
    const { tuples, heap, total } = r[0]!;
    console.log(JSON.stringify({ rows: 2000, tuples, heap, total, ofHeap: +(tuples / heap).toFixed(3), ofTotal: +(tuples / total).toFixed(3) }));
    // Counted: the rows' data; not counted: page and line-pointer overhead (heap) and the indexes (total).
    expect(tuples).toBeLessThan(heap);
    expect(tuples / heap).toBeGreaterThan(0.8);
    expect(tuples / total).toBeGreaterThan(0.3);
  });

  it('a tenant whose measurement fails backs off, so it does not take every run from the others; a success clears it', async () => {
    const control = sqlAt(stack.control.postgresUrl);
    const [bad, good] = await Promise.all([createViaApi({ region: 'aws-eu-central-1' }), createViaApi({ region: REGION })]);
    // `good` was measured a day ago: due, but after `bad`, which never was (never-measured first).
    await control.query("INSERT INTO tenant_storage (tenant_id, bytes, method, measured_at) VALUES ($1, 0, 'row_tuples', now() - interval '1 day') ON CONFLICT (tenant_id) DO UPDATE SET measured_at = EXCLUDED.measured_at", [good.id]);
    // A control plane that cannot reach bad's region: its measurement fails on every run.
    const urls = JSON.parse(controlEnv().REGION_ADMIN_URLS) as Record<string, string>;
    delete urls['aws-eu-central-1'];
    const blind = await servicesFor(controlEnv({ STORAGE_REFRESH_SECONDS: '0', REGION_ADMIN_URLS: JSON.stringify(urls) }));
    const only = [bad.id, good.id];
    expect(await refreshStorage(blind, { only, batch: 1 })).toMatchObject({ measured: 0, failed: 1 });
    expect(await refreshStorage(blind, { only, batch: 1 })).toMatchObject({ measured: 1, failed: 0 });
    const [g] = await control.query("SELECT measured_at > now() - interval '1 minute' AS fresh FROM tenant_storage WHERE tenant_id = $1", [good.id]);
    expect(g).toEqual({ fresh: true });
    const [a] = await control.query("SELECT failures, retry_at > now() + interval '50 seconds' AS waits FROM tenant_storage_attempts WHERE tenant_id = $1", [bad.id]);
    expect(a).toEqual({ failures: 1, waits: true });
    // bad is backing off: the next run takes good again (the interval here is 0 s), not bad.
    expect(await refreshStorage(blind, { only, batch: 1 })).toMatchObject({ measured: 1, failed: 0 });
    expect(await control.query('SELECT failures FROM tenant_storage_attempts WHERE tenant_id = $1', [bad.id])).toEqual([{ failures: 1 }]);

    // Once its wait is over, a control plane that reaches the region measures it and forgets the failures.
    await control.query("UPDATE tenant_storage_attempts SET retry_at = now() - interval '1 second' WHERE tenant_id = $1", [bad.id]);
    expect(await refreshStorage(await services(), { only: [bad.id] })).toMatchObject({ measured: 1, failed: 0 });
    expect(await control.query('SELECT 1 FROM tenant_storage_attempts WHERE tenant_id = $1', [bad.id])).toEqual([]);
    expect(await stored(bad.id)).toMatchObject({ method: 'row_tuples' });
  });
});
