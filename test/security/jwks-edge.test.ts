/**
 * Tenant IdP key sets as the router fetches them: a dead IdP costs one download attempt per
 * backoff period, not one per request, and a key set URL that is not https is never fetched.
 * The router runs in this test's isolate, so a spy on the global fetch sees its downloads.
 */
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from 'vitest';
import { call, errorOf, idpToken, sqlAt, stack, unique } from '../support/helpers.js';
import { createViaApi } from '../support/control.js';

let spy: MockInstance<typeof fetch>;
beforeEach(() => { spy = vi.spyOn(globalThis, 'fetch'); });
afterEach(() => { spy.mockRestore(); });

/** How many times the router asked for `url`. */
const fetchesOf = (url: string) => spy.mock.calls.filter(([input]) => String(input instanceof Request ? input.url : input) === url).length;

/** A tenant whose IdP is `jwksUrl`, and a genuine token of that IdP (idp-a's key) for it. */
async function tenantWithIdp(jwksUrl: string, viaSql = false) {
  const issuer = `https://${unique('idp')}.example.net/`;
  const jwt = { issuer, audience: 'edge-api', jwksUrl, claim: 'tid', algorithms: ['ES256'] };
  const t = await createViaApi(viaSql ? {} : { jwt });
  if (viaSql) {
    // Written behind the control plane's back, as a row from before its URL validation would be:
    // the router must refuse such a URL by itself.
    await sqlAt(stack.control.postgresUrl).query(
      'INSERT INTO tenant_jwt (tenant_id, issuer, audience, jwks_url, claim, algorithms) VALUES ($1, $2, $3, $4, $5, $6)',
      [t.id, jwt.issuer, jwt.audience, jwt.jwksUrl, jwt.claim, jwt.algorithms]);
  }
  const token = await idpToken('idp-a', { tid: t.id, sub: 'u1' }, { issuer, audience: 'edge-api' });
  return { host: `${t.slug}.localhost`, token };
}

describe('a dead identity provider', () => {
  it('costs one download attempt for 10 concurrent requests; the next ones are 503 at once, until the backoff ends', async () => {
    // Port 1 on loopback: nothing listens there, the connection is refused.
    const dead = `http://127.0.0.1:1/${unique('jwks')}/keys.json`;
    const { host, token } = await tenantWithIdp(dead);
    const first = await Promise.all(Array.from({ length: 10 }, () => call(host, '/api/v1/me', { token })));
    expect(first.map((r) => r.status)).toEqual(Array(10).fill(503));
    expect((await errorOf(first[0]!)).code).toBe('UPSTREAM_UNAVAILABLE');
    expect(first.every((r) => r.headers.get('x-tenant') === null)).toBe(true);
    expect(fetchesOf(dead)).toBe(1);

    const t0 = Date.now();
    const next = await Promise.all(Array.from({ length: 10 }, () => call(host, '/api/v1/me', { token })));
    expect(next.map((r) => r.status)).toEqual(Array(10).fill(503));
    expect(Number(next[0]!.headers.get('retry-after'))).toBe(1);
    expect(Date.now() - t0).toBeLessThan(500);
    expect(fetchesOf(dead)).toBe(1);

    // After the first backoff (1 s) one more attempt, and the next backoff is twice as long.
    await new Promise((r) => setTimeout(r, 1100));
    const again = await Promise.all(Array.from({ length: 5 }, () => call(host, '/api/v1/me', { token })));
    expect(again.map((r) => r.status)).toEqual(Array(5).fill(503));
    expect(Number(again[0]!.headers.get('retry-after'))).toBe(2);
    expect(fetchesOf(dead)).toBe(2);
  });

  it('does not slow down the tenants whose IdP is up', async () => {
    const { host, token } = await tenantWithIdp(stack.jwks.idps['idp-a']!.jwksUrl);
    const res = await call(host, '/api/v1/me', { token });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { via: string }).via).toBe('tenant');
  });
});

describe('key set URLs', () => {
  it('never fetches a plain-http key set outside loopback, and refuses its tokens', async () => {
    const url = `http://${unique('idp')}.example.net/jwks.json`;
    const { host, token } = await tenantWithIdp(url, true);
    const res = await call(host, '/api/v1/me', { token });
    expect(res.status).toBe(401);
    const err = await errorOf(res);
    expect(err.code).toBe('INVALID_TOKEN');
    expect(err.message).toMatch(/https/);
    expect(fetchesOf(url)).toBe(0);
  });
});
