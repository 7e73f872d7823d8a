/** tenantctl tenant backup/backups/restore against the stack's control worker (its BACKUPS bucket is wrangler dev's local R2). */
import { describe, expect, inject, it } from 'vitest';
import { admin, field, query, tenantctl } from './support.js';

const stack = inject('stack');
const US = 'aws-us-east-2';

/** The tenant's track titles in its region's shared tables (the stack's owner URL is a superuser: row-level security does not apply). */
async function titles(id: string): Promise<string[]> {
  const rows = await query<{ title: string }>(stack.regions[US]!.postgresUrl,
    'SELECT title FROM shared.tracks WHERE tenant_id = $1 ORDER BY title', [id]);
  return rows.map((r) => r.title);
}

describe('tenantctl tenant backup|backups|restore', () => {
  it('backs a tenant up, lists it, restores it into itself and into a new tenant', async () => {
    const created = await admin(stack, 'POST', '/tenants', { slug: 'cli-backup', tier: 'STANDARD', region: US, isolation: 'row' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    const insert = (title: string) => query(stack.regions[US]!.postgresUrl,
      "INSERT INTO shared.tracks (tenant_id, title, artist, duration_ms) VALUES ($1, $2, 'cli', 1)", [id, title]);
    await insert('kept');
    const b = await tenantctl('tenant', 'backup', 'cli-backup');
    expect(b.code, b.stderr).toBe(0);
    expect(field(b.stdout, 'rows')).toBe('1');
    expect(field(b.stdout, 'tables')).toBe('tracks 1');
    const backupId = field(b.stdout, 'backup')!;
    expect(backupId).toMatch(/^[0-9a-f-]{36}$/);
    const list = await tenantctl('tenant', 'backups', 'cli-backup', '--json');
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).backups).toMatchObject([{ id: backupId, kind: 'manual', status: 'complete', rows: 1 }]);

    await insert('dropped by the restore');
    const same = await tenantctl('tenant', 'restore', 'cli-backup', '--backup', backupId);
    expect(same.code, same.stderr).toBe(0);
    expect(field(same.stdout, 'replaced')).toBe('2 deleted, 1 inserted');
    expect(await titles(id)).toEqual(['kept']);

    const copy = await tenantctl('tenant', 'restore', 'cli-backup', '--backup', backupId, '--into-new', 'cli-backup-copy');
    expect(copy.code, copy.stderr).toBe(0);
    const fresh = await admin(stack, 'GET', '/tenants/cli-backup-copy');
    expect(fresh.body).toMatchObject({ status: 'active', isolation: 'row', tier: 'STANDARD' });
    expect(await titles(fresh.body.id)).toEqual(['kept']);
  });

  it('refuses a restore without --backup (exit 2, nothing sent) and an unknown backup (exit 1, the API code)', async () => {
    await admin(stack, 'POST', '/tenants', { slug: 'cli-backup2', tier: 'STANDARD', region: US });
    const none = await tenantctl('tenant', 'restore', 'cli-backup2');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/give --backup ID/);
    const unknown = await tenantctl('tenant', 'restore', 'cli-backup2', '--backup', crypto.randomUUID());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/error BACKUP_NOT_FOUND/);
  });
});
