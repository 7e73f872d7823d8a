/** Usage from the TenantGuards' metering and the invoice preview; the pure pricing rule. */
import { runDurableObjectAlarm } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { invoicePreview } from '../../src/control/usage.js';
import { call, sqlAt, stack } from '../support/helpers.js';
import { guardFor } from '../support/guards.js';
import { admin, createViaApi, tokenFor } from '../support/control.js';

describe('invoice preview (pure)', () => {
  it('charges the monthly price, then each started thousand over the included requests; hard caps have no overage', () => {
    const pricing = { monthlyCents: 2900, overageCentsPer1k: 10 };
    expect(invoicePreview(999, 1000, false, pricing)).toEqual({ overage: 0, baseCents: 2900, overageCents: 0, totalCents: 2900 });
    expect(invoicePreview(1001, 1000, false, pricing)).toEqual({ overage: 1, baseCents: 2900, overageCents: 10, totalCents: 2910 });
    expect(invoicePreview(3000, 1000, false, pricing)).toEqual({ overage: 2000, baseCents: 2900, overageCents: 20, totalCents: 2920 });
    expect(invoicePreview(5000, 1000, true, pricing)).toMatchObject({ overage: 0, totalCents: 2900 });
  });
});

describe('usage endpoint', () => {
  it('reports what the TenantGuard metered, priced with the tenant\'s template and overrides', async () => {
    const t = await createViaApi({ tier: 'STANDARD', overrides: { monthlyRequests: 3, ratePerMinute: 6000, burst: 100 } });
    const token = await tokenFor(t.id);
    for (let i = 0; i < 5; i++) expect((await call(`${t.slug}.localhost`, '/api/v1/tracks', { token })).status).toBe(200);
    // The guard flushes its counts to Postgres from its alarm; run it now instead of waiting.
    await runDurableObjectAlarm(guardFor(t));
    const res = await admin(`/admin/v1/tenants/${t.slug}/usage`);
    expect(res.status).toBe(200);
    const u = await res.json() as Record<string, unknown>;
    const month = new Date().toISOString().slice(0, 7);
    expect(u).toMatchObject({ tenantId: t.id, month, requests: 5, included: 3, overage: 2, hardCap: false,
      invoice: { currency: 'USD', tier: 'STANDARD', baseCents: 2900, overageCents: 10, totalCents: 2910 } });
    // GETs carry no body; their responses' bytes arrive with the guard's next report (bandwidth.test.ts counts them exactly).
    expect(u.history).toEqual([{ month, requests: 5, requestBytes: 0, responseBytes: expect.any(Number) }]);
    const [row] = await sqlAt(stack.control.postgresUrl).query('SELECT requests FROM tenant_usage WHERE tenant_id = $1', [t.id]) as { requests: string }[];
    expect(Number(row!.requests)).toBe(5);
    const past = await (await admin(`/admin/v1/tenants/${t.id}/usage?month=2020-01`)).json();
    expect(past).toMatchObject({ month: '2020-01', requests: 0, invoice: { totalCents: 2900 } });
    expect((await admin(`/admin/v1/tenants/${t.id}/usage?month=2020-13`)).status).toBe(400);
  });
});

describe('usage of a deleted tenant', () => {
  it('stays billable on its terms at deletion: usage rows stay, the archive answers by id and by slug', async () => {
    const tier = `ARCHIVED_${Date.now()}`;
    expect((await admin('/admin/v1/tiers', { method: 'POST', json: { name: tier, from: 'STANDARD', pricing: { monthlyCents: 1000, overageCentsPer1k: 7 } } })).status).toBe(201);
    const t = await createViaApi({ tier, overrides: { monthlyRequests: 2, ratePerMinute: 6000, burst: 100 } });
    const token = await tokenFor(t.id);
    for (let i = 0; i < 4; i++) expect((await call(`${t.slug}.localhost`, '/api/v1/tracks', { token })).status).toBe(200);
    await runDurableObjectAlarm(guardFor(t));
    const before = await (await admin(`/admin/v1/tenants/${t.id}/usage`)).json() as { requests: number; invoice: Record<string, unknown> };
    expect(before.requests).toBeGreaterThanOrEqual(4);
    expect(before.invoice).toMatchObject({ tier, baseCents: 1000, overageCents: 7 });
    expect((await admin(`/admin/v1/tenants/${t.id}?confirm=${t.slug}`, { method: 'DELETE' })).status).toBe(200);
    // The template changes and goes after the deletion: the archive keeps the prices the tenant had.
    expect((await admin(`/admin/v1/tiers/${tier}`, { method: 'PATCH', json: { pricing: { monthlyCents: 99_999 } } })).status).toBe(200);
    expect((await admin(`/admin/v1/tiers/${tier}`, { method: 'DELETE' })).status).toBe(200);
    for (const ref of [t.id, t.slug]) {
      const res = await admin(`/admin/v1/tenants/${ref}/usage`);
      expect(res.status).toBe(200);
      const u = await res.json() as { deletedAt: string | null };
      expect(u).toMatchObject({ tenantId: t.id, requests: before.requests, included: 2, invoice: before.invoice });
      expect(Date.now() - Date.parse(u.deletedAt!)).toBeLessThan(60_000);
    }
    // The deleted tenant is gone everywhere else.
    expect((await admin(`/admin/v1/tenants/${t.id}`)).status).toBe(404);
    expect((await admin(`/admin/v1/tenants/${crypto.randomUUID()}/usage`)).status).toBe(404);
  });
});
