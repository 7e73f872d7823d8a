/**
 * tenantctl keys: the stack's control plane (MASTER_KEY ring `k0:…`) counts the sealed secrets
 * per key id, and a reseal with everything under the current key changes nothing. A secret under
 * a key the ring lacks is shown as not in the ring and makes reseal exit 1, naming the tenant;
 * it is restored in `finally`, so the files after this one see the stack as it was.
 */
import { describe, expect, inject, it } from 'vitest';
import { admin, field, query, tenantctl } from './support.js';

const stack = inject('stack');
const sealedCount = async () => Number((await query<{ n: string }>(stack.control.postgresUrl,
  "SELECT count(*) AS n FROM tenant_placements WHERE connection_secret LIKE 'v1.%'"))[0]!.n);

describe('tenantctl keys', () => {
  it('shows the ring and the sealed secrets under each key id', async () => {
    const r = await tenantctl('keys', 'status');
    expect(r.code, r.stderr).toBe(0);
    expect(field(r.stdout, 'current key')).toBe('k0');
    expect(field(r.stdout, 'ring')).toBe('k0');
    expect(r.stdout).toMatch(/^KID +SEALED +TENANT KEYS +IN RING$/m);
    expect(r.stdout).toMatch(new RegExp(`^k0 +${await sealedCount()} +\\d+ +current$`, 'm'));
    const json = JSON.parse((await tenantctl('keys', 'status', '--json')).stdout);
    expect(json).toMatchObject({ current: 'k0', kids: ['k0'], retirable: [] });
    expect(JSON.stringify(json)).not.toContain(stack.routerEnv.MASTER_KEY!.split(':')[1]);
  });

  it('re-seals nothing when every secret is under the current key', async () => {
    const r = await tenantctl('keys', 'reseal');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^re-sealed 0 of 0 secrets under k0$/m);
    expect(r.stdout).toMatch(/^re-wrapped 0 of 0 tenant keys under k0$/m);
    expect((await tenantctl('keys', 'reseal', '--limit', '0')).code).toBe(2);
  });

  it('names a secret under a key the ring lacks, and exits 1', async () => {
    const created = await admin(stack, 'POST', '/tenants', { slug: 'cli-keys', tier: 'STANDARD', region: 'aws-us-east-2' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await query(stack.control.postgresUrl, "UPDATE tenant_placements SET connection_secret = 'v2.k9.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA' WHERE tenant_id = $1", [id]);
    try {
      const s = await tenantctl('keys', 'status');
      expect(s.stdout).toMatch(/^k9 +1 +0 +NO$/m);
      const r = await tenantctl('keys', 'reseal');
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^re-sealed 0 of 1 secrets under k0$/m);
      expect(r.stdout).toMatch(new RegExp(`^${id} +k9 +key-not-in-ring$`, 'm'));
    } finally {
      await query(stack.control.postgresUrl, 'UPDATE tenant_placements SET connection_secret = NULL WHERE tenant_id = $1', [id]);
      await admin(stack, 'DELETE', `/tenants/${id}?confirm=cli-keys`);
    }
  });
});
