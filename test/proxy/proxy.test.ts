/**
 * Proxy mode end to end: the router (in this workerd) forwards /app/ to the stack's two real
 * origin servers (test/harness/origins.ts), which verify the signed tenant context with jose
 * against the JWKS the router publishes. Proves: each origin gets only its region's tenants, the
 * context's claims, forged and replayed contexts refused by the origin, inbound X-Tenant* and
 * credentials never forwarded, 20 MB streamed both ways without buffering, a dead origin's
 * breaker opening while the other origin serves, residency failing closed (451), and a tenant's
 * own origin and prefixes set through the admin API.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { decodeProtectedHeader, generateKeyPair, SignJWT, type JWK } from 'jose';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Env } from '../../src/env.js';
import { buildRouter } from '../../workers/router/index.js';
import { call, errorOf, platformToken, stack, tenant } from '../support/helpers.js';
import { admin, createViaApi, tokenFor, within } from '../support/control.js';
import type { OriginRecord } from '../../test/harness/origins.js';

const US = stack.origins['aws-us-east-2']!.url;
const EU = stack.origins['aws-eu-central-1']!.url;
const app = buildRouter(undefined, { accessLog: null });

/** What `origin` accepted or refused since the last clear. */
async function seen(origin: string): Promise<OriginRecord[]> {
  return ((await (await fetch(`${origin}/_origin/requests`)).json()) as { requests: OriginRecord[] }).requests;
}

/** The router with other proxy variables (services are built per env object: a fresh isolate's router). */
const routerWith = (vars: Record<string, string>): Env => ({ ...(env as unknown as Env), ...vars });

async function via(router: Env, host: string, path: string, token: string): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://${host}${path}`, { headers: { host, authorization: `Bearer ${token}` } }), router, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

async function sha256(data: ArrayBuffer | Uint8Array): Promise<string> {
  return [...new Uint8Array(await crypto.subtle.digest('SHA-256', data))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

let jwks: { keys: JWK[] };

beforeAll(async () => {
  // The router's published keys, handed to the origins (they cannot reach this workerd themselves).
  const res = await call('api.localhost', '/.well-known/jwks.json');
  jwks = await res.json() as { keys: JWK[] };
  for (const o of [US, EU]) expect((await fetch(`${o}/_origin/jwks`, { method: 'PUT', body: JSON.stringify(jwks) })).status).toBe(200);
});

beforeEach(async () => {
  for (const o of [US, EU]) await fetch(`${o}/_origin/requests`, { method: 'DELETE' });
});

describe('the JWKS of tenant contexts', () => {
  it('is public and cacheable on the API host, with ES256 public keys only', async () => {
    const res = await call('api.localhost', '/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    expect(res.headers.get('content-type')).toContain('application/jwk-set+json');
    const body = await res.json() as { keys: JWK[] };
    expect(body.keys.length).toBeGreaterThanOrEqual(1);
    for (const k of body.keys) {
      expect(k).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(k.kid).toMatch(/^[a-z0-9_-]+$/);
      expect(k.d).toBeUndefined();
    }
  });

  it('is not served on a tenant host: there the path is the tenant pipeline (401 without a token)', async () => {
    const res = await call('acme.localhost', '/.well-known/jwks.json');
    expect(res.status).toBe(401);
    expect((await errorOf(res)).code).toBe('UNAUTHENTICATED');
  });
});

describe('forwarding to region-pinned origins', () => {
  it('sends each tenant to its region\'s origin, and each origin sees only its tenants', async () => {
    const us = await call('acme.localhost', '/app/hello?x=1', { token: await platformToken('acme') });
    const eu = await call('globex.localhost', '/app/hello', { token: await platformToken('globex') });
    expect(us.status).toBe(200);
    expect(eu.status).toBe(200);
    expect(await us.json()).toMatchObject({ origin: 'aws-us-east-2', path: '/app/hello?x=1', claims: { slug: 'acme' } });
    expect(await eu.json()).toMatchObject({ origin: 'aws-eu-central-1', path: '/app/hello', claims: { slug: 'globex' } });
    const usSeen = await seen(US);
    const euSeen = await seen(EU);
    expect(usSeen.map((r) => [r.outcome, r.claims?.tid])).toEqual([['accepted', tenant('acme').id]]);
    expect(euSeen.map((r) => [r.outcome, r.claims?.tid])).toEqual([['accepted', tenant('globex').id]]);
  });

  it('answers with the origin\'s body and the router\'s own tenant headers, without hop-by-hop ones', async () => {
    const res = await call('acme.localhost', '/app/hello', { token: await platformToken('acme') });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-origin')).toBe('aws-us-east-2');
    // The origin sent X-Tenant: forged-by-origin and Connection: keep-alive, x-hop with X-Hop.
    expect(res.headers.get('x-tenant')).toBe('acme');
    expect(res.headers.get('x-hop')).toBeNull();
    expect(res.headers.get('x-request-id')).toMatch(/.{8,}/);
  });

  it('signs a context the origin verifies: tenant, tier, region, subject, request id, aud = the origin, 60 s, unique jti', async () => {
    const res = await call('acme.localhost', '/app/ctx', { token: await platformToken('acme') });
    expect(res.status).toBe(200);
    const [r] = await seen(US);
    expect(r!.outcome).toBe('accepted');
    const c = r!.claims!;
    expect(c).toMatchObject({ iss: stack.platform.issuer, aud: US, tid: tenant('acme').id, slug: 'acme', tier: 'FREE', region: 'aws-us-east-2', sub: 'user-1', rid: res.headers.get('x-request-id') });
    expect(c.exp! - c.iat!).toBe(60);
    expect(c.jti).toMatch(/^[0-9a-f-]{36}$/);
    const header = decodeProtectedHeader(r!.headers['x-tenant-context']!);
    expect(header).toEqual({ alg: 'ES256', kid: jwks.keys[0]!.kid, typ: 'tenant-context+jwt' });
    // A second request gets another jti.
    await call('acme.localhost', '/app/ctx', { token: await platformToken('acme') });
    const all = await seen(US);
    expect(new Set(all.map((x) => x.claims?.jti)).size).toBe(2);
  });

  it('has the origin refuse a forged context (another key under the router\'s kid), a platform token, and a replayed context', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ tid: tenant('globex').id, slug: 'globex', rid: 'forged-request' })
      .setProtectedHeader({ alg: 'ES256', kid: jwks.keys[0]!.kid!, typ: 'tenant-context+jwt' })
      .setIssuer(stack.platform.issuer).setAudience(US).setIssuedAt(now).setExpirationTime(now + 60).setJti(crypto.randomUUID()).sign(privateKey);
    const direct = (token: string, origin = US) => fetch(`${origin}/app/hello`, { headers: { 'x-tenant-context': token } });
    const f = await direct(forged);
    expect(f.status).toBe(401);
    expect(await f.json()).toMatchObject({ error: 'invalid' });
    expect((await direct(await platformToken('acme'))).status).toBe(401);

    expect((await call('acme.localhost', '/app/once', { token: await platformToken('acme') })).status).toBe(200);
    const context = (await seen(US)).find((r) => r.path === '/app/once')!.headers['x-tenant-context']!;
    const replay = await direct(context);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ error: 'replayed' });
    // Meant for the US origin, it is no good at the EU one either.
    const elsewhere = await direct(context, EU);
    expect(elsewhere.status).toBe(401);
    expect(((await elsewhere.json()) as { reason: string }).reason).toMatch(/aud/);
    expect((await seen(US)).map((r) => r.outcome)).toEqual(['invalid', 'invalid', 'accepted', 'replayed']);
  });

  it('never forwards inbound X-Tenant* headers, the caller\'s Authorization, Proxy-* or Connection-listed headers', async () => {
    const res = await call('acme.localhost', '/app/headers', {
      token: await platformToken('acme'),
      headers: {
        'x-tenant': 'globex', 'x-tenant-id': tenant('globex').id, 'x-tenant-region': 'aws-eu-central-1', 'x-tenant-context': 'forged',
        'proxy-authorization': 'Basic eDp5', 'x-forwarded-host': 'evil.example', 'x-kept': 'yes',
      },
    });
    expect(res.status).toBe(200);
    const [r] = await seen(US);
    expect(r!.outcome).toBe('accepted');
    expect(r!.claims!.slug).toBe('acme');
    const names = Object.keys(r!.headers);
    expect(names.filter((n) => n.startsWith('x-tenant'))).toEqual(['x-tenant-context']);
    expect(r!.headers['x-tenant-context']).not.toBe('forged');
    expect(names).not.toContain('authorization');
    expect(names).not.toContain('proxy-authorization');
    expect(r!.headers['x-forwarded-host']).toBe('acme.localhost');
    expect(r!.headers['x-kept']).toBe('yes');
  });

  it('drops client headers with _ and the client-IP / URL-rewrite headers an origin might trust', async () => {
    const res = await call('acme.localhost', '/app/headers', {
      token: await platformToken('acme'),
      headers: {
        x_tenant_id: tenant('globex').id, x_forwarded_for: '10.0.0.1', 'x-real-ip': '10.0.0.2', 'true-client-ip': '10.0.0.3',
        'x-forwarded-port': '8443', 'x-forwarded-prefix': '/admin', 'x-original-url': '/admin', 'x-rewrite-url': '/admin', 'x-kept': 'yes',
      },
    });
    expect(res.status).toBe(200);
    const [r] = await seen(US);
    expect(r!.outcome).toBe('accepted');
    const names = Object.keys(r!.headers);
    expect(names.filter((n) => n.includes('_'))).toEqual([]);
    for (const n of ['x-real-ip', 'true-client-ip', 'x-forwarded-port', 'x-forwarded-prefix', 'x-original-url', 'x-rewrite-url']) expect(names, n).not.toContain(n);
    expect(r!.headers['x-kept']).toBe('yes');
  });

  it('takes the Domain off a Set-Cookie wider than the tenant host, keeps the cookie and an exact Domain', async () => {
    const res = await call('acme.example.com', '/app/cookies', { token: await platformToken('acme') });
    expect(res.status).toBe(200);
    expect((res.headers as Headers & { getSetCookie(): string[] }).getSetCookie()).toEqual(['own=1; Path=/; HttpOnly', 'wide=2; Path=/', 'dotted=3; Secure', 'exact=4; Domain=acme.example.com']);
  });

  it('refuses 400 INVALID_PATH a path with an encoded / or \\, and forwards nothing', async () => {
    const token = await platformToken('acme');
    for (const path of ['/app/a%2Fb', '/app/..%2f..%2fadmin', '/app/a%5cb', '/app/a%5C..']) {
      const res = await call('acme.localhost', path, { token });
      expect(res.status, path).toBe(400);
      expect((await errorOf(res)).code).toBe('INVALID_PATH');
    }
    expect(await seen(US)).toEqual([]);
    // Encoded characters that are not separators still pass.
    expect((await call('acme.localhost', '/app/a%20b', { token })).status).toBe(200);
  });

  it('refuses an anonymous caller before anything reaches an origin', async () => {
    const res = await call('acme.localhost', '/app/hello');
    expect(res.status).toBe(401);
    expect(await seen(US)).toEqual([]);
  });

  it('leaves paths outside the proxied prefixes to the built-in app', async () => {
    const res = await call('acme.localhost', '/api/v1/tracks', { token: await platformToken('acme') });
    expect(res.status).toBe(200);
    expect(await seen(US)).toEqual([]);
  });
});

describe('streaming', () => {
  const MB20 = 20 * 1024 * 1024;
  // A tenant of its own whose body limit (tier max_body_bytes, overridden) lets 20 MB through.
  let host = '';
  let token = '';
  beforeAll(async () => {
    const t = await createViaApi({ overrides: { ratePerMinute: 600_000, burst: 10_000, maxBodyBytes: 64 * 1024 * 1024 } });
    host = `${t.slug}.localhost`;
    token = await tokenFor(t.id);
  });

  it('streams a 20 MB upload to the origin and its echo back, byte for byte', async () => {
    const body = new Uint8Array(MB20);
    for (let i = 0; i < body.length; i += 4096) body[i] = (i / 4096) % 251;
    const res = await call(host, '/app/echo', { method: 'POST', token, body, headers: { 'content-type': 'application/octet-stream' } });
    expect(res.status).toBe(200);
    const back = new Uint8Array(await res.arrayBuffer());
    expect(back.length).toBe(MB20);
    const digest = await sha256(body);
    expect(await sha256(back)).toBe(digest);
    const [r] = await seen(US);
    expect([r!.bodyBytes, r!.bodySha256]).toEqual([MB20, digest]);
  });

  it('streams a 20 MB download from the origin', async () => {
    const res = await call(host, `/app/bytes?n=${MB20}`, { token });
    expect(res.status).toBe(200);
    const got = new Uint8Array(await res.arrayBuffer());
    expect(got.length).toBe(MB20);
    const pattern = new TextEncoder().encode('0123456789abcdefghijklmnopqrstuvwxyz\n');
    for (const p of [0, 65_535, 65_536, 1_000_003, MB20 - 1]) expect(got[p]).toBe(pattern[p % pattern.length]);
  });

  it('hands the client the origin\'s first bytes while the origin still holds the rest (no response buffering)', async () => {
    const res = await call(host, '/app/hold', { token });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = await Promise.race([reader.read(), new Promise<'late'>((r) => setTimeout(() => r('late'), 5_000))]);
    expect(first).not.toBe('late');
    expect(new TextDecoder().decode((first as ReadableStreamReadResult<Uint8Array>).value)).toBe('first\n');
    expect(((await (await fetch(`${US}/_origin/release`, { method: 'POST' })).json()) as { released: number }).released).toBe(1);
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += new TextDecoder().decode(r.value);
    expect(rest).toBe('rest\n');
  });

  it('hands the origin the client\'s first bytes while the client still holds the rest (no request buffering)', async () => {
    const rid = `stream-${crypto.randomUUID()}`;
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const pending = call(host, '/app/echo', {
      method: 'POST', token, body: readable, headers: { 'x-request-id': rid, 'content-type': 'application/octet-stream' },
    });
    const MB = 1024 * 1024;
    await writer.write(new Uint8Array(MB).fill(1));
    const arrived = await within(5_000, async () => ((await (await fetch(`${US}/_origin/progress?rid=${rid}`)).json()) as { bytes: number }).bytes >= MB);
    expect(arrived).not.toBeNull();
    await writer.write(new Uint8Array(MB).fill(2));
    await writer.close();
    const res = await pending;
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(2 * MB);
  });
});

describe('origin failures', () => {
  it('opens a dead origin\'s breaker (503 UPSTREAM_UNAVAILABLE, then CIRCUIT_OPEN with Retry-After) while the other origin serves', async () => {
    // Port 9 (discard) has no listener on loopback here: every connection is refused.
    const dead = 'http://127.0.0.1:9';
    const router = routerWith({ ORIGINS: JSON.stringify({ 'aws-us-east-2': dead, 'aws-eu-central-1': EU }) });
    const acme = await platformToken('acme');
    for (let i = 0; i < 3; i++) {
      const res = await via(router, 'acme.localhost', '/app/hello', acme);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await errorOf(res)).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', message: 'tenant origin is unavailable' });
    }
    const open = await via(router, 'acme.localhost', '/app/hello', acme);
    expect(open.status).toBe(503);
    expect((await errorOf(open)).code).toBe('CIRCUIT_OPEN');
    expect(Number(open.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const eu = await via(router, 'globex.localhost', '/app/hello', await platformToken('globex'));
    expect(eu.status).toBe(200);
    expect(((await eu.json()) as { origin: string }).origin).toBe('aws-eu-central-1');
    // The built-in app of the same tenant is untouched by its origin's breaker.
    expect((await via(router, 'acme.localhost', '/api/v1/tracks', acme)).status).toBe(200);
    expect(await seen(US)).toEqual([]);
  });

  it('gives up on an origin that sends no headers within ORIGIN_TIMEOUT_MS: 503 UPSTREAM_UNAVAILABLE', async () => {
    const router = routerWith({ ORIGIN_TIMEOUT_MS: '300' });
    const t0 = Date.now();
    const res = await via(router, 'globex.localhost', '/app/slow?ms=3000', await platformToken('globex'));
    expect(res.status).toBe(503);
    expect(await errorOf(res)).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', message: 'tenant origin did not answer in time' });
    expect(Date.now() - t0).toBeLessThan(2_500);
  });
});

describe('residency', () => {
  it('refuses an EU tenant 451 when no EU origin is configured, and sends nothing anywhere', async () => {
    const router = routerWith({ ORIGINS: JSON.stringify({ 'aws-us-east-2': US }) });
    const res = await via(router, 'globex.localhost', '/app/hello', await platformToken('globex'));
    expect(res.status).toBe(451);
    expect(await errorOf(res)).toMatchObject({ code: 'RESIDENCY_VIOLATION', message: "no origin satisfies the tenant's EU residency" });
    expect(await seen(US)).toEqual([]);
    // A tenant without residency whose region has no origin goes to one that exists.
    const wayne = await via(router, 'wayne.localhost', '/app/hello', await platformToken('wayne'));
    expect(wayne.status).toBe(200);
    expect(((await wayne.json()) as { origin: string }).origin).toBe('aws-us-east-2');
  });
});

describe('a tenant\'s own origin and prefixes (admin API)', () => {
  it('forwards to the dedicated origin under the tenant\'s prefixes once PATCHed, and back to the router\'s when cleared', async () => {
    const t = await createViaApi({ region: 'aws-us-east-2' });
    const token = await tokenFor(t.id);
    const host = `${t.slug}.localhost`;
    const patch = (json: unknown) => admin(`/admin/v1/tenants/${t.id}`, { method: 'PATCH', json });
    const res = await patch({ proxy: { origin: { url: EU, region: 'aws-eu-central-1' }, prefixes: ['/custom/'] } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { proxy: unknown }).proxy).toEqual({ origin: { url: EU, region: 'aws-eu-central-1' }, prefixes: ['/custom/'] });
    const moved = await within(10_000, async () => (await call(host, '/custom/x', { token })).status === 200);
    expect(moved).not.toBeNull();
    const [r] = (await seen(EU)).filter((x) => x.claims?.tid === t.id);
    expect(r).toMatchObject({ path: '/custom/x', claims: { aud: EU, slug: t.slug } });
    // /app/ is no longer proxied for this tenant, and no built-in route has it.
    const appPath = await call(host, '/app/x', { token });
    expect(appPath.status).toBe(404);
    expect((await errorOf(appPath)).code).toBe('NOT_FOUND');

    // A dedicated origin must satisfy the residency: an EU residency with this EU origin passes, a US origin does not.
    const us = await patch({ residency: 'EU', proxy: { origin: { url: US, region: 'aws-us-east-2' } } });
    expect(us.status).toBe(422);
    expect((await errorOf(us)).code).toBe('RESIDENCY_MISMATCH');
    const bad = await patch({ proxy: { origin: { url: 'ftp://origin.example', region: 'aws-us-east-2' } } });
    expect(bad.status).toBe(400);
    // Only public https hostnames (loopback http passes here only because this stack sets PROXY_ORIGIN_LOOPBACK).
    for (const url of ['http://app.example.com', 'https://10.1.2.3', 'https://169.254.169.254', 'https://[fd00::1]', 'https://metadata.google.internal',
      'https://db.local', 'https://intranet', 'https://u:p@app.example.com', 'https://app.example.com:6379', 'http://10.0.0.1:80']) {
      const r = await patch({ proxy: { origin: { url, region: 'aws-eu-central-1' } } });
      expect(r.status, url).toBe(400);
      expect((await errorOf(r)).code, url).toMatch(/^(ORIGIN_NOT_ALLOWED|VALIDATION_FAILED|BAD_REQUEST)$/);
    }
    const ssrf = await patch({ proxy: { origin: { url: 'https://10.1.2.3', region: 'aws-eu-central-1' } } });
    expect((await errorOf(ssrf)).code).toBe('ORIGIN_NOT_ALLOWED');
    // A service binding the routers' ORIGINS does not have in the tenant's jurisdiction.
    const svc = await patch({ proxy: { origin: { url: 'service:ADMIN_API', region: 'aws-eu-central-1' } } });
    expect(svc.status).toBe(400);
    expect((await errorOf(svc)).code).toBe('ORIGIN_SERVICE_UNKNOWN');
    const pub = await patch({ proxy: { origin: { url: 'https://eu.app.acme.com', region: 'aws-eu-central-1' } } });
    expect(pub.status).toBe(200);

    const cleared = await patch({ proxy: null });
    expect(((await cleared.json()) as { proxy: unknown }).proxy).toBeNull();
    const back = await within(10_000, async () => {
      const r2 = await call(host, '/app/y', { token });
      return r2.status === 200 && ((await r2.json()) as { origin: string }).origin === 'aws-us-east-2';
    });
    expect(back).not.toBeNull();
  });
});

describe("a client's failure is not the origin's", () => {
  it('a chunked upload past the body limit is 413 every time, and never opens the origin breaker', async () => {
    const token = await platformToken('acme'); // FREE: 1 MiB bodies
    const MB = 1024 * 1024;
    for (let i = 0; i < 7; i++) {
      const body = new ReadableStream<Uint8Array>({
        start(ctrl) { for (let k = 0; k < 4; k++) ctrl.enqueue(new Uint8Array(MB / 2).fill(k)); ctrl.close(); },
      });
      const res = await call('acme.localhost', '/app/hello', { method: 'POST', token, body, headers: { 'content-type': 'application/octet-stream' } });
      expect(res.status).toBe(413);
      expect((await errorOf(res)).code).toBe('PAYLOAD_TOO_LARGE');
    }
    // Past the breaker's five failures in the window, had they counted: the origin still serves.
    const ok = await call('acme.localhost', '/app/hello', { token });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { origin: string }).origin).toBe('aws-us-east-2');
  });
});
