import { describe, expect, it } from 'vitest';
import { call, errorOf, platformToken, queriesWithParam, sqlAt, stack, tenant, unique } from '../support/helpers.js';

describe('tenant resolution from the Host header', () => {
  it('resolves a subdomain of each base domain and says which tenant and region served it', async () => {
    const token = await platformToken('acme');
    for (const host of ['acme.localhost', 'acme.example.com']) {
      const res = await call(host, '/api/v1/tracks', { token });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-tenant')).toBe('acme');
      expect(res.headers.get('x-tenant-region')).toBe('aws-us-east-2');
      expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('normalises port, case and trailing dot before lookup', async () => {
    const token = await platformToken('acme');
    for (const host of ['acme.localhost:8787', 'ACME.LocalHost', 'acme.localhost.', 'Acme.Example.Com.:443']) {
      const res = await call(host, '/api/v1/tracks', { token });
      expect(res.status, host).toBe(200);
      expect(res.headers.get('x-tenant')).toBe('acme');
    }
  });

  it('resolves registered custom domains, including an IDN given in Unicode or punycode', async () => {
    const initech = await call('initech.test', '/api/v1/tracks', { token: await platformToken('initech') });
    expect(initech.status).toBe(200);
    expect(initech.headers.get('x-tenant')).toBe('initech');
    const token = await platformToken('globex');
    for (const host of ['xn--bcher-kva.test', 'XN--BCHER-KVA.TEST.:443']) {
      const res = await call(host, '/api/v1/tracks', { token });
      expect(res.status, host).toBe(200);
      expect(res.headers.get('x-tenant')).toBe('globex');
    }
  });

  it.each(['acme..localhost', 'acme_x.localhost', '-acme.localhost', '127.0.0.1:8787', 'acme.localhost:99999'])('refuses invalid host %j with 400 INVALID_HOST', async (host) => {
    const res = await call(host, '/api/v1/tracks');
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('INVALID_HOST');
  });

  it('answers unknown subdomains and domains with 404 TENANT_NOT_FOUND, and the apex too', async () => {
    for (const host of [`${unique('nobody')}.localhost`, `${unique('shop')}.example.org`, 'localhost', 'deep.acme.localhost']) {
      const res = await call(host, '/api/v1/tracks');
      expect(res.status, host).toBe(404);
      expect((await errorOf(res)).code).toBe('TENANT_NOT_FOUND');
    }
  });

  it('answers names deeper than one label under a base domain 404 without any lookup, even when a domain row names them', async () => {
    const deep = `${unique('login')}.acme.localhost`;
    // The control plane refuses such domains; a row written behind its back must still serve nobody.
    const control = sqlAt(stack.control.postgresUrl);
    await control.query("INSERT INTO tenant_domains (hostname, tenant_id, status) VALUES ($1, $2, 'active')", [deep, tenant('globex').id]);
    const lookups = await queriesWithParam(deep, 'control');
    try {
      for (const host of [deep, `login.${unique('x')}.example.com`]) {
        const res = await call(host, '/api/v1/tracks', { token: await platformToken('globex') });
        expect(res.status, host).toBe(404);
        expect((await errorOf(res)).code).toBe('TENANT_NOT_FOUND');
        expect(res.headers.get('x-tenant')).toBeNull();
      }
      expect(await queriesWithParam(deep, 'control')).toBe(lookups);
    } finally {
      await control.query('DELETE FROM tenant_domains WHERE hostname = $1', [deep]);
    }
  });

  it('never trusts X-Forwarded-Host', async () => {
    const res = await call('acme.localhost', '/api/v1/tracks', { token: await platformToken('acme'), headers: { 'x-forwarded-host': 'globex.localhost' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tenant')).toBe('acme');
  });

  it('a burst of requests for unknown hosts reaches Postgres at most once per host within the negative TTL', async () => {
    const slugs = Array.from({ length: 5 }, () => unique('ghost'));
    const domains = Array.from({ length: 5 }, () => `${unique('ghost')}.example.net`);
    const hosts = [...slugs.map((s) => `${s}.localhost`), ...domains];
    // 10 concurrent requests per host, then 10 more once the first wave is cached.
    for (let wave = 0; wave < 2; wave++) {
      const res = await Promise.all(hosts.flatMap((h) => Array.from({ length: 10 }, () => call(h, '/api/v1/tracks'))));
      expect(res.every((r) => r.status === 404)).toBe(true);
    }
    for (const key of [...slugs, ...domains]) expect(await queriesWithParam(key, 'control'), key).toBe(1);
  });

  it('a known tenant is read from Postgres once, then served from cache', async () => {
    const token = await platformToken('soylent');
    // Counted from here: another suite (test/security/isolation.test.ts) may have looked soylent up before.
    const before = await queriesWithParam('soylent', 'control');
    await Promise.all(Array.from({ length: 10 }, () => call('soylent.localhost', '/api/v1/tracks', { token })));
    await call('soylent.localhost', '/api/v1/tracks', { token });
    expect(await queriesWithParam('soylent', 'control') - before).toBeLessThanOrEqual(1);
    expect(tenant('soylent').isolation).toBe('schema');
  });
});

describe('tenant resolution on the shared API host', () => {
  it('takes the tenant from a verified platform token', async () => {
    const res = await call('api.localhost', '/api/v1/tracks', { token: await platformToken('globex') });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tenant')).toBe('globex');
    expect(res.headers.get('x-tenant-region')).toBe('aws-eu-central-1');
  });

  it('takes the tenant from a token of its own identity provider, found by issuer', async () => {
    const { idpToken } = await import('../support/helpers.js');
    const token = await idpToken('idp-a', { org: tenant('umbrella').id, sub: 'u1' }, { audience: 'umbrella-api' });
    const res = await call('api.localhost', '/api/v1/tracks', { token });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tenant')).toBe('umbrella');
  });

  it('takes a platform token by tenant id only: a slug tid is a bad token, not an unknown tenant', async () => {
    const res = await call('api.localhost', '/api/v1/tracks', { token: await platformToken('globex', { tid: 'globex' }) });
    expect(res.status).toBe(401);
    expect((await errorOf(res)).code).toBe('INVALID_TOKEN');
    expect(res.headers.get('x-tenant')).toBeNull();
  });

  it('requires a token, and refuses one naming an unknown tenant or issuer without saying which tenants exist', async () => {
    const none = await call('api.localhost', '/api/v1/tracks');
    expect(none.status).toBe(401);
    expect((await errorOf(none)).code).toBe('UNAUTHENTICATED');
    const ghost = await call('api.localhost', '/api/v1/tracks', { token: await platformToken('acme', { tid: crypto.randomUUID() }) });
    expect(ghost.status).toBe(404);
    expect((await errorOf(ghost)).code).toBe('TENANT_NOT_FOUND');
    const { idpToken } = await import('../support/helpers.js');
    const stranger = await call('api.localhost', '/api/v1/tracks', { token: await idpToken('idp-a', { org: 'x' }, { issuer: 'https://unknown.example', audience: 'a' }) });
    expect(stranger.status).toBe(401);
    expect((await errorOf(stranger)).code).toBe('INVALID_TOKEN');
  });
});
