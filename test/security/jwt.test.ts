import { generateKeyPair, importJWK, SignJWT, UnsecuredJWT, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { call, errorOf, idpToken, platformToken, stack, tenant } from '../support/helpers.js';
import { admin, createViaApi, L1_TTL_MS, tokenFor, within } from '../support/control.js';

const get = (host: string, token?: string) => call(host, '/api/v1/tracks', token ? { token } : {});

async function expectRefused(res: Response, status: number, code: string, message?: RegExp) {
  expect(res.status).toBe(status);
  const err = await errorOf(res);
  expect(err.code).toBe(code);
  if (message) expect(err.message).toMatch(message);
  expect(JSON.stringify(err)).not.toMatch(/secret|BEGIN|postgres:/i);
}

describe('platform tokens', () => {
  it('accepts a valid token for its own tenant', async () => {
    expect((await get('acme.localhost', await platformToken('acme'))).status).toBe(200);
  });

  it('refuses a slug in the tid claim: platform tokens are bound to the tenant id, on every host', async () => {
    const token = await platformToken('acme', { tid: 'acme' });
    await expectRefused(await get('acme.localhost', token), 401, 'INVALID_TOKEN', /tenant id/);
    await expectRefused(await get('api.localhost', token), 401, 'INVALID_TOKEN');
  });

  it('accepts the id in any case, and refuses an id of no tenant on its host', async () => {
    expect((await get('acme.localhost', await platformToken('acme', { tid: tenant('acme').id.toUpperCase() }))).status).toBe(200);
    await expectRefused(await get('acme.localhost', await platformToken('acme', { tid: crypto.randomUUID() })), 403, 'TENANT_MISMATCH');
  });

  it("a token of a deleted tenant does not follow its slug to the next tenant that takes it", async () => {
    const old = await createViaApi();
    const oldToken = await tokenFor(old.id);
    const host = `${old.slug}.localhost`;
    expect((await get(host, oldToken)).status).toBe(200);
    expect((await admin(`/admin/v1/tenants/${old.id}?confirm=${old.slug}`, { method: 'DELETE' })).status).toBe(200);
    const reborn = await createViaApi({ slug: old.slug });
    expect(reborn.id).not.toBe(old.id);
    // Once the router has forgotten the old record (L1 TTL), the slug is the new tenant's.
    expect(await within(L1_TTL_MS + 1500, async () => (await get(host, await tokenFor(reborn.id))).status === 200)).not.toBeNull();
    await expectRefused(await get(host, oldToken), 403, 'TENANT_MISMATCH');
    await expectRefused(await get(host, await platformToken('acme', { tid: old.slug })), 401, 'INVALID_TOKEN');
  });

  it('requires a bearer token', async () => {
    const res = await get('acme.localhost');
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    await expectRefused(res, 401, 'UNAUTHENTICATED');
    await expectRefused(await call('acme.localhost', '/api/v1/tracks', { headers: { authorization: 'Basic YTpi' } }), 401, 'UNAUTHENTICATED');
  });

  it('refuses an expired token, beyond the clock skew', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(await get('acme.localhost', await platformToken('acme', { iat: now - 600 }, { exp: now - 120 })), 401, 'INVALID_TOKEN', /expired/);
  });

  it('tolerates a small clock skew on exp', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect((await get('acme.localhost', await platformToken('acme', { iat: now - 600 }, { exp: now - 5 }))).status).toBe(200);
  });

  it('refuses a token that is not yet valid', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(await get('acme.localhost', await platformToken('acme', {}, { nbf: now + 600, exp: now + 1200 })), 401, 'INVALID_TOKEN', /not yet valid/);
  });

  it('refuses a token without exp', async () => {
    const token = await new SignJWT({ tid: tenant('acme').id }).setProtectedHeader({ alg: 'HS256' })
      .setIssuer(stack.platform.issuer).setAudience(stack.platform.audience).sign(new TextEncoder().encode(stack.platform.secret));
    await expectRefused(await get('acme.localhost', token), 401, 'INVALID_TOKEN');
  });

  it('refuses a wrong audience', async () => {
    const token = await new SignJWT({ tid: tenant('acme').id }).setProtectedHeader({ alg: 'HS256' }).setIssuer(stack.platform.issuer)
      .setAudience('someone-else').setExpirationTime('5m').sign(new TextEncoder().encode(stack.platform.secret));
    await expectRefused(await get('acme.localhost', token), 401, 'INVALID_TOKEN', /aud/);
  });

  it('refuses a token signed with another secret', async () => {
    await expectRefused(await get('acme.localhost', await platformToken('acme', {}, { secret: 'x'.repeat(64) })), 401, 'INVALID_TOKEN');
  });

  it('refuses alg none', async () => {
    const token = new UnsecuredJWT({ tid: tenant('acme').id }).setIssuer(stack.platform.issuer).setAudience(stack.platform.audience)
      .setExpirationTime('5m').encode();
    await expectRefused(await get('acme.localhost', token), 401, 'INVALID_TOKEN', /algorithm/);
  });

  it('refuses an oversized token before any cryptography', async () => {
    await expectRefused(await get('acme.localhost', await platformToken('acme', { pad: 'x'.repeat(9000) })), 401, 'INVALID_TOKEN', /too large/);
  });

  it('refuses garbage', async () => {
    await expectRefused(await get('acme.localhost', 'not.a.jwt'), 401, 'INVALID_TOKEN');
  });

  it('refuses a token without a tenant claim', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer(stack.platform.issuer)
      .setAudience(stack.platform.audience).setExpirationTime('5m').sign(new TextEncoder().encode(stack.platform.secret));
    await expectRefused(await get('acme.localhost', token), 401, 'INVALID_TOKEN', /tid/);
  });

  it('refuses a token without a tenant claim on the API host too, as any other bad token', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer(stack.platform.issuer)
      .setAudience(stack.platform.audience).setExpirationTime('5m').sign(new TextEncoder().encode(stack.platform.secret));
    await expectRefused(await get('api.localhost', token), 401, 'INVALID_TOKEN', /^token is not valid$/);
  });

  it("refuses tenant A's token on tenant B's host, whatever the strategy or host form", async () => {
    const token = await platformToken('acme');
    for (const host of ['globex.localhost', 'initech.test', 'umbrella.localhost']) {
      await expectRefused(await get(host, token), 403, 'TENANT_MISMATCH');
    }
  });
});

describe('tenant identity providers (JWKS)', () => {
  const umbrella = () => tenant('umbrella');

  it('accepts a token of the tenant\'s issuer with its configured claim name', async () => {
    const token = await idpToken('idp-a', { org: umbrella().id, sub: 'alice' }, { audience: 'umbrella-api' });
    expect((await get('umbrella.localhost', token)).status).toBe(200);
  });

  it('uses the configured claim, not tid', async () => {
    const token = await idpToken('idp-a', { tid: umbrella().id, sub: 'alice' }, { audience: 'umbrella-api' });
    await expectRefused(await get('umbrella.localhost', token), 401, 'INVALID_TOKEN', /org/);
  });

  it('refuses the wrong audience and the wrong issuer', async () => {
    await expectRefused(await get('umbrella.localhost', await idpToken('idp-a', { org: umbrella().id }, { audience: 'hooli-api' })), 401, 'INVALID_TOKEN', /aud/);
    await expectRefused(await get('umbrella.localhost', await idpToken('idp-a', { org: umbrella().id }, { audience: 'umbrella-api', issuer: 'https://evil.example' })), 401, 'INVALID_TOKEN', /issuer/);
  });

  it('refuses an unknown kid', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT({ org: umbrella().id }).setProtectedHeader({ alg: 'ES256', kid: 'rogue-1' })
      .setIssuer(stack.jwks.idps['idp-a']!.issuer).setAudience('umbrella-api').setExpirationTime('5m').sign(privateKey);
    await expectRefused(await get('umbrella.localhost', token), 401, 'INVALID_TOKEN', /no key/);
  });

  it('refuses a token signed by another key under the real kid', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const p = stack.jwks.idps['idp-a']!;
    const token = await new SignJWT({ org: umbrella().id }).setProtectedHeader({ alg: 'ES256', kid: p.kid })
      .setIssuer(p.issuer).setAudience('umbrella-api').setExpirationTime('5m').sign(privateKey);
    await expectRefused(await get('umbrella.localhost', token), 401, 'INVALID_TOKEN');
  });

  it('refuses HMAC signed with the public key (algorithm confusion)', async () => {
    const p = stack.jwks.idps['idp-b']!;
    // The classic attack: take the issuer's public key material and use it as an HS256 secret.
    for (const secret of [JSON.stringify(p.publicJwk), (p.publicJwk as JWK).n!]) {
      const token = await new SignJWT({ tid: tenant('hooli').id }).setProtectedHeader({ alg: 'HS256', kid: p.kid })
        .setIssuer(p.issuer).setAudience('hooli-api').setExpirationTime('5m').sign(new TextEncoder().encode(secret));
      await expectRefused(await get('hooli.localhost', token), 401, 'INVALID_TOKEN', /algorithm/);
    }
  });

  it('refuses an algorithm the tenant did not allow, even when the signature is genuine', async () => {
    // hooli allows RS256 only. Sign ES256 under hooli's issuer with a key the JWKS would not even hold.
    const a = stack.jwks.idps['idp-a']!;
    const token = await new SignJWT({ tid: tenant('hooli').id }).setProtectedHeader({ alg: 'ES256', kid: a.kid })
      .setIssuer(stack.jwks.idps['idp-b']!.issuer).setAudience('hooli-api').setExpirationTime('5m')
      .sign(await importJWK(a.privateJwk, 'ES256'));
    await expectRefused(await get('hooli.localhost', token), 401, 'INVALID_TOKEN', /algorithm/);
    expect((await get('hooli.localhost', await idpToken('idp-b', { tid: tenant('hooli').id }, { audience: 'hooli-api' }))).status).toBe(200);
  });

  it("refuses tenant A's IdP token on tenant B's host", async () => {
    const token = await idpToken('idp-a', { org: umbrella().id }, { audience: 'umbrella-api' });
    await expectRefused(await get('hooli.localhost', token), 401, 'INVALID_TOKEN', /not trusted/);
    await expectRefused(await get('acme.localhost', token), 401, 'INVALID_TOKEN', /not trusted/);
  });

  it("accepts the tenant's slug in an IdP token's claim: the issuer is bound to one tenant", async () => {
    const token = await idpToken('idp-a', { org: 'umbrella' }, { audience: 'umbrella-api' });
    expect((await get('umbrella.localhost', token)).status).toBe(200);
    expect((await get('api.localhost', token)).status).toBe(200);
  });

  it("refuses a genuine IdP token whose claim names another tenant", async () => {
    const token = await idpToken('idp-a', { org: tenant('acme').id }, { audience: 'umbrella-api' });
    await expectRefused(await get('umbrella.localhost', token), 403, 'TENANT_MISMATCH');
  });

  it('publishes a JWKS the router can fetch (sanity of the test IdP)', async () => {
    const res = await fetch(stack.jwks.idps['idp-a']!.jwksUrl);
    const { keys } = await res.json() as { keys: JWK[] };
    expect(keys[0]!.kid).toBe(stack.jwks.idps['idp-a']!.kid);
    expect(keys[0]!.d).toBeUndefined();
  });
});
