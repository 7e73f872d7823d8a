/**
 * Moving a tenant online (POST /admin/v1/tenants/{id}/move, src/moves/move.ts) under traffic:
 * writers and a reader run through the router while the tenant moves row → schema in its cluster,
 * then schema → row into another region's cluster. Invariants: every write answered 201 is in the
 * target exactly once, nothing else is (no lost, duplicated or phantom rows), a write is only ever
 * refused with 503 TENANT_MIGRATING, reads are served, nothing is left in the source, and the
 * fence's duration is reported. Plus the refusals, and a rollback that leaves the tenant where it was.
 */
import { describe, expect, it } from 'vitest';
import { admin, createViaApi, tokenFor, type CreatedTenant } from '../support/control.js';
import { call, errorOf, postJson, sqlAt, stack } from '../support/helpers.js';
import { guardFor, meteredBy } from '../support/guards.js';
import { call as inProcess, controlEnv } from '../control/in-process.js';

const US = 'aws-us-east-2';
const EU = 'aws-eu-central-1';
const owner = (region: string) => sqlAt(stack.regions[region]!.postgresUrl);
const ident = (id: string) => `t_${id.replace(/-/g, '')}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Load { acknowledged: Set<string>; refusedWrites: number; reads: Record<string, number>; unexpected: string[] }

/** Writers and a reader for `t` until `stop()`. */
function traffic(t: CreatedTenant, token: string, round: number, stop: () => boolean, writers = 4): { load: Load; done: Promise<void> } {
  const load: Load = { acknowledged: new Set(), refusedWrites: 0, reads: {}, unexpected: [] };
  const host = `${t.slug}.localhost`;
  let seq = 0;
  const writer = async (w: number) => {
    while (!stop()) {
      const title = `r${round}w${w}-${++seq}`;
      const res = await postJson(host, '/api/v1/tracks', { title, artist: 'mover', durationMs: 1000 }, token);
      if (res.status === 201) { load.acknowledged.add(title); continue; }
      const body = await res.text();
      if (res.status === 503 && body.includes('"TENANT_MIGRATING"')) { load.refusedWrites++; await sleep(50); }
      else load.unexpected.push(`write ${res.status} ${body}`);
    }
  };
  const reader = async () => {
    while (!stop()) {
      const res = await call(host, '/api/v1/tracks?limit=5', { token });
      const key = res.status === 200 ? '200' : `${res.status} ${(await errorOf(res)).code}`;
      if (res.status === 200) await res.body?.cancel();
      load.reads[key] = (load.reads[key] ?? 0) + 1;
      if (key !== '200' && key !== '503 TENANT_MIGRATING') load.unexpected.push(`read ${key}`);
      await sleep(20);
    }
  };
  return { load, done: Promise.all([...Array.from({ length: writers }, (_, w) => writer(w)), reader()]).then(() => {}) };
}

/** The titles of the tenant's rows in `schema.tracks` of `region`'s shared database, or of its own database (`schema` public). */
async function titles(region: string, schema: string, tenantId: string): Promise<string[]> {
  const rows = await where(region, schema, tenantId).query(`SELECT title FROM ${schema}.tracks WHERE tenant_id = $1`, [tenantId]) as { title: string }[];
  return rows.map((r) => r.title).filter((x) => /^r\d+w\d+-\d+$/.test(x)).sort();
}

/** The owner connection of the database that holds the tenant's `schema` in `region`. */
function where(region: string, schema: string, tenantId: string) {
  if (schema !== 'public') return owner(region);
  const u = new URL(stack.regions[region]!.adminUrl);
  u.pathname = `/${ident(tenantId)}`;
  return sqlAt(u.toString());
}

const databases = async (region: string, tenantId: string) =>
  (await sqlAt(stack.regions[region]!.adminUrl).query('SELECT count(*)::int AS n FROM pg_database WHERE datname = $1', [ident(tenantId)]))[0]!.n as number;

/** One move of `t` under writers and a reader: every acknowledged write is in the target exactly once. */
async function moveUnderLoad(t: CreatedTenant, token: string, everAcknowledged: Set<string>, to: { isolation: string; region?: string }, schemaOf: () => string) {
  let stopped = false;
  const { load, done } = traffic(t, token, everAcknowledged.size, () => stopped);
  await sleep(1_500);
  const res = await move(t.id, to);
  const report = await res.json() as { fenceMs: number; copied: Record<string, number>; tail: unknown; to: { region: string; isolation: string }; cleaned: boolean; version: number };
  expect(res.status, JSON.stringify(report)).toBe(200);
  await sleep(1_500); // writes keep landing in the target after the switch
  stopped = true;
  await done;
  expect(load.unexpected).toEqual([]);
  expect(report.cleaned).toBe(true);
  expect(report.to.isolation).toBe(to.isolation);
  for (const x of load.acknowledged) everAcknowledged.add(x);
  expect(await titles(report.to.region, schemaOf(), t.id)).toEqual([...everAcknowledged].sort());
  // Reads were served throughout (how many depends on the machine's load; writes are counted above).
  expect(load.reads['200'] ?? 0).toBeGreaterThan(3);
  expect(load.reads['503 TENANT_MIGRATING'] ?? 0).toBeLessThanOrEqual(3);
  console.log(JSON.stringify({ move: to, fenceMs: report.fenceMs, copied: report.copied, tail: report.tail, acknowledged: load.acknowledged.size, refusedWrites: load.refusedWrites, reads: load.reads }));
  return report;
}

async function move(id: string, body: Record<string, unknown>): Promise<Response> {
  return admin(`/admin/v1/tenants/${id}/move`, { method: 'POST', json: body });
}

describe('moving a tenant online', () => {
  it('row → schema (same cluster), then schema → row in another region: no write lost, duplicated or invented; reads served; source emptied', async () => {
    const t = await createViaApi({ isolation: 'row', region: US });
    const token = await tokenFor(t.id);
    const everAcknowledged = new Set<string>();
    // Each move: exactly the writes acknowledged so far (this round's and the round before's, moved again), each once.
    expect((await moveUnderLoad(t, token, everAcknowledged, { isolation: 'schema' }, () => ident(t.id))).to.region).toBe(US);
    expect((await moveUnderLoad(t, token, everAcknowledged, { isolation: 'row', region: EU }, () => 'shared')).to.region).toBe(EU);
    // Nothing of the tenant is left where it was.
    expect((await owner(US).query(`SELECT count(*)::int AS n FROM shared.tracks WHERE tenant_id = $1`, [t.id]))).toEqual([{ n: 0 }]);
    expect((await owner(US).query('SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1', [ident(t.id)]))).toEqual([{ n: 0 }]);
    const view = await (await admin(`/admin/v1/tenants/${t.id}`)).json() as { isolation: string; region: string };
    expect([view.isolation, view.region]).toEqual(['row', EU]);
    const history = await (await admin(`/admin/v1/tenants/${t.id}/moves`)).json() as { moves: { state: string; fenceMs: number }[] };
    expect(history.moves.map((m) => m.state)).toEqual(['cleaned', 'cleaned']);
    // A write after the moves lands in the new place.
    expect((await postJson(`${t.slug}.localhost`, '/api/v1/tracks', { title: 'after', artist: 'x', durationMs: 1 }, token)).status).toBe(201);
    expect((await owner(EU).query(`SELECT count(*)::int AS n FROM shared.tracks WHERE tenant_id = $1 AND title = 'after'`, [t.id]))).toEqual([{ n: 1 }]);

    // Deleted and purged, the tenant leaves nothing of its moves: no floor or fence in either
    // region's database, no move records.
    const floors = async () => (await owner(US).query('SELECT count(*)::int AS n FROM router.placement_floors WHERE tenant_id = $1', [t.id]))[0]!.n
      + (await owner(EU).query('SELECT count(*)::int AS n FROM router.placement_floors WHERE tenant_id = $1', [t.id]))[0]!.n;
    expect(await floors()).toBeGreaterThan(0); // both moves left the US database: one floor there
    expect((await admin(`/admin/v1/tenants/${t.id}?confirm=${t.slug}`, { method: 'DELETE' })).status).toBe(200);
    const control = sqlAt(stack.control.postgresUrl);
    // The DELETE's own background maintenance run may be under way (a scheduled call joins it, and
    // it claimed its rows before this one was made due): the next runs take it.
    for (let i = 0; i < 20 && (await control.query('SELECT 1 FROM pending_unfences WHERE tenant_id = $1', [t.id])).length > 0; i++) {
      await control.query('UPDATE pending_unfences SET due_at = now() WHERE tenant_id = $1', [t.id]);
      expect((await fetch(`${stack.control.url}/__scheduled?cron=*+*+*+*+*`)).status).toBe(200);
      await sleep(100);
    }
    expect(await control.query('SELECT 1 FROM pending_unfences WHERE tenant_id = $1', [t.id])).toEqual([]);
    expect(await floors()).toBe(0);
    expect((await owner(US).query('SELECT count(*)::int AS n FROM router.write_fences WHERE tenant_id = $1', [t.id]))).toEqual([{ n: 0 }]);
    expect(await control.query('SELECT 1 FROM tenant_moves WHERE tenant_id = $1', [t.id])).toEqual([]);
  }, 120_000);

  it('schema → a database of its own → a database in another region → row: no write lost or duplicated; each database left is dropped', async () => {
    const t = await createViaApi({ isolation: 'schema', region: US });
    const token = await tokenFor(t.id);
    const acknowledged = new Set<string>();
    await moveUnderLoad(t, token, acknowledged, { isolation: 'database' }, () => 'public');
    expect((await owner(US).query('SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = $1', [ident(t.id)]))).toEqual([{ n: 0 }]);
    expect((await owner(US).query('SELECT count(*)::int AS n FROM pg_roles WHERE rolname = $1', [ident(t.id)]))).toEqual([{ n: 0 }]);
    expect(await databases(US, t.id)).toBe(1);
    await moveUnderLoad(t, token, acknowledged, { isolation: 'database', region: EU }, () => 'public');
    expect([await databases(US, t.id), await databases(EU, t.id)]).toEqual([0, 1]);
    await moveUnderLoad(t, token, acknowledged, { isolation: 'row', region: EU }, () => 'shared');
    expect([await databases(US, t.id), await databases(EU, t.id)]).toEqual([0, 0]);
    const view = await (await admin(`/admin/v1/tenants/${t.id}`)).json() as { isolation: string; region: string };
    expect([view.isolation, view.region]).toEqual(['row', EU]);
    const history = await (await admin(`/admin/v1/tenants/${t.id}/moves`)).json() as { moves: { state: string }[] };
    expect(history.moves.map((m) => m.state)).toEqual(['cleaned', 'cleaned', 'cleaned']);
  }, 180_000);

  it('a tier of another isolation moves the tenant first (PATCH answers once moved); the move is in its history', async () => {
    const t = await createViaApi({ tier: 'STANDARD', region: US });
    const token = await tokenFor(t.id);
    const host = `${t.slug}.localhost`;
    for (const title of ['one', 'two']) expect((await postJson(host, '/api/v1/tracks', { title, artist: 'x', durationMs: 1 }, token)).status).toBe(201);
    const res = await admin(`/admin/v1/tenants/${t.id}`, { method: 'PATCH', json: { tier: 'PREMIUM' } });
    const view = await res.json() as { tier: string; isolation: string; version: number };
    expect(res.status, JSON.stringify(view)).toBe(200);
    expect([view.tier, view.isolation]).toEqual(['PREMIUM', 'schema']);
    const moveId = res.headers.get('x-tenant-move');
    expect(moveId).toMatch(/^[0-9a-f-]{36}$/);
    expect(((await (await admin(`/admin/v1/tenants/${t.id}/moves`)).json()) as { moves: { id: string; state: string }[] }).moves[0]).toMatchObject({ id: moveId, state: 'cleaned' });
    expect((await owner(US).query(`SELECT title FROM ${ident(t.id)}.tracks ORDER BY title`))).toEqual([{ title: 'one' }, { title: 'two' }]);
    expect((await owner(US).query('SELECT count(*)::int AS n FROM shared.tracks WHERE tenant_id = $1', [t.id]))).toEqual([{ n: 0 }]);
    // With If-Match at a version the tenant has left: refused before anything moves.
    const stale = await admin(`/admin/v1/tenants/${t.id}`, { method: 'PATCH', json: { tier: 'ENTERPRISE' }, headers: { 'If-Match': `"v${view.version - 1}"` } });
    expect([stale.status, (await errorOf(stale)).code]).toEqual([412, 'PRECONDITION_FAILED']);
    expect(await databases(US, t.id)).toBe(0);
    // A tier of the same isolation changes limits only.
    const same = await admin(`/admin/v1/tenants/${t.id}`, { method: 'PATCH', json: { name: 'Same place' } });
    expect([same.status, same.headers.get('x-tenant-move')]).toEqual([200, null]);
    // This isolate cached the row placement before the move: at most one refusal (TR004), then served.
    let read = await call(host, '/api/v1/tracks?limit=10', { token });
    if (read.status === 503) { expect((await errorOf(read)).code).toBe('TENANT_MIGRATING'); read = await call(host, '/api/v1/tracks?limit=10', { token }); }
    expect(read.status).toBe(200);
    expect(((await read.json()) as { tracks: { title: string }[] }).tracks.map((x) => x.title).sort()).toEqual(['one', 'two']);
  }, 120_000);

  it("the TenantGuard's metering continues exactly across a move to another region: same object, every request counted once", async () => {
    const t = await createViaApi({ tier: 'STANDARD', region: US });
    const token = await tokenFor(t.id);
    const host = `${t.slug}.localhost`;
    const control = sqlAt(stack.control.postgresUrl);
    const jurisdiction = async () => (await control.query('SELECT guard_jurisdiction AS g FROM tenants WHERE id = $1', [t.id]))[0]!.g as string;
    const before = await jurisdiction();
    let sent = 0;
    const reads = async (n: number) => {
      for (let i = 0; i < n; i++) { const r = await call(host, '/api/v1/tracks?limit=1', { token }); await r.body?.cancel(); expect([200, 503]).toContain(r.status); sent++; }
    };
    // Unused leased tokens go back a lease TTL after the last use; then the object meters exactly
    // the units the router admitted (one per GET).
    const settled = async () => { await sleep(2_500); return meteredBy(guardFor(t)); };
    await reads(12);
    expect(await settled()).toBe(12);
    expect((await move(t.id, { region: EU })).status).toBe(200);
    await reads(12);
    // The same guard (named by the tenant and its jurisdiction, fixed at creation) counted on: 24, not 12.
    expect(await settled()).toBe(24);
    expect(sent).toBe(24);
    expect(await jurisdiction()).toBe(before);
  }, 60_000);

  it('refuses what it cannot do with a code, before touching anything', async () => {
    const t = await createViaApi({ isolation: 'row', region: US });
    const eu = await createViaApi({ isolation: 'row', region: EU, residency: 'EU' });
    const cases: [string, Record<string, unknown>, number, string][] = [
      [t.id, { isolation: 'row' }, 422, 'NOTHING_TO_MOVE'],
      [t.id, { region: 'aws-nowhere-1' }, 422, 'UNKNOWN_REGION'],
      [eu.id, { region: US }, 422, 'RESIDENCY_MISMATCH'],
      [t.id, { isolation: 'rows' }, 400, 'BAD_REQUEST'],
      [t.id, { region: US, extra: 1 }, 400, 'BAD_REQUEST'],
    ];
    for (const [id, body, status, code] of cases) {
      const res = await move(id, body);
      expect([res.status, (await errorOf(res)).code], JSON.stringify(body)).toEqual([status, code]);
    }
    expect(((await (await admin(`/admin/v1/tenants/${t.id}/moves`)).json()) as { moves: unknown[] }).moves).toEqual([]);
    expect((await move('00000000-0000-4000-8000-000000000000', { isolation: 'schema' })).status).toBe(404);
    // Another data operation (a backup, a restore, a promotion) holds the tenant: refused, nothing touched.
    const control = sqlAt(stack.control.postgresUrl);
    await control.query(`INSERT INTO tenant_operations (tenant_id, kind, token, expires_at) VALUES ($1, 'backup', gen_random_uuid(), now() + interval '1 minute')`, [t.id]);
    const busy = await move(t.id, { isolation: 'schema' });
    expect([busy.status, (await errorOf(busy)).code, busy.headers.get('retry-after')]).toEqual([409, 'OPERATION_IN_PROGRESS', '30']);
    await control.query('DELETE FROM tenant_operations WHERE tenant_id = $1', [t.id]);
    // Nor does a tier change that needs a move.
    await control.query(`INSERT INTO tenant_operations (tenant_id, kind, token, expires_at) VALUES ($1, 'restore', gen_random_uuid(), now() + interval '1 minute')`, [t.id]);
    const tier = await admin(`/admin/v1/tenants/${t.id}`, { method: 'PATCH', json: { tier: 'PREMIUM' } });
    expect([tier.status, (await errorOf(tier)).code]).toEqual([409, 'OPERATION_IN_PROGRESS']);
    expect(((await (await admin(`/admin/v1/tenants/${t.id}`)).json()) as { tier: string; isolation: string })).toMatchObject({ isolation: 'row' });
    // An expired claim (its holder died) is taken over.
    await control.query(`UPDATE tenant_operations SET expires_at = now() - interval '1 second' WHERE tenant_id = $1`, [t.id]);
    expect((await move(t.id, { isolation: 'schema' })).status).toBe(200);
    expect(await control.query('SELECT 1 FROM tenant_operations WHERE tenant_id = $1', [t.id])).toEqual([]);
  });

  it('refuses a move in the same isolation between two regions one cluster serves (it would copy the tenant onto itself and clean it)', async () => {
    const WEST = 'aws-us-west-2';
    // The operator maps us-west-2 to the cluster of us-east-2 (REGION_ADMIN_URLS), as a staging deployment might.
    const urls = Object.fromEntries(Object.entries(stack.regions).map(([r, u]) => [r, u.postgresUrl]));
    const oneCluster = controlEnv({ REGION_ADMIN_URLS: JSON.stringify({ ...urls, [WEST]: urls[US] }) });
    for (const isolation of ['row', 'schema'] as const) {
      const t = await createViaApi({ isolation, region: US, residency: 'US' });
      const token = await tokenFor(t.id);
      expect((await postJson(`${t.slug}.localhost`, '/api/v1/tracks', { title: 'stays', artist: 'x', durationMs: 1 }, token)).status).toBe(201);
      const res = await inProcess(oneCluster, `/admin/v1/tenants/${t.id}/move`, { method: 'POST', json: { region: WEST } });
      expect([res.status, (await errorOf(res)).code], isolation).toEqual([422, 'MOVE_NOT_SUPPORTED']);
      const table = isolation === 'row' ? 'shared.tracks' : `${ident(t.id)}.tracks`;
      expect(await owner(US).query(`SELECT title FROM ${table} WHERE tenant_id = $1`, [t.id])).toEqual([{ title: 'stays' }]);
      expect(((await (await admin(`/admin/v1/tenants/${t.id}/moves`)).json()) as { moves: unknown[] }).moves).toEqual([]);
      expect(await sqlAt(stack.control.postgresUrl).query('SELECT 1 FROM tenant_operations WHERE tenant_id = $1', [t.id])).toEqual([]);
    }
  });

  it('a move that fails after provisioning rolls back: the target is emptied, the tenant is served and writes where it was', async () => {
    const t = await createViaApi({ isolation: 'schema', region: US });
    const token = await tokenFor(t.id);
    const host = `${t.slug}.localhost`;
    expect((await postJson(host, '/api/v1/tracks', { title: 'kept', artist: 'x', durationMs: 1 }, token)).status).toBe(201);
    // A row of the tenant already sits in the target region's shared tables.
    await owner(EU).query(`INSERT INTO shared.tracks (tenant_id, title, artist, duration_ms) VALUES ($1, 'planted', 'x', 1)`, [t.id]);
    const res = await move(t.id, { isolation: 'row', region: EU });
    expect([res.status, (await errorOf(res)).code]).toEqual([409, 'MOVE_FAILED']);
    expect((await owner(EU).query('SELECT count(*)::int AS n FROM shared.tracks WHERE tenant_id = $1', [t.id]))).toEqual([{ n: 0 }]);
    const view = await (await admin(`/admin/v1/tenants/${t.id}`)).json() as { isolation: string; region: string };
    expect([view.isolation, view.region]).toEqual(['schema', US]);
    expect((await postJson(host, '/api/v1/tracks', { title: 'still', artist: 'x', durationMs: 1 }, token)).status).toBe(201);
    const read = await call(host, '/api/v1/tracks?limit=10', { token });
    expect(((await read.json()) as { tracks: { title: string }[] }).tracks.map((x) => x.title).sort()).toEqual(['kept', 'still']);
    const history = await (await admin(`/admin/v1/tenants/${t.id}/moves`)).json() as { moves: { state: string; error: string }[] };
    expect(history.moves[0]!.state).toBe('failed');
    expect(history.moves[0]!.error).toMatch(/already holds rows/);
  });
});
