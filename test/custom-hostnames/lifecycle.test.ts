/**
 * Custom domains end to end: the admin API (the stack's control worker, CUSTOM_HOSTNAMES=cloudflare),
 * the Cloudflare API stand-in (custom hostnames, its loopback DNS) and the router. A domain is served
 * only once Cloudflare reports its hostname and certificate active, and then within the cache bound.
 */
import { describe, expect, it } from 'vitest';
import { call, errorOf, sqlAt, stack, unique } from '../support/helpers.js';
import { admin, createViaApi, L1_TTL_MS, publishRecords, tokenFor, within, type DomainView } from '../support/control.js';

const control = () => sqlAt(stack.control.postgresUrl);
const domainPath = (id: string, host: string) => `/admin/v1/tenants/${id}/domains/${host}`;
/** What the stand-in holds for `host`, in any zone. */
const atCloudflare = async (host: string) => await (await fetch(`${stack.cloudflare.hooks}/_test/hostnames?hostname=${host}`)).json() as { id: string; zone: string; status: string }[];
const rowsOf = async (host: string) => await control().query('SELECT status, cloudflare_id, activated_at FROM tenant_domains WHERE hostname = $1', [host]) as { status: string; cloudflare_id: string | null; activated_at: string | null }[];
const refresh = async (id: string, host: string) => {
  const res = await admin(`${domainPath(id, host)}/refresh`, { method: 'POST' });
  expect(res.status).toBe(200);
  return await res.json() as DomainView;
};
/** True once the router answers `host` with the tenant (200) — or, with `served: false`, with 404 TENANT_NOT_FOUND. */
const routerSees = (host: string, token: string, served = true) => async () => {
  const res = await call(host, '/api/v1/me', { token });
  if (served) { await res.body?.cancel(); return res.status === 200; }
  return res.status === 404 && (await errorOf(res)).code === 'TENANT_NOT_FOUND';
};
const BOUND_MS = L1_TTL_MS + 1500;

describe('a custom domain through Cloudflare for SaaS', () => {
  it('is pending with the records to publish, refused by the router until verified, then served; removed, it is gone at Cloudflare', async () => {
    const t = await createViaApi();
    const token = await tokenFor(t.id);
    const host = `${unique('shop')}.example.org`;
    const res = await admin(`/admin/v1/tenants/${t.id}/domains`, { method: 'POST', json: { hostname: host } });
    expect(res.status).toBe(201);
    const added = await res.json() as DomainView;
    expect(added).toMatchObject({ hostname: host, tenantId: t.id, status: 'pending', activatedAt: null });
    const [cf] = await atCloudflare(host);
    expect(cf).toMatchObject({ id: added.cloudflareId, zone: stack.cloudflare.zoneId, status: 'pending' });
    expect(added.records).toEqual([
      { type: 'CNAME', name: host, value: stack.cloudflare.cnameTarget, purpose: 'traffic' },
      { type: 'TXT', name: `_cf-custom-hostname.${host}`, value: expect.stringMatching(/^[0-9a-f-]{36}$/), purpose: 'ownership' },
      { type: 'TXT', name: `_acme-challenge.${host}`, value: expect.stringMatching(/^[0-9a-f]{32}$/), purpose: 'certificate' },
    ]);
    expect(added.statusDetail).toContain('does not CNAME to this zone');

    // Pending: unknown to the router (and cached as unknown).
    expect(await routerSees(host, token, false)()).toBe(true);
    expect(await routerSees(host, token, false)()).toBe(true);
    // A check before the records are published changes nothing.
    const early = await refresh(t.id, host);
    expect(early).toMatchObject({ status: 'pending', checkedAt: expect.any(String) });
    // Half the records: the hostname is active, its certificate is not, so it is still not served.
    await publishRecords(added.records.filter((r) => r.purpose !== 'certificate'));
    const half = await refresh(t.id, host);
    expect(half.status).toBe('pending');
    expect(half.statusDetail).toBe('waiting for the published records: certificate pending validation');
    expect(await routerSees(host, token, false)()).toBe(true);

    await publishRecords(added.records);
    const active = await refresh(t.id, host);
    const at = Date.now();
    expect(active).toMatchObject({ status: 'active', statusDetail: null, activatedAt: expect.any(String), nextCheckAt: null });
    expect((await rowsOf(host))[0]).toMatchObject({ status: 'active', cloudflare_id: added.cloudflareId });
    const seen = await within(BOUND_MS, routerSees(host, token));
    expect(seen, 'served within the bound after activation').not.toBeNull();
    expect(Date.now() - at).toBeLessThan(BOUND_MS + 1000);
    const me = await call(host, '/api/v1/me', { token });
    expect(me.headers.get('x-tenant')).toBe(t.slug);
    await me.body?.cancel();
    const view = await admin(domainPath(t.id, host));
    expect(await view.json()).toMatchObject({ hostname: host, status: 'active', activatedAt: active.activatedAt });
    expect((await (await admin(`/admin/v1/tenants/${t.id}`)).json() as { domains: string[] }).domains).toEqual([host]);

    const removed = await admin(domainPath(t.id, host), { method: 'DELETE' });
    expect(removed.status).toBe(200);
    expect(await atCloudflare(host)).toEqual([]);
    expect(await rowsOf(host)).toEqual([]);
    expect(await within(BOUND_MS, routerSees(host, token, false))).not.toBeNull();
    expect((await admin(domainPath(t.id, host))).status).toBe(404);
  });

  it('becomes active through the scheduled maintenance run, without an on-demand refresh', async () => {
    const t = await createViaApi();
    const token = await tokenFor(t.id);
    const host = `${unique('cron')}.example.org`;
    const added = await (await admin(`/admin/v1/tenants/${t.id}/domains`, { method: 'POST', json: { hostname: host } })).json() as DomainView;
    expect(await routerSees(host, token, false)()).toBe(true);
    await publishRecords(added.records);
    // Due now (new domains are checked every 15 s at first; the test does not wait for that).
    await control().query('UPDATE tenant_domains SET next_check_at = now() WHERE hostname = $1', [host]);
    const cron = await fetch(`${stack.control.url}/__scheduled?cron=${encodeURIComponent('* * * * *')}`);
    expect(cron.status).toBe(200);
    expect(await within(10_000, async () => (await rowsOf(host))[0]?.status === 'active')).not.toBeNull();
    expect(await within(BOUND_MS, routerSees(host, token))).not.toBeNull();
  });

  it('a hostname Cloudflare blocks is failed with the reason and never served, even with its records published', async () => {
    const t = await createViaApi();
    const token = await tokenFor(t.id);
    const host = `${unique('blk')}.example.org`;
    const added = await (await admin(`/admin/v1/tenants/${t.id}/domains`, { method: 'POST', json: { hostname: host } })).json() as DomainView;
    const blocked = await fetch(`${stack.cloudflare.hooks}/_test/block/${host}`, { method: 'POST', body: JSON.stringify({ reason: 'hostname is associated with phishing' }) });
    expect(blocked.status).toBe(200);
    await publishRecords(added.records);
    const failed = await refresh(t.id, host);
    expect(failed).toMatchObject({ status: 'failed', statusDetail: 'hostname blocked by Cloudflare; hostname is associated with phishing' });
    expect((await rowsOf(host))[0]!.status).toBe('failed');
    // Failed domains are not checked on the schedule; the router never serves one.
    await fetch(`${stack.control.url}/__scheduled?cron=${encodeURIComponent('* * * * *')}`);
    expect(await routerSees(host, token, false)()).toBe(true);
    await new Promise((r) => setTimeout(r, BOUND_MS));
    expect(await routerSees(host, token, false)()).toBe(true);
  });

  it('an active domain whose records are withdrawn is failed (moved) on its next check and no longer served', async () => {
    const t = await createViaApi();
    const token = await tokenFor(t.id);
    const host = `${unique('mv')}.example.org`;
    const added = await (await admin(`/admin/v1/tenants/${t.id}/domains`, { method: 'POST', json: { hostname: host } })).json() as DomainView;
    await publishRecords(added.records);
    expect((await refresh(t.id, host)).status).toBe('active');
    expect(await within(BOUND_MS, routerSees(host, token))).not.toBeNull();
    for (const r of added.records.filter((x) => x.purpose !== 'certificate')) {
      await fetch(`${stack.cloudflare.hooks}/_dns/${r.type}/${r.name}`, { method: 'DELETE' });
    }
    const moved = await refresh(t.id, host);
    expect(moved.status).toBe('failed');
    expect(moved.statusDetail).toMatch(/^hostname no longer points to this zone \(moved\)/);
    expect(await within(BOUND_MS, routerSees(host, token, false))).not.toBeNull();
  });

  it('an active domain Cloudflare validated over HTTP (not our TXT) is pending re-verification on its next check and no longer served', async () => {
    const t = await createViaApi();
    const token = await tokenFor(t.id);
    const host = `${unique('http')}.example.org`;
    const added = await (await admin(`/admin/v1/tenants/${t.id}/domains`, { method: 'POST', json: { hostname: host } })).json() as DomainView;
    await publishRecords(added.records);
    expect((await refresh(t.id, host)).status).toBe('active');
    expect(await within(BOUND_MS, routerSees(host, token))).not.toBeNull();
    // As a hostname activated by HTTP DCV before the TXT-only rule looks at Cloudflare.
    const [row] = await rowsOf(host);
    const patched = await fetch(`${stack.cloudflare.url}/zones/${stack.cloudflare.zoneId}/custom_hostnames/${row!.cloudflare_id}`, {
      method: 'PATCH', headers: { authorization: `Bearer ${stack.cloudflare.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ ssl: { method: 'http' } }),
    });
    expect(patched.status).toBe(202);
    const again = await refresh(t.id, host);
    expect(again.status).toBe('pending');
    expect(again.statusDetail).toMatch(/^pending re-verification: certificate validated over http, not the TXT record/);
    expect((await rowsOf(host))[0]!.status).toBe('pending');
    expect(await within(BOUND_MS, routerSees(host, token, false))).not.toBeNull();
  });

  it('an active domain is re-checked daily by the scheduled run: moved at Cloudflare, it is failed and no longer served', async () => {
    const t = await createViaApi();
    const token = await tokenFor(t.id);
    const host = `${unique('daily')}.example.org`;
    const added = await (await admin(`/admin/v1/tenants/${t.id}/domains`, { method: 'POST', json: { hostname: host } })).json() as DomainView;
    await publishRecords(added.records);
    expect((await refresh(t.id, host)).status).toBe('active');
    expect(await within(BOUND_MS, routerSees(host, token))).not.toBeNull();
    const [next] = await control().query(`SELECT extract(epoch FROM next_check_at - now())::int AS s FROM tenant_domains WHERE hostname = $1`, [host]) as { s: number }[];
    expect(next!.s).toBeGreaterThan(86_400 - 120);
    expect(next!.s).toBeLessThanOrEqual(86_400);
    for (const r of added.records.filter((x) => x.purpose !== 'certificate')) {
      await fetch(`${stack.cloudflare.hooks}/_dns/${r.type}/${r.name}`, { method: 'DELETE' });
    }
    // A day later (first in the sweep's batch):
    await control().query(`UPDATE tenant_domains SET next_check_at = now() - interval '10 days' WHERE hostname = $1`, [host]);
    expect((await fetch(`${stack.control.url}/__scheduled?cron=${encodeURIComponent('* * * * *')}`)).status).toBe(200);
    expect(await within(10_000, async () => (await rowsOf(host))[0]?.status === 'failed')).not.toBeNull();
    expect(await within(BOUND_MS, routerSees(host, token, false))).not.toBeNull();
  });

  it('the scheduled run stops its batch at the first 503 from Cloudflare: the domains after it wait for the next run', async () => {
    const t = await createViaApi({ tier: 'STANDARD' });
    const label = unique('sw');
    const hosts = [0, 1, 2].map((i) => `s${i}-${label}.example.org`);
    const ids: string[] = [];
    for (const hostname of hosts) {
      const res = await admin(`/admin/v1/tenants/${t.id}/domains`, { method: 'POST', json: { hostname } });
      expect(res.status).toBe(201);
      ids.push((await res.json() as DomainView).cloudflareId!);
    }
    // Due long ago, in this order: the first three of the batch.
    for (const [i, h] of hosts.entries()) {
      await control().query(`UPDATE tenant_domains SET next_check_at = now() - interval '10 days' + make_interval(secs => $2) WHERE hostname = $1`, [h, i]);
    }
    const counts = async () => (await control().query(
      'SELECT hostname, check_count FROM tenant_domains WHERE hostname = ANY($1) ORDER BY hostname', [hosts]) as { hostname: string; check_count: number }[]).map((r) => r.check_count);
    const before = await counts();
    // Cloudflare answers 503 to the first domain's check.
    await fetch(`${stack.cloudflare.hooks}/_test/fail-next`, { method: 'POST', body: JSON.stringify({ zone: stack.cloudflare.zoneId, status: 503, count: 1, id: ids[0] }) });
    expect((await fetch(`${stack.control.url}/__scheduled?cron=${encodeURIComponent('* * * * *')}`)).status).toBe(200);
    expect(await counts()).toEqual(before);
    // Claimed, they come up again in 2 minutes, not on the next minute's run.
    const next = await control().query(`SELECT hostname FROM tenant_domains WHERE hostname = ANY($1) AND next_check_at > now() + interval '1 minute'`, [hosts]);
    expect(next).toHaveLength(3);
  });

  it('concurrent adds past the tier cap leave exactly the recorded hostnames at Cloudflare', async () => {
    const t = await createViaApi({ tier: 'FREE', overrides: { ratePerMinute: 6000, burst: 100 } });
    const label = unique('cap');
    const hosts = [0, 1, 2].map((i) => `c${i}-${label}.example.org`);
    const res = await Promise.all(hosts.map((hostname) => admin(`/admin/v1/tenants/${t.id}/domains`, { method: 'POST', json: { hostname } })));
    expect(res.map((r) => r.status).sort()).toEqual([201, 422, 422]);
    const kept = hosts[res.findIndex((r) => r.status === 201)]!;
    for (const h of hosts) expect((await atCloudflare(h)).length, h).toBe(h === kept ? 1 : 0);
  });

  it('deleting the tenant removes its custom hostnames at Cloudflare', async () => {
    const t = await createViaApi({ tier: 'STANDARD' });
    const hosts = [`${unique('d1')}.example.org`, `${unique('d2')}.example.org`];
    for (const hostname of hosts) expect((await admin(`/admin/v1/tenants/${t.id}/domains`, { method: 'POST', json: { hostname } })).status).toBe(201);
    for (const h of hosts) expect(await atCloudflare(h)).toHaveLength(1);
    const deleted = await admin(`/admin/v1/tenants/${t.id}?confirm=${t.slug}`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    for (const h of hosts) expect(await atCloudflare(h), h).toEqual([]);
    for (const h of hosts) expect(await rowsOf(h)).toEqual([]);
  });

  it('a domain given at tenant creation is registered at Cloudflare and pending until verified', async () => {
    const host = `${unique('born')}.example.org`;
    const t = await createViaApi({ domains: [host] });
    const token = await tokenFor(t.id);
    expect((await rowsOf(host))[0]!.status).toBe('pending');
    expect(await routerSees(host, token, false)()).toBe(true);
    const first = await refresh(t.id, host);
    expect(first.cloudflareId).not.toBeNull();
    expect(first.records.map((r) => r.purpose)).toEqual(['traffic', 'ownership', 'certificate']);
    await publishRecords(first.records);
    expect((await refresh(t.id, host)).status).toBe('active');
    expect(await within(BOUND_MS, routerSees(host, token))).not.toBeNull();
  });
});

describe('OpenAPI', () => {
  it('names the domain and settings operations and describes the domain view', async () => {
    const doc = await (await admin('/admin/v1/openapi.json', { token: null })).json() as {
      paths: Record<string, Record<string, { operationId?: string }>>; components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    const op = (method: string, path: string) => doc.paths[`/admin/v1/tenants/{id}${path}`]?.[method]?.operationId;
    expect([op('post', '/domains'), op('get', '/domains/{hostname}'), op('post', '/domains/{hostname}/refresh'), op('delete', '/domains/{hostname}'),
      op('put', '/jwt'), op('delete', '/jwt'), op('put', '/geo')])
      .toEqual(['addDomain', 'getDomain', 'refreshDomain', 'removeDomain', 'setJwt', 'removeJwt', 'setGeo']);
    expect(Object.keys(doc.components.schemas.DomainView!.properties!)).toEqual(expect.arrayContaining(['status', 'records', 'statusDetail', 'activatedAt']));
  });
});
