/** tenantctl migrations list/status/add: the catalogue and per-tenant status, as the API has them. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { admin, ROOT, tenantctl } from './support.js';

const stack = inject('stack');

describe('tenantctl migrations', () => {
  it('lists the catalogue with its checksums', async () => {
    const api = (await admin(stack, 'GET', '/migrations')).body.migrations as { name: string; checksum: string }[];
    expect(api.length).toBeGreaterThan(0);
    const r = await tenantctl('migrations', 'list');
    expect(r.code, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^NAME +CHECKSUM +DOWN +ADDED$/);
    expect(rows.slice(1).map((l) => l.split(/ +/).slice(0, 2))).toEqual(api.map((m) => [m.name, m.checksum]));
  });

  it("shows every tenant's state with the totals, filtered by state, across pages", async () => {
    const api = (await admin(stack, 'GET', '/migrations/status?limit=1000')).body;
    const all = await tenantctl('migrations', 'status', '--all', '--limit', '3', '--json');
    expect(all.code, all.stderr).toBe(0);
    const got = JSON.parse(all.stdout);
    expect(got.summary).toEqual(api.summary);
    expect(got.tenants.map((t: { tenantId: string }) => t.tenantId).sort()).toEqual(api.tenants.map((t: { tenantId: string }) => t.tenantId).sort());

    const page = await tenantctl('migrations', 'status', '--limit', '2');
    expect(page.stdout.trim().split('\n')).toHaveLength(4);
    expect(page.stdout).toMatch(new RegExp(`^total ${api.summary.total}: ${api.summary.current} current, ${api.summary.pending} pending, ${api.summary.failed} failed$`, 'm'));
    expect(page.stderr).toMatch(/more tenants/);

    const failed = await tenantctl('migrations', 'status', '--state', 'failed', '--all', '--json');
    expect(JSON.parse(failed.stdout).tenants).toHaveLength(api.summary.failed);
    const bad = await tenantctl('migrations', 'status', '--state', 'done');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--state must be one of current, pending, failed/);
  });

  it('catalogues a file: the same text is unchanged, a changed text is refused (forward-only)', async () => {
    const name = (await admin(stack, 'GET', '/migrations')).body.migrations[0].name as string;
    const same = await tenantctl('migrations', 'add', resolve(ROOT, 'migrations/tenant', name));
    expect(same.code, same.stderr).toBe(0);
    expect(same.stdout).toBe(`${name} unchanged\n`);

    const dir = mkdtempSync(join(tmpdir(), 'tenantctl-migrations-'));
    const changed = join(dir, name);
    writeFileSync(changed, `${readFileSync(resolve(ROOT, 'migrations/tenant', name), 'utf8')}\n-- edited\n`);
    const before = (await admin(stack, 'GET', '/migrations')).body;
    const refused = await tenantctl('migrations', 'add', changed);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error MIGRATION_CONFLICT: /m);
    expect((await admin(stack, 'GET', '/migrations')).body).toEqual(before);

    const missing = await tenantctl('migrations', 'add', join(dir, '0099_missing.sql'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: cannot read /m);
  });

  it("catalogues a migration's down from NNNN_name.down.sql: once, the same text unchanged, other text refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tenantctl-downs-'));
    const down = join(dir, '0001_tracks.down.sql');
    writeFileSync(down, 'DROP TABLE tracks;\n');
    const first = await tenantctl('migrations', 'add', down);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^0001_tracks\.sql down (created|unchanged)$/m);
    const again = await tenantctl('migrations', 'add', down);
    expect(again.stdout).toBe('0001_tracks.sql down unchanged\n');
    writeFileSync(down, 'DROP TABLE tracks CASCADE;\n');
    const refused = await tenantctl('migrations', 'add', down);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error MIGRATION_CONFLICT: 0001_tracks\.sql has a different down/m);
    const list = await tenantctl('migrations', 'list');
    expect(list.stdout).toMatch(/^0001_tracks\.sql +[0-9a-f]{64} +yes +/m);
    const api = (await admin(stack, 'GET', '/migrations')).body.migrations as { name: string; hasDown: boolean }[];
    expect(api.find((m) => m.name === '0001_tracks.sql')).toMatchObject({ hasDown: true });
    const orphan = join(dir, '0098_orphan.down.sql');
    writeFileSync(orphan, 'SELECT 1;\n');
    const unknown = await tenantctl('migrations', 'add', orphan);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error NOT_FOUND: 0098_orphan\.sql is not catalogued/m);
  });
});
