/**
 * Logical backups and restores end to end (src/backups/): the control plane in this isolate (its
 * BACKUPS bucket is the test's own R2 binding, so the tests can read and alter the objects),
 * against the stack's real PostgreSQL, with the tenants' traffic through the router. Backup →
 * rows changed through the router → restore → the rows are the backup's, byte for byte as
 * PostgreSQL writes them, and the router serves them; into a new tenant; under writers (refused
 * 503 TENANT_MIGRATING, nothing half-applied); tampered or foreign backups refused with nothing
 * changed; the schedule per tier and retention in the maintenance run; erase leaves nothing.
 * One call also goes through the stack's own control worker (wrangler dev's local R2).
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Env } from 'edge-tenant-router';
import { call as controlCall, controlEnv, servicesFor } from '../control/in-process.js';
import { admin, createViaApi, tokenFor, type CreatedTenant } from '../support/control.js';
import { call, errorOf, postJson, sqlAt, stack, unique } from '../support/helpers.js';
import { withDatabase } from '../../src/provisioning/provisioner.js';
import { runScheduled } from '../../src/control/maintenance.js';
import type { BackupRecord } from '../../src/backups/store.js';
import type { RestoreReport } from '../../src/backups/restore.js';
import type { ErasureReceipt } from '../../src/tenant-data/erase.js';
import { sha256Hex } from '../../src/backups/seal.js';

const US = 'aws-us-east-2';
const testEnv = env as unknown as Env & { BACKUPS: R2Bucket };
const BUCKET = testEnv.BACKUPS;
const CONTROL = controlEnv({ BACKUPS: BUCKET, PURGE_GRACE_SECONDS: '0', TENANT_GUARD: testEnv.TENANT_GUARD, DO_JURISDICTIONS: 'false' });
const control = sqlAt(stack.control.postgresUrl);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const backupOf = async (t: { id: string }): Promise<BackupRecord> => {
  const res = await controlCall(CONTROL, `/admin/v1/tenants/${t.id}/backups`, { method: 'POST' });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json() as Promise<BackupRecord>;
};
const restore = (t: { id: string }, body: unknown) => controlCall(CONTROL, `/admin/v1/tenants/${t.id}/restore`, { method: 'POST', json: body });

/** Where the tenant's `tracks` are: an owner connection and the qualified table. */
async function tracksOf(id: string): Promise<{ sql: ReturnType<typeof sqlAt>; table: string }> {
  const [p] = await control.query('SELECT region, strategy, schema_name, database_name FROM tenant_placements WHERE tenant_id = $1', [id]) as { region: string; strategy: string; schema_name: string; database_name: string | null }[];
  const base = stack.regions[p!.region]!.postgresUrl;
  return { sql: sqlAt(p!.strategy === 'database' ? withDatabase(base, p!.database_name!) : base), table: `${p!.strategy === 'row' ? 'shared' : p!.schema_name}.tracks` };
}

/** The tenant's rows as PostgreSQL's JSON text, in id order (what a restore must give back exactly). */
async function rowsOf(id: string, as = id): Promise<string[]> {
  const { sql, table } = await tracksOf(id);
  const [, rows] = await sql.transaction([
    sql.query("SELECT set_config('app.tenant_id', $1, true)", [id]),
    sql.query(`SELECT (to_jsonb(t) || jsonb_build_object('tenant_id', $2::uuid))::text AS r FROM ${table} t WHERE tenant_id = $1 ORDER BY id`, [id, as]),
  ]) as [unknown, { r: string }[]];
  return rows.map((x) => x.r);
}

async function insertBulk(id: string, n: number, prefix: string): Promise<void> {
  const { sql, table } = await tracksOf(id);
  await sql.transaction([
    sql.query("SELECT set_config('app.tenant_id', $1, true)", [id]),
    sql.query(`INSERT INTO ${table} (tenant_id, title, artist, duration_ms) SELECT $1, $2 || g, 'bulk', g FROM generate_series(1, $3::int) g`, [id, prefix, n]),
  ]);
}

const host = (t: { slug: string }) => `${t.slug}.localhost`;
async function addTracks(t: CreatedTenant, titles: string[]): Promise<string[]> {
  const token = await tokenFor(t.id);
  const ids: string[] = [];
  for (const title of titles) {
    const res = await postJson(host(t), '/api/v1/tracks', { title, artist: 'backup', durationMs: 1234 }, token);
    expect(res.status).toBe(201);
    ids.push(((await res.json()) as { track: { id: string } }).track.id);
  }
  return ids;
}
async function servedTitles(t: CreatedTenant): Promise<string[]> {
  const res = await call(host(t), '/api/v1/tracks?limit=100', { token: await tokenFor(t.id) });
  expect(res.status).toBe(200);
  return ((await res.json()) as { tracks: { title: string }[] }).tracks.map((x) => x.title).sort();
}

describe('backup and restore into the same tenant', () => {
  it.each(['row', 'schema', 'database'] as const)('%s: rows changed through the router come back exactly as backed up, and the router serves them', async (isolation) => {
    const t = await createViaApi({ isolation, region: US });
    const [first] = await addTracks(t, ['one', 'two', 'three']);
    const before = await rowsOf(t.id);
    const b = await backupOf(t);
    expect(b).toMatchObject({ tenantId: t.id, kind: 'manual', status: 'complete', isolation, rows: 3, tables: [{ name: 'tracks', key: 'id', rows: 3 }] });
    // The object: where the record says, the bytes its SHA-256 names, nothing readable, no secrets in its metadata.
    const obj = await BUCKET.get(`backups/${t.id}/${b.id}`);
    const bytes = new Uint8Array(await obj!.arrayBuffer());
    expect(await sha256Hex(bytes)).toBe(b.sha256);
    expect(bytes.byteLength).toBe(b.bytes);
    expect(new TextDecoder().decode(bytes)).not.toContain('three');
    expect(Object.keys(obj!.customMetadata ?? {}).sort()).toEqual(['backupId', 'format', 'keyId', 'kind', 'sha256', 'takenAt', 'tenantId']);

    await addTracks(t, ['four', 'five']);
    const token = await tokenFor(t.id);
    expect((await call(host(t), `/api/v1/tracks/${first}`, { method: 'DELETE', token })).status).toBe(204);
    expect(await servedTitles(t)).toEqual(['five', 'four', 'three', 'two']);

    const res = await restore(t, { backupId: b.id });
    const report = await res.json() as RestoreReport;
    expect(res.status, JSON.stringify(report)).toBe(200);
    expect(report).toMatchObject({ backupId: b.id, tenantId: t.id, into: 'same', deleted: 4, inserted: 3, tables: [{ name: 'tracks', rows: 3 }] });
    expect(await rowsOf(t.id)).toEqual(before);
    expect(await servedTitles(t)).toEqual(['one', 'three', 'two']);

    const list = await (await controlCall(CONTROL, `/admin/v1/tenants/${t.slug}/backups`)).json() as { backups: BackupRecord[] };
    expect(list.backups.map((x) => x.id)).toEqual([b.id]);
    const audit = await control.query("SELECT action FROM audit_log WHERE tenant_id = $1 AND action IN ('tenant.backup', 'tenant.restore') ORDER BY seq", [t.id]) as { action: string }[];
    expect(audit.map((x) => x.action)).toEqual(['tenant.backup', 'tenant.restore']);
  });

  it.each(['schema', 'row'] as const)('restores into a new %s tenant: created and provisioned, every row rewritten to its id; the source is untouched', async (isolation) => {
    const t = await createViaApi({ isolation: 'row', region: US });
    await addTracks(t, ['alpha', 'beta']);
    const b = await backupOf(t);
    await addTracks(t, ['gamma']);
    const slug = unique('r-');
    const res = await restore(t, { backupId: b.id, target: { newTenant: { slug, isolation } } });
    const report = await res.json() as RestoreReport;
    expect(res.status, JSON.stringify(report)).toBe(200);
    expect(report).toMatchObject({ into: 'new', sourceTenantId: t.id, inserted: 2 });
    const fresh = await (await admin(`/admin/v1/tenants/${slug}`)).json() as CreatedTenant;
    expect(fresh).toMatchObject({ id: report.tenantId, slug, status: 'active', isolation, tier: t.tier, region: US });
    const newRows = (await rowsOf(fresh.id)).map((r) => JSON.parse(r) as Record<string, unknown>);
    const sourceNow = (await rowsOf(t.id)).map((r) => JSON.parse(r) as Record<string, unknown>);
    expect(sourceNow).toHaveLength(3);
    const backedUp = sourceNow.filter((r) => r.title !== 'gamma');
    for (const r of newRows) expect(r.tenant_id).toBe(fresh.id);
    // Every column as backed up but the tenant id and the key: a new tenant always gets keys of its own.
    const strip = (rows: Record<string, unknown>[]) => rows.map(({ id: _id, tenant_id: _t, ...rest }) => rest).sort((x, y) => String(x.title).localeCompare(String(y.title)));
    expect(strip(newRows)).toEqual(strip(backedUp));
    for (const k of newRows.map((r) => r.id)) expect(backedUp.map((r) => r.id)).not.toContain(k);
    expect(await servedTitles(fresh)).toEqual(['alpha', 'beta']);
    expect(await servedTitles(t)).toEqual(['alpha', 'beta', 'gamma']);
    // A slug that is taken: refused before anything is made.
    const taken = await restore(t, { backupId: b.id, target: { newTenant: { slug } } });
    expect(taken.status).toBe(409);
    expect((await errorOf(taken)).code).toBe('TENANT_EXISTS');
  });

  it('writers during a restore are refused 503 TENANT_MIGRATING and no write is half-applied', async () => {
    const t = await createViaApi({ isolation: 'row', region: US });
    await insertBulk(t.id, 20_000, 'bulk-');
    const b = await backupOf(t);
    const backedUp = await rowsOf(t.id);
    const token = await tokenFor(t.id);
    let stop = false;
    let restoredAt = Infinity;
    const batches: { prefix: string; status: number; code?: string; startedAt: number }[] = [];
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const prefix = `w${w}-${i}-`;
        const startedAt = Date.now();
        const res = await postJson(host(t), '/api/v1/tracks/import', { tracks: [1, 2, 3, 4, 5].map((n) => ({ title: `${prefix}${n}`, artist: 'w', durationMs: n })) }, token);
        const entry: (typeof batches)[number] = { prefix, status: res.status, startedAt };
        if (res.status !== 201) { entry.code = (await errorOf(res)).code; await sleep(20); } else await res.body?.cancel();
        batches.push(entry);
      }
    };
    const writers = Promise.all([0, 1, 2].map(writer));
    await sleep(500);
    const res = await restore(t, { backupId: b.id });
    restoredAt = Date.now();
    const report = await res.json() as RestoreReport;
    await sleep(500);
    stop = true;
    await writers;
    expect(res.status, JSON.stringify(report)).toBe(200);
    const refused = batches.filter((x) => x.status !== 201);
    expect(refused.length, `fence ${report.fenceMs} ms`).toBeGreaterThan(0);
    expect(new Set(refused.map((x) => `${x.status} ${x.code}`))).toEqual(new Set(['503 TENANT_MIGRATING']));
    const after = await rowsOf(t.id);
    const titles = after.map((r) => JSON.parse(r).title as string);
    const count = (prefix: string) => titles.filter((x) => x.startsWith(prefix)).length;
    for (const x of batches) expect([0, 5], x.prefix).toContain(count(x.prefix));
    for (const x of refused) expect(count(x.prefix), x.prefix).toBe(0);
    for (const x of batches.filter((y) => y.status === 201 && y.startedAt > restoredAt)) expect(count(x.prefix), x.prefix).toBe(5);
    // Besides the writers' batches, exactly the backup's rows.
    expect(after.filter((r) => !/"title": "w\d+-/.test(r))).toEqual(backedUp);
  }, 120_000);
});

describe('refused restores change nothing', () => {
  it('a tampered object (changed bytes; changed bytes with the recorded SHA-256 forged; another backup swapped in) is 409 BACKUP_CORRUPT', async () => {
    const t = await createViaApi({ isolation: 'row', region: US });
    await addTracks(t, ['keep']);
    const b1 = await backupOf(t);
    await addTracks(t, ['later']);
    const b2 = await backupOf(t);
    await addTracks(t, ['latest']);
    const now = await rowsOf(t.id);
    const key = `backups/${t.id}/${b1.id}`;
    const original = new Uint8Array(await (await BUCKET.get(key))!.arrayBuffer());
    const flipped = new Uint8Array(original);
    flipped[40] = flipped[40]! ^ 0xff;
    const refusedWith = async (why: RegExp) => {
      const res = await restore(t, { backupId: b1.id });
      expect(res.status).toBe(409);
      const e = await errorOf(res);
      expect(e.code).toBe('BACKUP_CORRUPT');
      expect(e.message).toMatch(why);
      expect(await rowsOf(t.id)).toEqual(now);
    };
    await BUCKET.put(key, flipped);
    await refusedWith(/SHA-256/);
    await control.query('UPDATE tenant_backups SET sha256 = $2 WHERE id = $1', [b1.id, await sha256Hex(flipped)]);
    await refusedWith(/does not open/);
    const other = new Uint8Array(await (await BUCKET.get(`backups/${t.id}/${b2.id}`))!.arrayBuffer());
    await BUCKET.put(key, other);
    await control.query('UPDATE tenant_backups SET sha256 = $2 WHERE id = $1', [b1.id, b2.sha256]);
    await refusedWith(/does not open/);
    await BUCKET.delete(key);
    await refusedWith(/missing/);
    // The intact one still restores.
    await BUCKET.put(key, original);
    await control.query('UPDATE tenant_backups SET sha256 = $2 WHERE id = $1', [b1.id, b1.sha256]);
    expect((await restore(t, { backupId: b1.id })).status).toBe(200);
    expect(await servedTitles(t)).toEqual(['keep']);
  });

  it("another tenant's backup id is 404 BACKUP_NOT_FOUND; a tenant whose data key is gone is 409 BACKUP_KEY_DESTROYED", async () => {
    const [a, c] = await Promise.all([createViaApi({ region: US }), createViaApi({ region: US })]);
    await addTracks(a, ['a-row']);
    await addTracks(c, ['c-row']);
    const ba = await backupOf(a);
    for (const id of [ba.id, crypto.randomUUID()]) {
      const res = await restore(c, { backupId: id });
      expect(res.status).toBe(404);
      expect((await errorOf(res)).code).toBe('BACKUP_NOT_FOUND');
    }
    expect(await servedTitles(c)).toEqual(['c-row']);
    const cBefore = await rowsOf(c.id);
    const bc = await backupOf(c);
    await control.query('DELETE FROM tenant_keys WHERE tenant_id = $1', [c.id]);
    const res = await restore(c, { backupId: bc.id });
    expect(res.status).toBe(409);
    expect((await errorOf(res)).code).toBe('BACKUP_KEY_DESTROYED');
    expect(await rowsOf(c.id)).toEqual(cBefore);
  });
  it('one backup of a tenant at a time: 409 BACKUP_IN_PROGRESS while one runs; one abandoned for 15 minutes is taken over', async () => {
    const t = await createViaApi({ region: US });
    const running = crypto.randomUUID();
    await control.query("INSERT INTO tenant_backups (id, tenant_id, kind, status) VALUES ($1, $2, 'manual', 'running')", [running, t.id]);
    const busy = await controlCall(CONTROL, `/admin/v1/tenants/${t.id}/backups`, { method: 'POST' });
    expect(busy.status).toBe(409);
    expect(busy.headers.get('retry-after')).toBe('10');
    expect((await errorOf(busy)).code).toBe('BACKUP_IN_PROGRESS');
    await control.query("UPDATE tenant_backups SET started_at = now() - interval '16 minutes' WHERE id = $1", [running]);
    const b = await backupOf(t);
    expect(b.status).toBe('complete');
    expect(await control.query('SELECT status, error FROM tenant_backups WHERE id = $1', [running])).toEqual([{ status: 'failed', error: expect.stringMatching(/abandoned/) }]);
  });
});

describe('the schedule, retention, export and erase', () => {
  it('the maintenance run takes the backups due per tier (PREMIUM every 6 h; STANDARD daily) and deletes expired ones', async () => {
    const [premium, standard] = await Promise.all([createViaApi({ tier: 'PREMIUM', region: US }), createViaApi({ tier: 'STANDARD', region: US })]);
    await control.query("UPDATE tenants SET created_at = now() - interval '7 hours' WHERE id = ANY ($1::uuid[])", [[premium.id, standard.id]]);
    const s = await servicesFor(CONTROL);
    const report = await runScheduled(s);
    expect(report.backups).toMatchObject({ failed: 0 });
    const kinds = async (id: string) => (await control.query("SELECT kind, status, expires_at > now() + interval '29 days' AS kept FROM tenant_backups WHERE tenant_id = $1", [id])) as { kind: string; status: string; kept: boolean }[];
    // Taken by this run, or by a run of the stack's own control worker that another test file started.
    expect(await kinds(premium.id)).toEqual([{ kind: 'scheduled', status: 'complete', kept: true }]);
    expect(await kinds(standard.id)).toEqual([]);
    // Not due again within the interval.
    await runScheduled(s);
    expect(await kinds(premium.id)).toHaveLength(1);

    // Retention deletes expired backups, object and row, but never the tenant's newest complete one.
    const manual = await backupOf(standard);
    const newest = await backupOf(standard);
    expect(await BUCKET.head(`backups/${standard.id}/${manual.id}`)).not.toBeNull();
    await control.query("UPDATE tenant_backups SET expires_at = now() - interval '1 second' WHERE id = ANY ($1::uuid[])", [[manual.id, newest.id]]);
    expect((await runScheduled(s)).backups).toMatchObject({ expired: expect.any(Number) });
    expect(await BUCKET.head(`backups/${standard.id}/${manual.id}`)).toBeNull();
    expect(await BUCKET.head(`backups/${standard.id}/${newest.id}`)).not.toBeNull();
    expect(await kinds(standard.id)).toEqual([{ kind: 'manual', status: 'complete', kept: false }]);
  }, 120_000);

  it("export lists the backups' metadata; erase deletes every backup object and row and its verification says none is left", async () => {
    const t = await createViaApi({ isolation: 'schema', region: US });
    await addTracks(t, ['gone']);
    const [b1, b2] = [await backupOf(t), await backupOf(t)];
    const exported = await (await controlCall(CONTROL, `/admin/v1/tenants/${t.id}/export`, { method: 'POST' })).text();
    const listed = exported.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { part?: string; item?: { id: string; sha256: string } }).filter((l) => l.part === 'backups');
    expect(listed.map((l) => l.item!.id).sort()).toEqual([b1.id, b2.id].sort());
    expect(exported).not.toContain('"wrapped"');

    const res = await controlCall(CONTROL, `/admin/v1/tenants/${t.id}/erase?confirm=${t.slug}`, { method: 'POST' });
    const receipt = await res.json() as ErasureReceipt;
    expect(res.status, JSON.stringify(receipt)).toBe(200);
    expect(receipt).toMatchObject({
      removed: { control: { tenant_backups: 2 }, storage: { backupObjects: 2 } },
      verification: { complete: true, control: { tenant_backups: 0 }, storage: { backupObjects: 0 } },
    });
    expect((await BUCKET.list({ prefix: `backups/${t.id}/` })).objects).toEqual([]);
    expect(await control.query('SELECT id FROM tenant_backups WHERE tenant_id = $1', [t.id])).toEqual([]);
    const gone = await restore(t, { backupId: b1.id });
    expect(gone.status).toBe(404);
  });

  it("deleting a tenant destroys its key at once; the purge after the grace deletes its backups' objects and rows", async () => {
    const t = await createViaApi({ region: US });
    await addTracks(t, ['deleted']);
    const b = await backupOf(t);
    const del = await controlCall(CONTROL, `/admin/v1/tenants/${t.id}?confirm=${t.slug}`, { method: 'DELETE' });
    expect(del.status, await del.clone().text()).toBe(200);
    expect(await control.query('SELECT 1 FROM tenant_keys WHERE tenant_id = $1', [t.id])).toEqual([]);
    // PURGE_GRACE_SECONDS=0: the maintenance run after the call (or this one) purges it.
    await runScheduled(await servicesFor(CONTROL));
    expect(await BUCKET.head(`backups/${t.id}/${b.id}`)).toBeNull();
    expect(await control.query('SELECT id FROM tenant_backups WHERE tenant_id = $1', [t.id])).toEqual([]);
    const [purged] = await control.query("SELECT entry::jsonb -> 'detail' AS d FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.purged'", [t.id]) as { d: { backups?: number } }[];
    expect(purged?.d.backups).toBe(1);
  });

  it("the stack's control worker has the bucket (wrangler dev's local R2): a backup through it is listed", async () => {
    const t = await createViaApi({ region: US });
    await addTracks(t, ['via-stack']);
    const res = await admin(`/admin/v1/tenants/${t.id}/backups`, { method: 'POST' });
    const b = await res.json() as BackupRecord;
    expect(res.status, JSON.stringify(b)).toBe(201);
    expect(b).toMatchObject({ status: 'complete', rows: 1 });
    const list = await (await admin(`/admin/v1/tenants/${t.id}/backups`)).json() as { backups: BackupRecord[] };
    expect(list.backups.map((x) => x.id)).toEqual([b.id]);
    const restored = await admin(`/admin/v1/tenants/${t.id}/restore`, { method: 'POST', json: { backupId: b.id, target: 'same' } });
    expect(restored.status, await restored.clone().text()).toBe(200);
  });
});
