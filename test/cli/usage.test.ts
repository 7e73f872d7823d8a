/** tenantctl usage: metered requests and the invoice preview, for seeded and deleted tenants. */
import { describe, expect, inject, it } from 'vitest';
import { admin, field, query, tenantctl } from './support.js';

const stack = inject('stack');

describe('tenantctl usage', () => {
  it('prices a month with overage: base plus every started thousand over the included requests', async () => {
    // q-overage: STANDARD ($29.00, $0.10 per 1k over) with 3 included requests.
    const t = stack.tenants['q-overage']!;
    await query(stack.control.postgresUrl,
      `INSERT INTO usage_flushes (tenant_id, month, source, requests, flush_seq) VALUES ($1, '2025-01', 'cli-test', 2503, 1)
       ON CONFLICT (tenant_id, month, source) DO UPDATE SET requests = 2503`, [t.id]);
    const r = await tenantctl('usage', 'q-overage', '--month', '2025-01');
    expect(r.code, r.stderr).toBe(0);
    expect(field(r.stdout, 'tenant')).toBe(`q-overage (${t.id})`);
    expect(field(r.stdout, 'month')).toBe('2025-01');
    expect(field(r.stdout, 'requests')).toBe('2,503');
    expect(field(r.stdout, 'included')).toBe('3');
    expect(field(r.stdout, 'overage')).toBe('2,500');
    // ceil(2500 / 1000) = 3 started thousands at $0.10.
    expect(field(r.stdout, 'invoice')).toBe('STANDARD: base $29.00 + overage $0.30 = $29.30 USD');

    const json = JSON.parse((await tenantctl('usage', t.id, '--month', '2025-01', '--json')).stdout);
    expect(json).toMatchObject({ tenantId: t.id, requests: 2503, overage: 2500, invoice: { baseCents: 2900, overageCents: 30, totalCents: 2930 } });
  });

  it('shows bandwidth (request and response bytes) and the last storage measurement', async () => {
    const t = stack.tenants['q-meter']!;
    await query(stack.control.postgresUrl,
      `INSERT INTO usage_flushes (tenant_id, month, source, requests, request_bytes, response_bytes, flush_seq) VALUES ($1, '2025-04', 'cli-test', 12, 2048, 5000000, 1)
       ON CONFLICT (tenant_id, month, source) DO UPDATE SET requests = 12, request_bytes = 2048, response_bytes = 5000000`, [t.id]);
    const before = await tenantctl('usage', 'q-meter', '--month', '2025-04');
    expect(before.code, before.stderr).toBe(0);
    expect(field(before.stdout, 'requests')).toBe('12');
    expect(field(before.stdout, 'request bytes')).toBe('2,048 bytes (2.0 KiB)');
    expect(field(before.stdout, 'response bytes')).toBe('5,000,000 bytes (4.8 MiB)');
    // q-meter is STANDARD: 1024 MB of storage.
    await query(stack.control.postgresUrl,
      `INSERT INTO tenant_storage (tenant_id, bytes, method, measured_at) VALUES ($1, 1610612736, 'row_tuples', '2025-04-02T10:00:00Z')
       ON CONFLICT (tenant_id) DO UPDATE SET bytes = EXCLUDED.bytes, method = EXCLUDED.method, measured_at = EXCLUDED.measured_at`, [t.id]);
    const r = await tenantctl('usage', 'q-meter', '--month', '2025-04');
    expect(field(r.stdout, 'storage')).toBe('1,610,612,736 bytes (1.5 GiB) of 1,073,741,824 bytes (1.0 GiB) (150.0 %), OVER: writes refused (507); row_tuples at 2025-04-02T10:00:00.000Z');
    const json = JSON.parse((await tenantctl('usage', 'q-meter', '--month', '2025-04', '--json')).stdout);
    expect(json).toMatchObject({ requestBytes: 2048, responseBytes: 5_000_000, invoice: { requestBytes: 2048, responseBytes: 5_000_000 },
      storage: { bytes: 1610612736, limitBytes: 1073741824, over: true, method: 'row_tuples' } });
    await query(stack.control.postgresUrl, 'DELETE FROM tenant_storage WHERE tenant_id = $1', [t.id]);
    expect(field((await tenantctl('usage', 'q-meter', '--month', '2025-04')).stdout, 'storage')).toMatch(/^not measured yet/);
  });

  it('shows no overage for a hard-capped tier, and the base price for a month without traffic', async () => {
    const t = stack.tenants['q-month']!;
    await query(stack.control.postgresUrl,
      `INSERT INTO usage_flushes (tenant_id, month, source, requests, flush_seq) VALUES ($1, '2025-02', 'cli-test', 6, 1)
       ON CONFLICT (tenant_id, month, source) DO UPDATE SET requests = 6`, [t.id]);
    const capped = await tenantctl('usage', 'q-month', '--month', '2025-02');
    expect(capped.code, capped.stderr).toBe(0);
    expect(field(capped.stdout, 'overage')).toMatch(/^0 \(hard cap/);
    expect(field(capped.stdout, 'invoice')).toBe('FREE: base $0.00 + overage $0.00 = $0.00 USD');

    const idle = await tenantctl('usage', 'initech', '--month', '2024-12');
    expect(field(idle.stdout, 'requests')).toBe('0');
    expect(field(idle.stdout, 'invoice')).toBe('ENTERPRISE: base $999.00 + overage $0.00 = $999.00 USD');
  });

  it('answers for a deleted tenant from its archive: its usage and its terms at deletion', async () => {
    const created = await admin(stack, 'POST', '/tenants', { slug: 'cli-gone', tier: 'PREMIUM', region: 'aws-us-east-2' });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    await query(stack.control.postgresUrl,
      "INSERT INTO usage_flushes (tenant_id, month, source, requests, flush_seq) VALUES ($1, '2025-03', 'cli-test', 10000001, 1)", [id]);
    expect((await admin(stack, 'DELETE', `/tenants/${id}?confirm=cli-gone`)).status).toBe(200);
    const r = await tenantctl('usage', 'cli-gone', '--month', '2025-03');
    expect(r.code, r.stderr).toBe(0);
    expect(field(r.stdout, 'tenant')).toBe(`cli-gone (${id})`);
    expect(field(r.stdout, 'requests')).toBe('10,000,001');
    // PREMIUM: $199.00 for 10M, $0.08 per started thousand over.
    expect(field(r.stdout, 'invoice')).toBe('PREMIUM: base $199.00 + overage $0.08 = $199.08 USD');
    expect(field(r.stdout, 'deleted')).toMatch(/^\d{4}-\d\d-\d\dT.* \(billed on its terms at deletion\)$/);
  });

  it('refuses a malformed month (exit 1, BAD_REQUEST) and an unknown tenant (TENANT_NOT_FOUND)', async () => {
    const month = await tenantctl('usage', 'acme', '--month', '2025-13');
    expect(month.code).toBe(1);
    expect(month.stderr).toMatch(/^error BAD_REQUEST: /m);
    const nobody = await tenantctl('usage', 'no-such-tenant');
    expect(nobody.code).toBe(1);
    expect(nobody.stderr).toMatch(/^error TENANT_NOT_FOUND: /m);
  });
});
