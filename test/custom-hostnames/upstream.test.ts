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
import { call, controlEnv } from '../control/in-process.js';

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

  it('the API hung is cut off by the timeout: 503 with Retry-After, no row, nothing at Cloudflare', async () => {
    const { env, zone } = await zoneEnv(10, { CLOUDFLARE_API_TIMEOUT_MS: '400' });
    // The SDK tries twice (one retry): both attempts hang.
    await fetch(`${stack.cloudflare.hooks}/_test/hang`, { method: 'POST', body: JSON.stringify({ zone, count: 2 }) });
    const t = await createViaApi();
    const host = `${unique('hung')}.example.org`;
    const t0 = Date.now();
    const res = await add(env, t.id, host);
    expect(res.status).toBe(503);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(res.headers.get('retry-after')).toBe('5');
    expect(await rowsOf(host)).toEqual([]);
    expect(await atCloudflare(host)).toEqual([]);
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
