/**
 * The guards around backups and restores (src/backups/): one data operation per tenant at a time
 * (tenant_operations, src/operations/claim.ts) for manual backups, restores and the schedule; the
 * byte budget of one backup (413 BACKUP_TOO_LARGE) and how the schedule backs off after any
 * attempt; restores into a new tenant (sealed values refused, keys always new, a half-made tenant
 * deleted again); retention keeping a tenant's newest complete backup. Against the stack's real
 * PostgreSQL, the control plane in this isolate with the test's own R2 binding.
 */
import { env } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { Env } from 'edge-tenant-router';
import { call as controlCall, controlEnv, servicesFor } from '../control/in-process.js';
import { createViaApi } from '../support/control.js';
import { errorOf, sqlAt, stack, unique } from '../support/helpers.js';
import { withDatabase } from '../../src/provisioning/provisioner.js';
import { AppError } from '../../src/errors.js';
import { takeBackup } from '../../src/backups/backup.js';
import { restoreBackup, type RestoreReport } from '../../src/backups/restore.js';
import { dueTenants, expireBackups } from '../../src/backups/schedule.js';
import type { BackupRecord } from '../../src/backups/store.js';
import { sealField } from '../../src/tenant-keys/field-seal.js';
import type { ControlServices } from '../../src/control/services.js';
import type { TenantView } from '../../src/control/schemas.js';
import { findTenant } from '../../src/control/tenant-repo.js';

const US = 'aws-us-east-2';
const testEnv = env as unknown as Env & { BACKUPS: R2Bucket };
const BUCKET = testEnv.BACKUPS;
const CONTROL = controlEnv({ BACKUPS: BUCKET, PURGE_GRACE_SECONDS: '0', TENANT_GUARD: testEnv.TENANT_GUARD, DO_JURISDICTIONS: 'false' });
const control = sqlAt(stack.control.postgresUrl);

const backupCall = (t: { id: string }) => controlCall(CONTROL, `/admin/v1/tenants/${t.id}/backups`, { method: 'POST' });
const backupOf = async (t: { id: string }): Promise<BackupRecord> => {
  const res = await backupCall(t);
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json() as Promise<BackupRecord>;
};
const restore = (t: { id: string }, body: unknown) => controlCall(CONTROL, `/admin/v1/tenants/${t.id}/restore`, { method: 'POST', json: body });

async function tracksOf(id: string): Promise<{ sql: ReturnType<typeof sqlAt>; table: string }> {
  const [p] = await control.query('SELECT region, strategy, schema_name, database_name FROM tenant_placements WHERE tenant_id = $1', [id]) as { region: string; strategy: string; schema_name: string; database_name: string | null }[];
  const base = stack.regions[p!.region]!.postgresUrl;
  return { sql: sqlAt(p!.strategy === 'database' ? withDatabase(base, p!.database_name!) : base), table: `${p!.strategy === 'row' ? 'shared' : p!.schema_name}.tracks` };
}
async function rowsOf(id: string): Promise<{ id: string; title: string }[]> {
  const { sql, table } = await tracksOf(id);
  const [, rows] = await sql.transaction([
    sql.query("SELECT set_config('app.tenant_id', $1, true)", [id]),
    sql.query(`SELECT id::text, title FROM ${table} WHERE tenant_id = $1 ORDER BY id`, [id]),
  ]) as [unknown, { id: string; title: string }[]];
  return rows;
}
async function addRows(id: string, titles: string[]): Promise<void> {
  const { sql, table } = await tracksOf(id);
  await sql.transaction([
    sql.query("SELECT set_config('app.tenant_id', $1, true)", [id]),
    sql.query(`INSERT INTO ${table} (tenant_id, title, artist, duration_ms) SELECT $1, x, 'guard', 1 FROM unnest($2::text[]) x`, [id, titles]),
  ]);
}
const backupsOf = async (id: string) => (await control.query('SELECT id, status, error FROM tenant_backups WHERE tenant_id = $1 ORDER BY started_at', [id])) as { id: string; status: string; error: string | null }[];
/** The tenant as the control plane reads it (what takeBackup and restoreBackup take). */
const viewOf = async (id: string): Promise<TenantView> => (await findTenant((await servicesFor(CONTROL)).sql, id))!;
const hold = (id: string) => control.query("INSERT INTO tenant_operations (tenant_id, kind, token, expires_at) VALUES ($1, 'move', $2, now() + interval '10 minutes')", [id, crypto.randomUUID()]);
const release = (id: string) => control.query('DELETE FROM tenant_operations WHERE tenant_id = $1', [id]);
const refusal = async (p: Promise<unknown>): Promise<AppError> => {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
};

describe('one data operation per tenant at a time', () => {
  it('while another operation holds the tenant, a backup and a restore are 409 OPERATION_IN_PROGRESS and change nothing; the schedule skips it; released, all work', async () => {
    const t = await createViaApi({ isolation: 'schema', region: US, tier: 'PREMIUM' });
    await addRows(t.id, ['kept']);
    const b = await backupOf(t);
    await addRows(t.id, ['later']);
    const rows = await rowsOf(t.id);
    // Due for its scheduled backup (its last one is 7 h old, PREMIUM's interval is 6 h).
    await control.query("UPDATE tenants SET created_at = now() - interval '8 hours' WHERE id = $1", [t.id]);
    await control.query("UPDATE tenant_backups SET taken_at = now() - interval '7 hours', started_at = now() - interval '7 hours' WHERE id = $1", [b.id]);
    const s = await servicesFor(CONTROL);
    expect(await dueTenants(s, 100_000)).toContain(t.id);

    await hold(t.id);
    for (const res of [await backupCall(t), await restore(t, { backupId: b.id }), await restore(t, { backupId: b.id, target: { newTenant: { slug: unique('held-') } } })]) {
      expect(res.status).toBe(409);
      expect(res.headers.get('retry-after')).toBe('30');
      expect((await errorOf(res)).code).toBe('OPERATION_IN_PROGRESS');
    }
    expect(await backupsOf(t.id)).toEqual([{ id: b.id, status: 'complete', error: null }]);
    expect(await rowsOf(t.id)).toEqual(rows);
    expect(await control.query('SELECT kind FROM tenant_operations WHERE tenant_id = $1', [t.id])).toEqual([{ kind: 'move' }]);
    // The schedule does not pick it, and a backup it had picked just before is skipped, not failed.
    expect(await dueTenants(s, 100_000)).not.toContain(t.id);
    const skipped = await refusal(takeBackup(s, await viewOf(t.id), 'scheduled'));
    expect(skipped.code).toBe('OPERATION_IN_PROGRESS');
    expect(await backupsOf(t.id)).toHaveLength(1);

    await release(t.id);
    expect(await dueTenants(s, 100_000)).toContain(t.id);
    const res = await restore(t, { backupId: b.id });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await rowsOf(t.id)).map((r) => r.title)).toEqual(['kept']);
    expect((await backupOf(t)).status).toBe('complete');
    // Each released its claim.
    expect(await control.query('SELECT 1 FROM tenant_operations WHERE tenant_id = $1', [t.id])).toEqual([]);
  });
});

describe('a deletion and the data operations exclude each other', () => {
  it('while an operation holds the tenant its delete is 409 OPERATION_IN_PROGRESS and changes nothing; an operation started from a view read before a delete stops', async () => {
    const t = await createViaApi({ isolation: 'row', region: US });
    await addRows(t.id, ['stays']);
    const del = () => controlCall(CONTROL, `/admin/v1/tenants/${t.id}?confirm=${t.slug}`, { method: 'DELETE' });
    await hold(t.id);
    const refused = await del();
    expect(refused.status).toBe(409);
    expect(refused.headers.get('retry-after')).toBe('30');
    expect(await errorOf(refused)).toMatchObject({ code: 'OPERATION_IN_PROGRESS', message: expect.stringMatching(/a move of this tenant/) });
    expect(await control.query('SELECT status FROM tenants WHERE id = $1', [t.id])).toEqual([{ status: 'active' }]);
    expect((await rowsOf(t.id)).map((r) => r.title)).toEqual(['stays']);
    await release(t.id);

    // Read while active; the tenant is marked deleting (a deletion whose storage removal failed
    // leaves it so) before the operation claims: it stops, and takes nothing.
    const s = await servicesFor(CONTROL);
    const stale = await viewOf(t.id);
    await control.query("UPDATE tenants SET status = 'deleting' WHERE id = $1", [t.id]);
    const stopped = await refusal(takeBackup(s, stale, 'manual'));
    expect([stopped.status, stopped.code, stopped.message]).toEqual([409, 'INVALID_STATE', 'tenant is deleting']);
    expect(await backupsOf(t.id)).toEqual([]);
    // The delete, repeated, goes through; an operation after it finds no tenant.
    expect((await del()).status).toBe(200);
    expect((await refusal(takeBackup(s, stale, 'manual'))).code).toBe('TENANT_NOT_FOUND');
    expect(await control.query('SELECT 1 FROM tenant_operations WHERE tenant_id = $1', [t.id])).toEqual([]);
  });
});

describe('a restore after the tenant migrated', () => {
  it('a column added since the backup takes its default; a column dropped since is refused 409 RESTORE_FAILED with nothing changed', async () => {
    const t = await createViaApi({ isolation: 'schema', region: US, tier: 'PREMIUM' });
    await addRows(t.id, ['one', 'two']);
    const b = await backupOf(t);
    const { sql, table } = await tracksOf(t.id);
    // A migration adds a column with a default, and the tenant writes on.
    await sql.query(`ALTER TABLE ${table} ADD COLUMN plays integer NOT NULL DEFAULT 7`);
    await addRows(t.id, ['three']);
    const res = await restore(t, { backupId: b.id });
    expect(res.status, await res.clone().text()).toBe(200);
    expect((await rowsOf(t.id)).map((r) => r.title).sort()).toEqual(['one', 'two']);
    expect(await sql.query(`SELECT DISTINCT plays FROM ${table} WHERE tenant_id = $1`, [t.id])).toEqual([{ plays: 7 }]);

    // A column of the backup dropped since: its values would be lost.
    await sql.query(`ALTER TABLE ${table} DROP COLUMN artist`);
    await addRowWithoutArtist(sql, table, t.id, 'after-drop');
    const before = await rowsOf(t.id);
    const refused = await restore(t, { backupId: b.id });
    expect(refused.status).toBe(409);
    expect(await errorOf(refused)).toMatchObject({ code: 'RESTORE_FAILED', message: expect.stringMatching(/no longer has the backup's column\(s\) artist/) });
    expect(await rowsOf(t.id)).toEqual(before);
  });
});

/** A row of a tracks table without its artist column. */
async function addRowWithoutArtist(sql: ReturnType<typeof sqlAt>, table: string, id: string, title: string): Promise<void> {
  await sql.transaction([
    sql.query("SELECT set_config('app.tenant_id', $1, true)", [id]),
    sql.query(`INSERT INTO ${table} (tenant_id, title, duration_ms) VALUES ($1, $2, 1)`, [id, title]),
  ]);
}

describe('the size of one backup, and the schedule after any attempt', () => {
  it('past the byte budget a backup is 413 BACKUP_TOO_LARGE, recorded failed as too large; within it, whole (read in pages)', async () => {
    const t = await createViaApi({ isolation: 'row', region: US });
    await addRows(t.id, Array.from({ length: 40 }, (_, i) => `row-${i}-${'x'.repeat(100)}`));
    const s = await servicesFor(CONTROL);
    const err = await refusal(takeBackup(s, await viewOf(t.id), 'manual', 'admin:test', null, { maxBytes: 2_000 }));
    expect([err.status, err.code]).toEqual([413, 'BACKUP_TOO_LARGE']);
    const [failed] = await backupsOf(t.id);
    expect(failed).toMatchObject({ status: 'failed', error: expect.stringMatching(/^BACKUP_TOO_LARGE: .*2000 bytes/) });
    expect((await BUCKET.list({ prefix: `backups/${t.id}/` })).objects).toEqual([]);
    const rowsCapped = await refusal(takeBackup(s, await viewOf(t.id), 'manual', 'admin:test', null, { maxRows: 39 }));
    expect(rowsCapped.code).toBe('BACKUP_TOO_LARGE');
    const whole = await takeBackup(s, await viewOf(t.id), 'manual', 'admin:test', null, { maxBytes: 1_000_000 });
    expect(whole).toMatchObject({ status: 'complete', rows: 40 });
  });

  it('the schedule backs off after any attempt: a too-large tenant a whole interval, a failure 5 minutes; an abandoned one queues behind one never tried', async () => {
    const ts = await Promise.all([0, 1, 2, 3].map(() => createViaApi({ tier: 'PREMIUM', region: US })));
    const [tooLarge, failedNow, abandoned, fresh] = ts as [typeof ts[0], typeof ts[0], typeof ts[0], typeof ts[0]];
    await control.query("UPDATE tenants SET created_at = now() - interval '7 hours' WHERE id = ANY ($1::uuid[])", [ts.map((t) => t.id)]);
    const attempt = (id: string, status: string, ago: string, error: string | null) => control.query(
      `INSERT INTO tenant_backups (id, tenant_id, kind, status, started_at, error) VALUES ($1, $2, 'scheduled', $3, now() - $4::interval, $5)`, [crypto.randomUUID(), id, status, ago, error]);
    await attempt(tooLarge.id, 'failed', '1 hour', 'BACKUP_TOO_LARGE: the tenant holds more than 33554432 bytes of rows');
    await attempt(failedNow.id, 'failed', '2 minutes', 'connection reset');
    await attempt(abandoned.id, 'running', '20 minutes', null);
    const s = await servicesFor(CONTROL);
    const due = await dueTenants(s, 100_000);
    expect(due).not.toContain(tooLarge.id);
    expect(due).not.toContain(failedNow.id);
    expect(due).toContain(abandoned.id);
    expect(due).toContain(fresh.id);
    expect(due.indexOf(fresh.id)).toBeLessThan(due.indexOf(abandoned.id));
    // Past the interval (6 h), the too-large one is tried again; an older failure too.
    await control.query("UPDATE tenant_backups SET started_at = now() - interval '6 hours 1 minute' WHERE tenant_id = $1", [tooLarge.id]);
    await control.query("UPDATE tenant_backups SET started_at = now() - interval '6 minutes' WHERE tenant_id = $1", [failedNow.id]);
    const later = await dueTenants(s, 100_000);
    expect(later).toContain(tooLarge.id);
    expect(later).toContain(failedNow.id);
  });
});

describe('restoring into a new tenant', () => {
  it('a backup holding sealed values is refused 409 BACKUP_HAS_SEALED_VALUES (nothing made); into the tenant itself it restores', async () => {
    const t = await createViaApi({ isolation: 'schema', region: US });
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']) as CryptoKey;
    const sealed = await sealField(key, t.id, 'title', 'a secret');
    await addRows(t.id, ['plain', sealed]);
    const b = await backupOf(t);
    await addRows(t.id, ['after']);
    const slug = unique('sealed-');
    const res = await restore(t, { backupId: b.id, target: { newTenant: { slug } } });
    expect(res.status).toBe(409);
    expect((await errorOf(res)).code).toBe('BACKUP_HAS_SEALED_VALUES');
    expect(await control.query('SELECT id FROM tenants WHERE slug = $1', [slug])).toEqual([]);
    const same = await restore(t, { backupId: b.id });
    expect(same.status, await same.clone().text()).toBe(200);
    expect((await rowsOf(t.id)).map((r) => r.title).sort()).toEqual(['plain', sealed].sort());
  });

  it.each([['schema', 'row'], ['row', 'schema'], ['schema', 'database']] as const)('%s → new %s tenant: every key is new (md5(new id || old key)), so no later move of the source can collide', async (from, to) => {
    const t = await createViaApi({ isolation: from, region: US });
    await addRows(t.id, ['a', 'b', 'c']);
    const b = await backupOf(t);
    const res = await restore(t, { backupId: b.id, target: { newTenant: { slug: unique('keys-'), isolation: to } } });
    const report = await res.json() as RestoreReport;
    expect(res.status, JSON.stringify(report)).toBe(200);
    const source = await rowsOf(t.id);
    const copy = await rowsOf(report.tenantId);
    expect(copy.map((r) => r.title).sort()).toEqual(['a', 'b', 'c']);
    const [expected] = await control.query('SELECT array_agg(md5($1::text || k)::uuid::text ORDER BY 1) AS k FROM unnest($2::text[]) k', [report.tenantId, source.map((r) => r.id)]) as { k: string[] }[];
    expect(copy.map((r) => r.id).sort()).toEqual([...expected!.k].sort());
    for (const r of copy) expect(source.map((x) => x.id)).not.toContain(r.id);
  });

  it('a new tenant whose provisioning fails is deleted again: no tenant is left provisioning with the slug', async () => {
    const t = await createViaApi({ isolation: 'row', region: US });
    await addRows(t.id, ['x']);
    const b = await backupOf(t);
    const s = await servicesFor(CONTROL);
    const broken: ControlServices = {
      ...s,
      provisioner: new Proxy(s.provisioner, {
        get(o, k) {
          if (k === 'provision') return async () => { throw new Error('region unreachable'); };
          const v = Reflect.get(o, k, o) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(o) : v;
        },
      }),
    };
    const slug = unique('half-');
    const err = await refusal(restoreBackup(broken, await viewOf(t.id), b.id, { newTenant: { slug, isolation: 'schema' } }, { actor: 'admin:test', requestId: null }));
    expect(err.code).toBe('PROVISIONING_FAILED');
    const left = await control.query('SELECT status FROM tenants WHERE slug = $1', [slug]) as { status: string }[];
    for (const r of left) expect(r.status).not.toBe('provisioning');
    expect(left.every((r) => r.status === 'deleting' || r.status === 'deleted')).toBe(true);
    expect((await rowsOf(t.id)).map((r) => r.title)).toEqual(['x']);
  });
});

describe('retention', () => {
  it("never deletes a tenant's newest complete backup, even past its expiry", async () => {
    const t = await createViaApi({ region: US });
    await addRows(t.id, ['r']);
    const s = await servicesFor(CONTROL);
    const older = await backupOf(t);
    const newest = await backupOf(t);
    await control.query("UPDATE tenant_backups SET expires_at = now() - interval '1 second' WHERE tenant_id = $1", [t.id]);
    await expireBackups(s, 100_000);
    expect((await backupsOf(t.id)).map((x) => x.id)).toEqual([newest.id]);
    expect(await BUCKET.head(`backups/${t.id}/${older.id}`)).toBeNull();
    expect(await BUCKET.head(`backups/${t.id}/${newest.id}`)).not.toBeNull();
    await expireBackups(s, 100_000);
    expect((await backupsOf(t.id)).map((x) => x.id)).toEqual([newest.id]);
  });
});
