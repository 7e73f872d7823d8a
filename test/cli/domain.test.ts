/** tenantctl domain add/status/refresh: the records to publish, and a domain verified through the Cloudflare stand-in. */
import { describe, expect, inject, it } from 'vitest';
import { admin, field, query, tenantctl } from './support.js';

const stack = inject('stack');

/** The rows of the records table `domain add`/`status` print: [type, name, value, purpose]. */
const recordRows = (stdout: string) => stdout.split('\n').filter((l) => /^(CNAME|TXT|HTTP) /.test(l)).map((l) => l.split(/ {2,}/));

describe('tenantctl domain', () => {
  it('add prints the records to publish; status shows them; refresh makes the domain active once they are published', async () => {
    expect((await tenantctl('tenant', 'create', 'cli-cf', '--tier', 'STANDARD', '--region', 'aws-us-east-2')).code).toBe(0);
    const host = 'shop.cli-cf.example.org';
    const added = await tenantctl('domain', 'add', 'cli-cf', host);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/^added shop\.cli-cf\.example\.org to cli-cf \(pending\)$/m);
    expect(added.stdout).toContain("publish these records at the domain's DNS provider:");
    const records = recordRows(added.stdout);
    expect(records.map(([type, name, , purpose]) => [type, name, purpose])).toEqual([
      ['CNAME', host, 'traffic'], ['TXT', `_cf-custom-hostname.${host}`, 'ownership'], ['TXT', `_acme-challenge.${host}`, 'certificate'],
    ]);
    expect(records[0]![2]).toBe(stack.cloudflare.cnameTarget);

    const status = await tenantctl('domain', 'status', 'cli-cf', host);
    expect(status.code, status.stderr).toBe(0);
    expect(field(status.stdout, 'status')).toBe('pending');
    expect(recordRows(status.stdout)).toEqual(records);
    const json = await tenantctl('--json', 'domain', 'status', 'cli-cf', host);
    expect(JSON.parse(json.stdout)).toMatchObject({ hostname: host, status: 'pending', records: expect.any(Array) });

    // As the tenant would at its DNS provider: into the stand-in's DNS.
    for (const [type, name, value] of records) {
      expect((await fetch(`${stack.cloudflare.hooks}/_dns/${type}/${name}`, { method: 'PUT', body: value })).status).toBe(200);
    }
    const refreshed = await tenantctl('domain', 'refresh', 'cli-cf', host);
    expect(refreshed.code, refreshed.stderr).toBe(0);
    expect(field(refreshed.stdout, 'status')).toBe('active');
    expect(field(refreshed.stdout, 'active since')).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(recordRows(refreshed.stdout)).toEqual([]);
    expect(await query(stack.control.postgresUrl, 'SELECT status FROM tenant_domains WHERE hostname = $1', [host])).toEqual([{ status: 'active' }]);
  });

  it('refresh of a domain Cloudflare blocked exits 1 and says why; status of an unknown domain is NOT_FOUND', async () => {
    expect((await tenantctl('tenant', 'create', 'cli-cf-b', '--tier', 'STANDARD', '--region', 'aws-us-east-2')).code).toBe(0);
    const host = 'blocked.cli-cf.example.org';
    expect((await admin(stack, 'POST', '/tenants/cli-cf-b/domains', { hostname: host })).status).toBe(201);
    await fetch(`${stack.cloudflare.hooks}/_test/block/${host}`, { method: 'POST', body: JSON.stringify({ reason: 'under review' }) });
    const r = await tenantctl('domain', 'refresh', 'cli-cf-b', host);
    expect(r.code).toBe(1);
    expect(field(r.stdout, 'status')).toBe('failed');
    expect(r.stderr).toMatch(/^error DOMAIN_FAILED: blocked\.cli-cf\.example\.org: hostname blocked by Cloudflare; under review$/m);
    const unknown = await tenantctl('domain', 'status', 'cli-cf-b', 'nope.cli-cf.example.org');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error NOT_FOUND: /m);
  });
});
