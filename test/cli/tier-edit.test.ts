/** tenantctl tier show/create/update/delete: templates made from a tier or cloned, read back through the API. */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { admin, field, tenantctl } from './support.js';

const stack = inject('stack');

// Other files export and import every template: leave none of ours behind.
afterAll(async () => {
  await admin(stack, 'DELETE', '/tenants/cli-platty?confirm=cli-platty');
  for (const name of ['CLI_PLAT_EU', 'CLI_PLAT', 'CLI_TYPO']) await admin(stack, 'DELETE', `/tiers/${name}`);
  expect((await admin(stack, 'GET', '/tiers/CLI_PLAT')).status).toBe(404);
});

describe('tenantctl tier show/create/update/delete', () => {
  it('shows a built-in tier as the API has it', async () => {
    const api = (await admin(stack, 'GET', '/tiers/PREMIUM')).body;
    const r = await tenantctl('tier', 'show', 'premium');
    expect(r.code, r.stderr).toBe(0);
    expect(field(r.stdout, 'name')).toBe('PREMIUM');
    expect(field(r.stdout, 'isolation')).toBe(api.isolation);
    expect(field(r.stdout, 'burst')).toBe(api.limits.burst.toLocaleString('en-US'));
    expect(JSON.parse((await tenantctl('tier', 'show', 'PREMIUM', '--json')).stdout)).toEqual(api);
    const missing = await tenantctl('tier', 'show', 'NO_SUCH');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error TEMPLATE_NOT_FOUND: /m);
  });

  it('creates a template from a tier with changes, clones it, updates it (tenants follow), deletes it once unused', async () => {
    const premium = (await admin(stack, 'GET', '/tiers/PREMIUM')).body;
    const made = await tenantctl('tier', 'create', 'cli_plat', '--from', 'PREMIUM', '--description', 'PREMIUM, faster',
      '--set', 'ratePerMinute=1200', '--set', 'hardCap=true', '--set', 'monthlyCents=49900');
    expect(made.code, made.stderr).toBe(0);
    const gold = (await admin(stack, 'GET', '/tiers/CLI_PLAT')).body;
    expect(gold).toEqual({
      ...premium, name: 'CLI_PLAT', builtin: false, basedOn: 'PREMIUM', description: 'PREMIUM, faster',
      limits: { ...premium.limits, ratePerMinute: 1200, hardCap: true }, pricing: { ...premium.pricing, monthlyCents: 49900 },
    });

    const clone = await tenantctl('tier', 'create', 'CLI_PLAT_EU', '--from', 'CLI_PLAT', '--isolation', 'database');
    expect(clone.code, clone.stderr).toBe(0);
    expect((await admin(stack, 'GET', '/tiers/CLI_PLAT_EU')).body).toMatchObject({ basedOn: 'CLI_PLAT', isolation: 'database', limits: { ratePerMinute: 1200 } });
    const twice = await tenantctl('tier', 'create', 'CLI_PLAT', '--from', 'FREE');
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/^error TEMPLATE_EXISTS: /m);

    const tenant = await admin(stack, 'POST', '/tenants', { slug: 'cli-platty', tier: 'CLI_PLAT', region: 'aws-us-east-2' });
    expect(tenant.status).toBe(201);
    const updated = await tenantctl('tier', 'update', 'CLI_PLAT', '--set', 'burst=333', '--set', 'overageCentsPer1k=7', '--description', 'bigger bucket');
    expect(updated.code, updated.stderr).toBe(0);
    expect(field(updated.stdout, 'burst')).toBe('333');
    expect((await admin(stack, 'GET', '/tiers/CLI_PLAT')).body).toMatchObject({ description: 'bigger bucket', limits: { burst: 333, ratePerMinute: 1200 }, pricing: { overageCentsPer1k: 7 } });
    // Tenants on the template follow it: their version moves, so every cache refreshes.
    expect((await admin(stack, 'GET', '/tenants/cli-platty')).body.version).toBeGreaterThan(tenant.body.version);

    const builtin = await tenantctl('tier', 'update', 'FREE', '--set', 'burst=2');
    expect(builtin.code).toBe(1);
    expect(builtin.stderr).toMatch(/^error INVALID_STATE: built-in tiers cannot be changed/m);
    expect((await admin(stack, 'GET', '/tiers/FREE')).body.limits.burst).not.toBe(2);

    const inUse = await tenantctl('tier', 'delete', 'CLI_PLAT');
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toMatch(/^error TEMPLATE_IN_USE: /m);
    expect((await admin(stack, 'GET', '/tiers/CLI_PLAT')).status).toBe(200);

    const del = await tenantctl('tier', 'delete', 'CLI_PLAT_EU');
    expect(del.code, del.stderr).toBe(0);
    expect(del.stdout).toBe('deleted template CLI_PLAT_EU\n');
    expect((await admin(stack, 'GET', '/tiers/CLI_PLAT_EU')).status).toBe(404);
  });

  it('checks --set keys and values locally (exit 2, nothing created)', async () => {
    const typo = await tenantctl('tier', 'create', 'CLI_TYPO', '--from', 'FREE', '--set', 'monthlyCent=5');
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/^error: unknown limit or price "monthlyCent"\. Did you mean "monthlyCents"\?$/m);
    const mode = await tenantctl('tier', 'create', 'CLI_TYPO', '--from', 'FREE', '--set', 'failMode=maybe');
    expect(mode.code).toBe(2);
    expect(mode.stderr).toMatch(/^error: failMode must be open or closed$/m);
    expect((await admin(stack, 'GET', '/tiers/CLI_TYPO')).status).toBe(404);
    const nothing = await tenantctl('tier', 'update', 'CLI_PLAT');
    expect(nothing.code).toBe(2);
  });
});
