/**
 * What a caller learns before it is authenticated: nothing about the tenant. No refusal before
 * authentication names it (X-Tenant, X-Tenant-Region) or tells its state, and on the shared API
 * host every refused token gets the same answer, whoever its issuer claims to be.
 */
import { generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { call, errorOf, idpToken, platformToken, sqlAt, stack, tenant, unique } from '../support/helpers.js';
import { createViaApi, tokenFor } from '../support/control.js';

const API = 'api.localhost';
const now = () => Math.floor(Date.now() / 1000);

/**
 * Everything a client can compare between two refusals, minus the request id and the span of the
 * trace (random per request). No Server-Timing before authentication: its steps would tell.
 */
async function refusal(res: Response) {
  expect(res.headers.get('server-timing')).toBeNull();
  expect(res.headers.get('traceparent')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  const headers = [...res.headers.entries()].filter(([k]) => k !== 'x-request-id' && k !== 'content-length' && k !== 'traceparent').sort();
  const { code, message } = await errorOf(res);
  return { status: res.status, code, message, headers };
}

async function forgedUnder(issuer: string, kid: string, claims: Record<string, unknown>, audience: string) {
  const { privateKey } = await generateKeyPair('ES256');
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).setIssuer(issuer).setAudience(audience).setExpirationTime('5m').sign(privateKey);
}

describe('the shared API host before authentication', () => {
  it('refuses every bad token identically: unknown issuer, known issuer with a bad signature, expired, wrong audience, …', async () => {
    const a = stack.jwks.idps['idp-a']!;
    const org = tenant('umbrella').id;
    const tokens: Record<string, string> = {
      'unknown issuer': await idpToken('idp-a', { org }, { issuer: `https://${unique('nobody')}.example`, audience: 'umbrella-api' }),
      'known issuer, bad signature': await forgedUnder(a.issuer, a.kid, { org }, 'umbrella-api'),
      'known issuer, unknown kid': await forgedUnder(a.issuer, 'rogue-kid', { org }, 'umbrella-api'),
      'known issuer, expired': await idpToken('idp-a', { org }, { audience: 'umbrella-api', exp: now() - 600 }),
      'known issuer, wrong audience': await idpToken('idp-a', { org }, { audience: 'someone-else' }),
      'known issuer, no claim': await idpToken('idp-a', { sub: 'x' }, { audience: 'umbrella-api' }),
      'platform, bad signature': await platformToken('umbrella', {}, { secret: 'y'.repeat(64) }),
      'platform, expired': await platformToken('umbrella', { iat: now() - 600 }, { exp: now() - 120 }),
      'platform, slug tid': await platformToken('umbrella', { tid: 'umbrella' }),
      'platform, suspended tenant, expired': await platformToken('stark', { iat: now() - 600 }, { exp: now() - 120 }),
      'alg none': new UnsecuredJWT({ tid: org }).setIssuer(stack.platform.issuer).setAudience(stack.platform.audience).setExpirationTime('5m').encode(),
      'garbage': 'not.a.jwt',
      'oversized': await platformToken('umbrella', { pad: 'x'.repeat(9000) }),
    };
    const seen = new Map<string, unknown>();
    for (const [name, token] of Object.entries(tokens)) seen.set(name, await refusal(await call(API, '/api/v1/tracks', { token })));
    const [first, ...rest] = [...seen.values()];
    expect(first).toMatchObject({ status: 401, code: 'INVALID_TOKEN' });
    for (const [name, r] of [...seen.entries()].slice(1)) expect({ name, r }).toEqual({ name, r: first });
    expect(rest.length).toBe(Object.keys(tokens).length - 1);
    expect(JSON.stringify(first)).not.toMatch(/x-tenant/);
  });

  it('names the tenant once the token is genuine', async () => {
    const res = await call(API, '/api/v1/me', { token: await idpToken('idp-a', { org: tenant('umbrella').id }, { audience: 'umbrella-api' }) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tenant')).toBe('umbrella');
    expect(res.headers.get('x-tenant-region')).toBe('aws-us-east-2');
  });
});

describe('tenant state before and after authentication', () => {
  it('a suspended tenant is a plain 401 to anonymous callers and bad tokens, 503 TENANT_SUSPENDED to its users', async () => {
    for (const [host, token] of [['stark.localhost', undefined], ['stark.localhost', 'x.y.z'], [API, 'x.y.z']] as const) {
      const res = await call(host, '/api/v1/tracks', token ? { token } : {});
      expect(res.status, `${host} ${token}`).toBe(401);
      expect(res.headers.get('x-tenant')).toBeNull();
      expect(res.headers.get('x-tenant-region')).toBeNull();
      expect(res.headers.get('retry-after')).toBeNull();
    }
    for (const host of ['stark.localhost', API]) {
      const res = await call(host, '/api/v1/tracks', { token: await platformToken('stark') });
      expect(res.status).toBe(503);
      expect((await errorOf(res)).code).toBe('TENANT_SUSPENDED');
      expect(res.headers.get('x-tenant')).toBe('stark');
    }
  });

  it('a tenant being migrated is 401 to anonymous callers and 503 TENANT_MIGRATING to its users', async () => {
    const t = await createViaApi();
    // Set behind the control plane's back before the router has seen the tenant: no cache to wait for.
    await sqlAt(stack.control.postgresUrl).query("UPDATE tenants SET status = 'migrating' WHERE id = $1", [t.id]);
    const anonymous = await call(`${t.slug}.localhost`, '/api/v1/tracks');
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('x-tenant')).toBeNull();
    const user = await call(`${t.slug}.localhost`, '/api/v1/tracks', { token: await tokenFor(t.id) });
    expect(user.status).toBe(503);
    expect((await errorOf(user)).code).toBe('TENANT_MIGRATING');
  });

  it('names no tenant on a tenant host until the token is verified', async () => {
    for (const token of [undefined, 'x.y.z', await platformToken('globex'), await platformToken('acme', { iat: now() - 600 }, { exp: now() - 120 })]) {
      const res = await call('acme.localhost', '/api/v1/tracks', token ? { token } : {});
      expect([401, 403]).toContain(res.status);
      expect(res.headers.get('x-tenant')).toBeNull();
      expect(res.headers.get('x-tenant-region')).toBeNull();
    }
  });
});
