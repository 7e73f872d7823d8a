/** Custom domains, JWT settings and geo policy through the admin API, as the router sees them. */
import { describe, expect, it } from 'vitest';
import { call, errorOf, idpToken, unique } from '../support/helpers.js';
import { activateDomain, admin, createViaApi, L1_TTL_MS, tokenFor, within } from '../support/control.js';

describe('domains', () => {
  it('adds a domain the router serves, refuses invalid or taken ones, removes it again', async () => {
    const t = await createViaApi();
    const host = `${unique('shop')}.example.org`;
    const token = await tokenFor(t.id);
    const added = await admin(`/admin/v1/tenants/${t.id}/domains`, { method: 'POST', json: { hostname: host.toUpperCase() } });
    expect(added.status).toBe(201);
    expect(await added.json()).toMatchObject({ hostname: host, tenantId: t.id, status: 'pending' });
    expect((await (await admin(`/admin/v1/tenants/${t.id}`)).json() as { domains: string[] }).domains).toEqual([host]);
    // Served only once its Cloudflare custom hostname is verified.
    expect((await call(host, '/api/v1/me', { token })).status).toBe(404);
    await activateDomain(t.id, host);
    let served = await call(host, '/api/v1/me', { token });
    if (served.status !== 200) { await within(L1_TTL_MS + 1500, async () => (served = await call(host, '/api/v1/me', { token })).status === 200); }
    expect(served.status).toBe(200);
    expect(served.headers.get('x-tenant')).toBe(t.slug);

    for (const [hostname, status, code] of [
      ['no spaces.example', 400, 'BAD_REQUEST'], ['under_score.example', 400, 'BAD_REQUEST'], ['localhost', 400, 'BAD_REQUEST'],
      ['10.0.0.1', 400, 'BAD_REQUEST'], ['[::1]', 400, 'BAD_REQUEST'],
      // At or under a base domain, at any depth: another tenant's subdomains are not for the taking.
      [`${unique('s')}.example.com`, 422, 'DOMAIN_NOT_ALLOWED'], ['login.acme.example.com', 422, 'DOMAIN_NOT_ALLOWED'],
      ['a.b.c.acme.example.com', 422, 'DOMAIN_NOT_ALLOWED'], ['example.com', 422, 'DOMAIN_NOT_ALLOWED'], ['shop.acme.localhost', 422, 'DOMAIN_NOT_ALLOWED'],
      // Public suffixes (ICANN and private) and names without a registrable domain.
      ['co.uk', 422, 'DOMAIN_NOT_ALLOWED'], ['github.io', 422, 'DOMAIN_NOT_ALLOWED'], ['xn--p1ai', 400, 'BAD_REQUEST'],
      ['рф.', 400, 'BAD_REQUEST'], ['com.', 400, 'BAD_REQUEST'], ['blogspot.com', 422, 'DOMAIN_NOT_ALLOWED'],
      [host, 409, 'DOMAIN_TAKEN'], ['initech.test', 409, 'DOMAIN_TAKEN'],
    ] as const) {
      const res = await admin(`/admin/v1/tenants/${t.id}/domains`, { method: 'POST', json: { hostname } });
      expect({ hostname, status: res.status }).toEqual({ hostname, status });
      expect((await errorOf(res)).code).toBe(code);
    }
    expect((await admin(`/admin/v1/tenants/${t.id}/domains/initech.test`, { method: 'DELETE' })).status).toBe(404);
    expect((await admin(`/admin/v1/tenants/${t.id}/domains/${host}`, { method: 'DELETE' })).status).toBe(200);
    expect(await within(L1_TTL_MS + 1500, async () => (await call(host, '/api/v1/me', { token })).status === 404)).not.toBeNull();
  });
});

describe('jwt settings and geo policy', () => {
  it('a tenant given an identity provider accepts its tokens; a taken issuer is 409', async () => {
    const t = await createViaApi();
    const issuer = `https://${unique('idp')}.example.net/`;
    // The stack's idp-b signs with its real key; the issuer is whatever the tenant trusts.
    const res = await admin(`/admin/v1/tenants/${t.id}/jwt`, { method: 'PUT', json: { issuer, audience: `${t.slug}-api`, jwksUrl: 'http://127.0.0.1:1/placeholder', algorithms: ['RS256'] } });
    expect(res.status).toBe(200);
    expect((await res.json() as { jwt: unknown }).jwt).toEqual({ issuer, audience: `${t.slug}-api`, jwksUrl: 'http://127.0.0.1:1/placeholder', claim: 'tid', algorithms: ['RS256'] });
    const other = await createViaApi();
    const taken = await admin(`/admin/v1/tenants/${other.id}/jwt`, { method: 'PUT', json: { issuer, audience: 'x', jwksUrl: 'https://idp.example/jwks' } });
    expect(taken.status).toBe(409);
    expect((await errorOf(taken)).code).toBe('ISSUER_TAKEN');
    expect((await admin(`/admin/v1/tenants/${t.id}/jwt`, { method: 'PUT', json: { issuer, audience: 'x', jwksUrl: 'ftp://nope' } })).status).toBe(400);
    expect((await admin(`/admin/v1/tenants/${t.id}/jwt`, { method: 'DELETE' })).status).toBe(200);
    expect((await (await admin(`/admin/v1/tenants/${t.id}`)).json() as { jwt: unknown }).jwt).toBeNull();
    // Tokens of an IdP the tenant does not trust are refused.
    const foreign = await idpToken('idp-b', { tid: t.id }, { audience: `${t.slug}-api` });
    expect((await call(`${t.slug}.localhost`, '/api/v1/me', { token: foreign })).status).toBe(401);
  });

  it('a geo policy set through the API blocks at the edge within the L1 TTL', async () => {
    const t = await createViaApi();
    const token = await tokenFor(t.id);
    const me = () => call(`${t.slug}.localhost`, '/api/v1/me', { token, cf: { country: 'KP' } });
    expect((await me()).status).toBe(200);
    const res = await admin(`/admin/v1/tenants/${t.id}/geo`, { method: 'PUT', json: { blockCountries: ['KP'] } });
    expect(res.status).toBe(200);
    expect((await res.json() as { geo: unknown }).geo).toEqual({ allowCountries: [], blockCountries: ['KP'], ipAllow: [] });
    expect(await within(L1_TTL_MS + 1500, async () => (await me()).status === 403)).not.toBeNull();
    expect((await errorOf(await me())).code).toBe('GEO_BLOCKED');
    for (const json of [{ blockCountries: ['kp'] }, { ipAllow: ['10.0.0.0/33'] }, { ipAllow: ['nonsense'] }]) {
      expect((await admin(`/admin/v1/tenants/${t.id}/geo`, { method: 'PUT', json })).status).toBe(400);
    }
  });
});

describe('custom domain policy', () => {
  it('stores IDN in punycode, allows a registrable name under a private suffix, and caps domains per tier', async () => {
    const t = await createViaApi({ tier: 'FREE', overrides: { ratePerMinute: 6000, burst: 100 } });
    const label = unique('b');
    const idn = await admin(`/admin/v1/tenants/${t.id}/domains`, { method: 'POST', json: { hostname: `bücher-${label}.example.org` } });
    expect(idn.status).toBe(201);
    expect((await idn.json() as { hostname: string }).hostname).toBe(new URL(`http://bücher-${label}.example.org`).hostname);
    // FREE allows one custom domain.
    const second = await admin(`/admin/v1/tenants/${t.id}/domains`, { method: 'POST', json: { hostname: `${label}.github.io` } });
    expect(second.status).toBe(422);
    expect((await errorOf(second)).code).toBe('DOMAIN_LIMIT_REACHED');
    const created = await admin('/admin/v1/tenants', { method: 'POST', json: { slug: unique('c-'), tier: 'FREE', region: 'aws-us-east-2', domains: [`a-${label}.example.org`, `b-${label}.example.org`] } });
    expect(created.status).toBe(422);
    expect((await errorOf(created)).code).toBe('DOMAIN_LIMIT_REACHED');
    // STANDARD allows five, also when they are added at the same time; a name under a private suffix is registrable.
    const s = await createViaApi({ tier: 'STANDARD' });
    const adds = await Promise.all(Array.from({ length: 7 }, (_, i) => admin(`/admin/v1/tenants/${s.id}/domains`, { method: 'POST', json: { hostname: `s${i}-${label}.github.io` } })));
    expect(adds.map((r) => r.status).sort()).toEqual([201, 201, 201, 201, 201, 422, 422]);
    expect((await (await admin(`/admin/v1/tenants/${s.id}`)).json() as { domains: string[] }).domains).toHaveLength(5);
  });
});
