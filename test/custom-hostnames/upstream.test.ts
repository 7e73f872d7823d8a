/**
 * Cloudflare refusing or not answering, through the control worker run in the test's isolate
 * (test/control/in-process.ts) against the stack's databases and the Cloudflare stand-in, each
 * test in a zone of its own: quota exceeded, the API down, the API hung, a wrong token. Every one
 * is a clear refusal and leaves no row (and nothing at Cloudflare).
 */
import { describe, expect, it } from 'vitest';
import type { ControlEnv } from '../../src/control/env.js';
import { parseControlConfig } from '../../src/control/env.js';
import { sqlAt, stack, unique } from '../support/helpers.js';
import { createViaApi } from '../support/control.js';
import { call, controlEnv, servicesFor } from '../control/in-process.js';
import { refreshDue } from '../../src/custom-hostnames/sweep.js';

const control = () => sqlAt(stack.control.postgresUrl);
const rowsOf = async (host: string) => await control().query('SELECT hostname FROM tenant_domains WHERE hostname = $1', [host]);
const atCloudflare = async (host: string) => await (await fetch(`${stack.cloudflare.hooks}/_test/hostnames?hostname=${host}`)).json() as unknown[];

/** A fresh zone at the stand-in with `quota`, and a control configuration that uses it. */
async function zoneEnv(quota: number, over: Partial<ControlEnv> = {}): Promise<{ env: ControlEnv; zone: string }> {
  const zone = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('');
  const res = await fetch(`${stack.cloudflare.hooks}/_test/zones/${zone}`, { method: 'PUT', body: JSON.stringify({ quota }) });
  expect(res.status).toBe(200);
  return {
    zone,
    env: controlEnv({
      CUSTOM_HOSTNAMES: 'cloudflare', CLOUDFLARE_API_TOKEN: stack.cloudflare.token, CLOUDFLARE_ZONE_ID: zone,
      CLOUDFLARE_API_URL: stack.cloudflare.url, CLOUDFLARE_CNAME_TARGET: stack.cloudflare.cnameTarget, ...over,
    }),
  };
}
/** The control configuration for an existing stand-in zone. */
const zoneEnvFor = async (zone: string, over: Partial<ControlEnv> = {}) => controlEnv({
  CUSTOM_HOSTNAMES: 'cloudflare', CLOUDFLARE_API_TOKEN: stack.cloudflare.token, CLOUDFLARE_ZONE_ID: zone,
  CLOUDFLARE_API_URL: stack.cloudflare.url, CLOUDFLARE_CNAME_TARGET: stack.cloudflare.cnameTarget, ...over,
});
/** How many API requests the stand-in has had for `zone`. */
const requestsTo = async (zone: string) => (await (await fetch(`${stack.cloudflare.hooks}/_test/requests?zone=${zone}`)).json() as { requests: number }).requests;
/** Creates a custom hostname at the stand-in directly (as another tool, or an earlier version, would have). */
const standInCreate = (zone: string, hostname: string, method: 'http' | 'txt') => fetch(`${stack.cloudflare.url}/zones/${zone}/custom_hostnames`, {
  method: 'POST', headers: { authorization: `Bearer ${stack.cloudflare.token}`, 'content-type': 'application/json' },
  body: JSON.stringify({ hostname, ssl: { method, type: 'dv' } }),
});
const publish = (type: string, name: string, value: string) => fetch(`${stack.cloudflare.hooks}/_dns/${type}/${encodeURIComponent(name)}`, { method: 'PUT', body: value });
const add = (env: ControlEnv, id: string, hostname: string) => call(env, `/admin/v1/tenants/${id}/domains`, { method: 'POST', json: { hostname } });
const errorBody = async (res: Response) => (await res.json() as { error: { code: string; message: string } }).error;

describe('Cloudflare refusing or unavailable', () => {
  it("a zone's custom hostname quota used up is 422 HOSTNAME_QUOTA_EXCEEDED and no row", async () => {
    const { env } = await zoneEnv(1);
    const t = await createViaApi({ tier: 'STANDARD' });
    const first = `${unique('q1')}.example.org`;
    expect((await add(env, t.id, first)).status).toBe(201);
    const second = `${unique('q2')}.example.org`;
    const res = await add(env, t.id, second);
    expect(res.status).toBe(422);
    const err = await errorBody(res);
    expect(err.code).toBe('HOSTNAME_QUOTA_EXCEEDED');
    expect(err.message).toContain('Quota exceeded');
    expect(await rowsOf(second)).toEqual([]);
    expect(await atCloudflare(second)).toEqual([]);
  });

  it('the API down is 503 UPSTREAM_UNAVAILABLE with Retry-After, and no row', async () => {
    const { env } = await zoneEnv(10, { CLOUDFLARE_API_URL: 'http://127.0.0.1:9/client/v4', CLOUDFLARE_API_TIMEOUT_MS: '1000' });
    const t = await createViaApi();
    const host = `${unique('down')}.example.org`;
    const res = await add(env, t.id, host);
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await errorBody(res)).code).toBe('UPSTREAM_UNAVAILABLE');
    expect(await rowsOf(host)).toEqual([]);
  });

  it('the API hung is cut off by the timeout, not retried: 503 with Retry-After, one request, no row, nothing at Cloudflare', async () => {
    const { env, zone } = await zoneEnv(10, { CLOUDFLARE_API_TIMEOUT_MS: '400' });
    await fetch(`${stack.cloudflare.hooks}/_test/hang`, { method: 'POST', body: JSON.stringify({ zone, count: 2 }) });
    const t = await createViaApi();
    const host = `${unique('hung')}.example.org`;
    const t0 = Date.now();
    const res = await add(env, t.id, host);
    expect(res.status).toBe(503);
    // One attempt of 400 ms, no retry after it (the SDK's one retry took it past a second).
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await requestsTo(zone)).toBe(1);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await rowsOf(host)).toEqual([]);
    expect(await atCloudflare(host)).toEqual([]);
  });

  it("one admin request's Cloudflare calls share one deadline: two answers of 400 ms each do not fit in 600 ms", async () => {
    const { env, zone } = await zoneEnv(10, { CLOUDFLARE_API_TIMEOUT_MS: '600' });
    const t = await createViaApi();
    const host = `${unique('dl')}.example.org`;
    // The zone holds the hostname already (a half-finished add): the add is a create (1406) then a find.
    expect((await standInCreate(zone, host, 'txt')).status).toBe(201);
    await fetch(`${stack.cloudflare.hooks}/_test/delay`, { method: 'POST', body: JSON.stringify({ zone, ms: 400, count: 2 }) });
    const t0 = Date.now();
    const res = await add(env, t.id, host);
    const took = Date.now() - t0;
    expect(res.status).toBe(503);
    expect((await errorBody(res)).code).toBe('UPSTREAM_UNAVAILABLE');
    expect(took).toBeLessThan(1000);
    expect(await rowsOf(host)).toEqual([]);
    // Each call alone fits the budget: with time to spare the same add adopts the hostname.
    const roomy = await zoneEnvFor(zone, { CLOUDFLARE_API_TIMEOUT_MS: '3000' });
    await fetch(`${stack.cloudflare.hooks}/_test/delay`, { method: 'POST', body: JSON.stringify({ zone, ms: 400, count: 2 }) });
    expect((await add(roomy, t.id, host)).status).toBe(201);
  });

  it("the scheduled check's calls share one deadline for the whole run: a slow API leaves the rest for the next run", async () => {
    const { env, zone } = await zoneEnv(10);
    const t = await createViaApi({ tier: 'STANDARD' });
    const hosts = Array.from({ length: 5 }, (_, i) => `${unique(`sw${i}`)}.example.org`);
    for (const h of hosts) expect((await add(env, t.id, h)).status).toBe(201);
    // Due a day ago: ahead of any other test's due domains in the run's order.
    await control().query("UPDATE tenant_domains SET next_check_at = now() - interval '1 day' WHERE hostname = ANY($1)", [hosts]);
    // Every call 300 ms late; each fits the per-call timeout (3 s), five do not fit the run's 1 s.
    await fetch(`${stack.cloudflare.hooks}/_test/delay`, { method: 'POST', body: JSON.stringify({ zone, ms: 300, count: 5 }) });
    const report = await refreshDue(await servicesFor(await zoneEnvFor(zone, { CLOUDFLARE_API_TIMEOUT_MS: '3000' })), 5, 1_000);
    expect(report.checked).toBeLessThan(5);
    expect(report.errors).toBe(1);
    expect(report.checked + report.errors + report.skipped).toBe(5);
    expect(report.skipped).toBeGreaterThanOrEqual(1);
  });

  it('a token Cloudflare refuses is 503 (the operator must act), and no row', async () => {
    const { env } = await zoneEnv(10, { CLOUDFLARE_API_TOKEN: 'not-the-token' });
    const t = await createViaApi();
    const host = `${unique('tok')}.example.org`;
    const res = await add(env, t.id, host);
    expect(res.status).toBe(503);
    expect((await errorBody(res)).message).toContain('credentials');
    expect(await rowsOf(host)).toEqual([]);
  });

  it('refuses CUSTOM_HOSTNAMES=cloudflare without its token, zone or CNAME target, naming the variable', () => {
    const base = controlEnv({ CUSTOM_HOSTNAMES: 'cloudflare', CLOUDFLARE_API_TOKEN: 'x', CLOUDFLARE_ZONE_ID: 'a'.repeat(32), CLOUDFLARE_CNAME_TARGET: 'fallback.example.com' });
    expect(parseControlConfig(base).CUSTOM_HOSTNAMES).toBe('cloudflare');
    for (const name of ['CLOUDFLARE_API_TOKEN', 'CLOUDFLARE_ZONE_ID', 'CLOUDFLARE_CNAME_TARGET'] as const) {
      expect(() => parseControlConfig({ ...base, [name]: undefined }), name).toThrow(new RegExp(`${name}: ${name} is required with CUSTOM_HOSTNAMES=cloudflare`));
    }
    expect(() => parseControlConfig({ ...base, CUSTOM_HOSTNAMES: 'maybe' })).toThrow(/CUSTOM_HOSTNAMES/);
    // `off`: no Cloudflare account needed.
    expect(parseControlConfig(controlEnv({ CUSTOM_HOSTNAMES: 'off' })).CUSTOM_HOSTNAMES).toBe('off');
  });

  it('refuses CLOUDFLARE_DCV_METHOD=http, and a CLOUDFLARE_API_URL over http other than to localhost or 127.0.0.1', () => {
    const base = controlEnv({ CUSTOM_HOSTNAMES: 'cloudflare', CLOUDFLARE_API_TOKEN: 'x', CLOUDFLARE_ZONE_ID: 'a'.repeat(32), CLOUDFLARE_CNAME_TARGET: 'fallback.example.com' });
    expect(parseControlConfig({ ...base, CLOUDFLARE_DCV_METHOD: 'txt' }).CLOUDFLARE_DCV_METHOD).toBe('txt');
    expect(() => parseControlConfig({ ...base, CLOUDFLARE_DCV_METHOD: 'http' })).toThrow(/CLOUDFLARE_DCV_METHOD: only txt is accepted/);
    for (const url of ['https://api.cloudflare.com/client/v4', 'http://127.0.0.1:8999/client/v4', 'http://localhost:8999/client/v4']) {
      expect(parseControlConfig({ ...base, CLOUDFLARE_API_URL: url }).CLOUDFLARE_API_URL, url).toBe(url);
    }
    for (const url of ['http://api.cloudflare.com/client/v4', 'http://127.0.0.2/client/v4', 'http://localhost.example.com/client/v4', 'ftp://127.0.0.1/']) {
      expect(() => parseControlConfig({ ...base, CLOUDFLARE_API_URL: url }), url).toThrow(/CLOUDFLARE_API_URL/);
    }
  });

  it('creates custom hostnames with TXT certificate validation: a CNAME left behind activates the hostname but never serves the domain', async () => {
    const { env, zone } = await zoneEnv(10);
    const t = await createViaApi();
    const host = `${unique('left')}.example.org`;
    const added = await (await add(env, t.id, host)).json() as { records: { type: string; name: string; value: string; purpose: string }[] };
    expect((await atCloudflare(host) as { ssl: { method: string } }[])[0]!.ssl.method).toBe('txt');
    // Someone else's CNAME to the SaaS zone is still in place; the TXT records only the owner could publish are not.
    const cname = added.records.find((r) => r.type === 'CNAME')!;
    await publish('CNAME', cname.name, cname.value);
    const checked = await call(env, `/admin/v1/tenants/${t.id}/domains/${host}/refresh`, { method: 'POST' });
    expect(await checked.json()).toMatchObject({ status: 'pending', statusDetail: 'waiting for the published records: certificate pending validation' });
    expect((await atCloudflare(host) as { status: string }[])[0]!.status).toBe('active');
    expect(zone).toMatch(/^[0-9a-f]{32}$/);
  });

  it('never activates a hostname whose certificate was validated over HTTP (made elsewhere, adopted here), even when Cloudflare says active', async () => {
    const { env, zone } = await zoneEnv(10);
    const t = await createViaApi();
    const host = `${unique('httpdcv')}.example.org`;
    expect((await standInCreate(zone, host, 'http')).status).toBe(201);
    const res = await add(env, t.id, host);
    expect(res.status).toBe(201);
    await publish('CNAME', host, stack.cloudflare.cnameTarget);
    const checked = await (await call(env, `/admin/v1/tenants/${t.id}/domains/${host}/refresh`, { method: 'POST' })).json() as { status: string; statusDetail: string };
    expect((await atCloudflare(host) as { status: string; ssl: { status: string; method: string } }[])[0]).toMatchObject({ status: 'active', ssl: { status: 'active', method: 'http' } });
    expect(checked.status).toBe('pending');
    expect(checked.statusDetail).toContain('certificate validated over http, not the TXT record');
    expect((await control().query('SELECT status FROM tenant_domains WHERE hostname = $1', [host]))[0]).toEqual({ status: 'pending' });
  });

  it('with CUSTOM_HOSTNAMES=off a domain is active at once, without any Cloudflare call', async () => {
    const env = controlEnv({ CUSTOM_HOSTNAMES: 'off' });
    const t = await createViaApi();
    const host = `${unique('off')}.example.org`;
    const res = await add(env, t.id, host);
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ hostname: host, status: 'active', cloudflareId: null, records: [], activatedAt: expect.any(String) });
    expect(await atCloudflare(host)).toEqual([]);
    expect((await call(env, `/admin/v1/tenants/${t.id}/domains/${host}`, { method: 'DELETE' })).status).toBe(200);
  });
});
