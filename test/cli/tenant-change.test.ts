/** tenantctl tenant update/provision/migrate: each change read back through the API. */
import { describe, expect, inject, it } from 'vitest';
import { admin, field, tenantctl } from './support.js';

const stack = inject('stack');

async function create(slug: string, tier = 'STANDARD'): Promise<{ id: string; version: number }> {
  const r = await admin(stack, 'POST', '/tenants', { slug, tier, region: 'aws-us-east-2' });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

describe('tenantctl tenant update', () => {
  it('changes the tier, name and residency: the API shows them and a higher version', async () => {
    const before = await create('cli-upd');
    const r = await tenantctl('tenant', 'update', 'cli-upd', '--tier', 'premium', '--name', 'Updated Co', '--residency', 'US');
    expect(r.code, r.stderr).toBe(0);
    expect(field(r.stdout, 'tier')).toBe('PREMIUM');
    const t = (await admin(stack, 'GET', '/tenants/cli-upd')).body;
    expect(t).toMatchObject({ tier: 'PREMIUM', name: 'Updated Co', residency: 'US' });
    expect(t.version).toBeGreaterThan(before.version);
    expect(Number(field(r.stdout, 'version'))).toBe(t.version);

    const none = await tenantctl('tenant', 'update', 'cli-upd', '--residency', 'none');
    expect(none.code, none.stderr).toBe(0);
    expect((await admin(stack, 'GET', '/tenants/cli-upd')).body.residency).toBeNull();
  });

  it('edits the overrides one key at a time: --set merges, --unset removes, --clear-overrides empties', async () => {
    await create('cli-ovr');
    const set = await tenantctl('tenant', 'update', 'cli-ovr', '--set', 'ratePerMinute=600', '--set', 'hardCap=false', '--set', 'failMode=closed');
    expect(set.code, set.stderr).toBe(0);
    expect((await admin(stack, 'GET', '/tenants/cli-ovr')).body.overrides).toEqual({ ratePerMinute: 600, hardCap: false, failMode: 'closed' });

    const more = await tenantctl('tenant', 'update', 'cli-ovr', '--set', 'burst=50', '--unset', 'hardCap');
    expect(more.code, more.stderr).toBe(0);
    expect((await admin(stack, 'GET', '/tenants/cli-ovr')).body.overrides).toEqual({ ratePerMinute: 600, failMode: 'closed', burst: 50 });
    expect(JSON.parse(field(more.stdout, 'overrides')!)).toEqual({ ratePerMinute: 600, failMode: 'closed', burst: 50 });

    const cleared = await tenantctl('tenant', 'update', 'cli-ovr', '--clear-overrides', '--set', 'concurrency=7');
    expect(cleared.code, cleared.stderr).toBe(0);
    expect((await admin(stack, 'GET', '/tenants/cli-ovr')).body.overrides).toEqual({ concurrency: 7 });
  });

  it('refuses bad input before calling the API (exit 2), and reports the API refusals (exit 1)', async () => {
    const { version } = (await admin(stack, 'GET', '/tenants/cli-ovr')).body;
    const typo = await tenantctl('tenant', 'update', 'cli-ovr', '--set', 'ratePerMinut=5');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/^error: unknown limit "ratePerMinut"\. Did you mean "ratePerMinute"\?$/m);
    const bad = await tenantctl('tenant', 'update', 'cli-ovr', '--set', 'burst=many');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: burst must be a positive integer: many$/m);
    const nothing = await tenantctl('tenant', 'update', 'cli-ovr');
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/^error: nothing to change/m);
    expect((await admin(stack, 'GET', '/tenants/cli-ovr')).body.version).toBe(version);

    const tier = await tenantctl('tenant', 'update', 'cli-ovr', '--tier', 'NO_SUCH_TIER');
    expect(tier.code).toBe(1);
    expect(tier.stderr).toMatch(/^error TEMPLATE_NOT_FOUND: no tier or template NO_SUCH_TIER/m);
    const range = await tenantctl('tenant', 'update', 'cli-ovr', '--set', 'burst=99999999999');
    expect(range.code).toBe(1);
    expect(range.stderr).toMatch(/^error BAD_REQUEST: \w+: overrides\.burst: /m);
    expect((await admin(stack, 'GET', '/tenants/cli-ovr')).body).toMatchObject({ version, tier: 'STANDARD', overrides: { concurrency: 7 } });
  });
});

describe('tenantctl tenant provision', () => {
  it('answers as the API does for an active tenant: 409 INVALID_STATE, exit 1, nothing changed', async () => {
    const before = (await admin(stack, 'GET', '/tenants/cli-upd')).body;
    const api = await admin(stack, 'POST', '/tenants/cli-upd/provision');
    expect(api.status).toBe(409);
    const r = await tenantctl('tenant', 'provision', 'cli-upd');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^error ${api.body.error.code}: ${api.body.error.message} \\(request [^)]+\\)$`, 'm'));
    expect(api.body.error).toMatchObject({ code: 'INVALID_STATE', message: 'tenant is active, not provisioning' });
    expect((await admin(stack, 'GET', '/tenants/cli-upd')).body).toMatchObject({ status: 'active', version: before.version });

    const missing = await tenantctl('tenant', 'provision', 'cli-no-such-tenant');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error TENANT_NOT_FOUND: /m);
  });
});

describe('tenantctl tenant migrate', () => {
  it("brings one tenant to the catalogue's head and says so; the status API agrees", async () => {
    const r = await tenantctl('tenant', 'migrate', 'cli-upd');
    expect(r.code, r.stderr).toBe(0);
    expect(field(r.stdout, 'state')).toBe('current');
    const id = (await admin(stack, 'GET', '/tenants/cli-upd')).body.id;
    expect(field(r.stdout, 'tenant')).toBe(`cli-upd (${id})`);
    const json = JSON.parse((await tenantctl('tenant', 'migrate', id, '--json')).stdout);
    expect(json).toEqual({ tenantId: id, applied: [], state: 'current', error: null });
    const head = (await admin(stack, 'GET', '/migrations')).body.migrations.at(-1).name;
    const status = (await admin(stack, 'GET', '/migrations/status?state=current&limit=1000')).body.tenants;
    expect(status.find((s: { tenantId: string }) => s.tenantId === id)).toMatchObject({ applied: head, state: 'current' });
  });
});
