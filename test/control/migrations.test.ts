/** The migration catalogue (forward-only) and per-tenant migration through the API. */
import { describe, expect, it } from 'vitest';
import { errorOf, sqlAt, stack } from '../support/helpers.js';
import { admin, createViaApi } from '../support/control.js';

describe('catalogue', () => {
  it('holds the repository migrations; the same text again is unchanged, other text under the name is 409', async () => {
    const { migrations } = await (await admin('/admin/v1/migrations')).json() as { migrations: { name: string }[] };
    expect(migrations.map((m) => m.name)).toContain('0001_tracks.sql');
    const [first] = await sqlAt(stack.control.postgresUrl).query("SELECT sql FROM tenant_migration_catalog WHERE name = '0001_tracks.sql'") as { sql: string }[];
    const same = await admin('/admin/v1/migrations/0001_tracks.sql', { method: 'PUT', body: first!.sql, headers: { 'content-type': 'application/sql' } });
    expect(await same.json()).toEqual({ name: '0001_tracks.sql', result: 'unchanged' });
    const changed = await admin('/admin/v1/migrations/0001_tracks.sql', { method: 'PUT', body: `${first!.sql}\n-- edited`, headers: { 'content-type': 'application/sql' } });
    expect(changed.status).toBe(409);
    expect((await errorOf(changed)).code).toBe('MIGRATION_CONFLICT');
    expect((await admin('/admin/v1/migrations/..%2Fetc.sql', { method: 'PUT', body: 'SELECT 1' })).status).toBe(400);
  });

  it('migrates one tenant, records its status, and reports a failing migration without losing the tenant', async () => {
    const t = await createViaApi({ tier: 'PREMIUM' });
    const res = await admin(`/admin/v1/tenants/${t.id}/migrate`, { method: 'POST' });
    expect(await res.json()).toMatchObject({ tenantId: t.id, state: 'current', error: null });
    const status = await (await admin('/admin/v1/migrations/status?state=current&limit=1000')).json() as { tenants: { tenantId: string }[]; summary: { total: number } };
    expect(status.tenants.map((x) => x.tenantId)).toContain(t.id);
    expect(status.summary.total).toBeGreaterThan(10);
    expect((await errorOf(await admin('/admin/v1/migrations/status?state=done'))).code).toBe('BAD_REQUEST');
  });
});
