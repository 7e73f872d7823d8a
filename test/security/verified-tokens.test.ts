/**
 * The isolate's cache of verified tokens (src/auth/verified-tokens.ts) through the TokenVerifier:
 * a remembered token is still refused on another tenant, past its exp, under changed IdP settings,
 * and once the key that verified it is rotated out or the key set is due for a refetch.
 */
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '../../src/auth/token-verifier.js';
import { tokenDigest, VerifiedTokens } from '../../src/auth/verified-tokens.js';
import { AppError } from '../../src/errors.js';
import type { Tenant } from '../../src/tenancy/tenant.js';

const SECRET = 'k1:' + 'x'.repeat(40);
const PLATFORM = { issuer: 'https://platform.test', audience: 'tenant-router', secret: SECRET };
const IDP = 'https://idp.test';
const JWKS_URL = 'https://idp.test/jwks.json';

const A = { id: '11111111-1111-4111-8111-111111111111', slug: 'alpha' };
const B = { id: '22222222-2222-4222-8222-222222222222', slug: 'bravo' };
const jwtOf = (audience = 'api') => ({ issuer: IDP, audience, jwksUrl: JWKS_URL, claim: 'org', algorithms: ['ES256'] });
const tenant = (t: { id: string; slug: string }, jwt: ReturnType<typeof jwtOf> | null = null) => ({ ...t, jwt }) as unknown as Tenant;

async function platformToken(tid: string, expSec: number): Promise<string> {
  return new SignJWT({ tid }).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setIssuer(PLATFORM.issuer).setAudience(PLATFORM.audience)
    .setExpirationTime(expSec).sign(new TextEncoder().encode('x'.repeat(40)));
}

type Key = { jwk: JWK; sign: (claims: object) => Promise<string> };
async function key(kid: string): Promise<Key> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  return {
    jwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256' },
    sign: (claims) => new SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', kid }).setIssuer(IDP).setAudience('api').setExpirationTime('5m').sign(privateKey),
  };
}

/** A scripted IdP serving `keys` (changeable), and a verifier whose key-set clock the test moves. */
function setup(keys: Key[]) {
  const idp = { keys, calls: 0 };
  const clock = { now: Date.now() };
  const verifier = new TokenVerifier({
    platform: PLATFORM, clockToleranceSec: 0,
    jwks: {
      now: () => clock.now,
      fetch: async () => { idp.calls++; return new Response(JSON.stringify({ keys: idp.keys.map((k) => k.jwk) })); },
    },
  });
  return { idp, clock, verifier };
}

const refusal = async (p: Promise<unknown>) => {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  return { status: (err as AppError).status, code: (err as AppError).code, message: (err as AppError).message };
};

let k1: Key;
let k2: Key;
beforeAll(async () => { [k1, k2] = await Promise.all([key('idp-1'), key('idp-2')]); });

describe('verified token cache', () => {
  it('remembers a verified platform token, and still refuses it on another tenant (and on the API host lookup names its own)', async () => {
    const { verifier } = setup([]);
    const token = await platformToken(A.id, Math.floor(Date.now() / 1000) + 300);
    expect((await verifier.verifyFor(token, tenant(A))).claims.tid).toBe(A.id);
    expect(verifier.cachedTokens).toBe(1);
    // Served from the cache from now on, and the tenant check runs every time.
    expect((await verifier.verifyFor(token, tenant(A))).claims.tid).toBe(A.id);
    expect(await refusal(verifier.verifyFor(token, tenant(B)))).toMatchObject({ status: 403, code: 'TENANT_MISMATCH' });
    expect(await refusal(verifier.verifyFor(token, tenant(B, jwtOf())))).toMatchObject({ status: 403, code: 'TENANT_MISMATCH' });
    expect((await verifier.lookupKeyOf(token)).key).toEqual({ kind: 'id', value: A.id });
    expect(verifier.cachedTokens).toBe(1);
  });

  it('never serves a token past its exp', async () => {
    const { verifier } = setup([]);
    const exp = Math.floor(Date.now() / 1000) + 2;
    const token = await platformToken(A.id, exp);
    await verifier.verifyFor(token, tenant(A));
    expect(verifier.cachedTokens).toBe(1);
    await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 50));
    expect(await refusal(verifier.verifyFor(token, tenant(A)))).toMatchObject({ status: 401, code: 'INVALID_TOKEN', message: 'token expired' });
  });

  it('does not remember failures: a tampered token is refused every time, and the genuine one is not served for it', async () => {
    const { verifier } = setup([]);
    const token = await platformToken(A.id, Math.floor(Date.now() / 1000) + 300);
    const [h, p, s] = token.split('.');
    const tampered = `${h}.${p}.${s!.slice(0, -2)}${s!.endsWith('AA') ? 'BB' : 'AA'}`;
    for (let i = 0; i < 2; i++) expect(await refusal(verifier.verifyFor(tampered, tenant(A)))).toMatchObject({ status: 401, code: 'INVALID_TOKEN' });
    expect(verifier.cachedTokens).toBe(0);
  });

  it('a tenant IdP token: refused on a tenant whose claim it does not carry, and under changed IdP settings', async () => {
    const { verifier, idp } = setup([k1]);
    const token = await k1.sign({ org: A.slug });
    expect((await verifier.verifyFor(token, tenant(A, jwtOf()))).via).toBe('tenant');
    expect((await verifier.verifyFor(token, tenant(A, jwtOf()))).claims.org).toBe(A.slug);
    expect(idp.calls).toBe(1);
    expect(await refusal(verifier.verifyFor(token, tenant(B, jwtOf())))).toMatchObject({ status: 403, code: 'TENANT_MISMATCH' });
    // Tenant B trusts no IdP, and A's new audience is not the token's: both refused, cache or not.
    expect(await refusal(verifier.verifyFor(token, tenant(B)))).toMatchObject({ status: 401, code: 'INVALID_TOKEN' });
    expect(await refusal(verifier.verifyFor(token, tenant(A, jwtOf('other-api'))))).toMatchObject({ status: 401, code: 'INVALID_TOKEN' });
    // And the original settings still accept it.
    expect((await verifier.verifyFor(token, tenant(A, jwtOf()))).claims.org).toBe(A.slug);
  });

  it('a key rotated out of the IdP set is refused once the set is due for a refetch', async () => {
    const { verifier, idp, clock } = setup([k1]);
    const token = await k1.sign({ org: A.slug });
    await verifier.verifyFor(token, tenant(A, jwtOf()));
    idp.keys = [k2];
    // Still fresh (10 min): the set has not been looked at again, so the remembered token stands.
    clock.now += 60_000;
    expect((await verifier.verifyFor(token, tenant(A, jwtOf()))).claims.org).toBe(A.slug);
    // Due for a refetch: the cache entry is not trusted past it, the new set lacks idp-1.
    clock.now += 600_000;
    expect(await refusal(verifier.verifyFor(token, tenant(A, jwtOf())))).toMatchObject({ status: 401, code: 'INVALID_TOKEN', message: 'no key matches the token' });
    expect(idp.calls).toBe(2);
    expect((await verifier.verifyFor(await k2.sign({ org: A.slug }), tenant(A, jwtOf()))).via).toBe('tenant');
  });

  it('a key removed by a refetch (another token named a new kid) is refused at once, before the set would expire', async () => {
    const { verifier, idp, clock } = setup([k1]);
    const old = await k1.sign({ org: A.slug });
    await verifier.verifyFor(old, tenant(A, jwtOf()));
    idp.keys = [k2];
    // Past the unknown-kid cool-down (30 s), well inside the set's 10 minutes.
    clock.now += 31_000;
    await verifier.verifyFor(await k2.sign({ org: A.slug }), tenant(A, jwtOf()));
    expect(idp.calls).toBe(2);
    expect(await refusal(verifier.verifyFor(old, tenant(A, jwtOf())))).toMatchObject({ status: 401, code: 'INVALID_TOKEN', message: 'no key matches the token' });
  });

  it('with the cache off every request verifies in full (same answers)', async () => {
    const verifier = new TokenVerifier({ platform: PLATFORM, verifiedTokens: false });
    const token = await platformToken(A.id, Math.floor(Date.now() / 1000) + 300);
    expect((await verifier.verifyFor(token, tenant(A))).claims.tid).toBe(A.id);
    expect(verifier.cachedTokens).toBe(0);
    expect(await refusal(verifier.verifyFor(token, tenant(B)))).toMatchObject({ status: 403, code: 'TENANT_MISMATCH' });
  });
});

describe('VerifiedTokens', () => {
  const identity = (exp: number) => ({ claims: { exp } });
  const entry = (exp: number) => ({ identity: identity(exp), context: 'c', key: { kind: 'platform' as const, kid: 'k1' } });
  const ok = () => 'ok' as const;

  it('is bounded: the least recently used token goes first', () => {
    const now = 1_000_000;
    const cache = new VerifiedTokens<{ claims: { exp: number } }>({ capacity: 2, now: () => now });
    cache.set('a', entry(now / 1000 + 60));
    cache.set('b', entry(now / 1000 + 60));
    expect(cache.get('a', ok)).toBeDefined();
    cache.set('c', entry(now / 1000 + 60));
    expect(cache.size).toBe(2);
    expect(cache.get('b', ok)).toBeUndefined();
    expect(cache.get('a', ok)).toBeDefined();
    expect(cache.get('c', ok)).toBeDefined();
  });

  it('lives until the earliest of exp, maxTtlMs and the bound given; a stale key drops the entry, other rules only miss', () => {
    let now = 1_000_000;
    const cache = new VerifiedTokens<{ claims: { exp: number } }>({ maxTtlMs: 10_000, now: () => now });
    cache.set('exp', entry(now / 1000 + 5));
    cache.set('ttl', entry(now / 1000 + 3600));
    cache.set('bound', entry(now / 1000 + 3600), now + 2_000);
    cache.set('past', entry(now / 1000 - 1));
    expect(cache.get('past', ok)).toBeUndefined();
    now += 2_000;
    expect(cache.get('bound', ok)).toBeUndefined();
    expect(cache.get('exp', ok)).toBeDefined();
    now += 3_000;
    expect(cache.get('exp', ok)).toBeUndefined();
    expect(cache.get('ttl', () => 'other')).toBeUndefined();
    expect(cache.get('ttl', ok)).toBeDefined();
    expect(cache.get('ttl', () => 'stale')).toBeUndefined();
    expect(cache.get('ttl', ok)).toBeUndefined();
  });

  it('keys by a SHA-256 digest: never the token itself', async () => {
    const d = await tokenDigest('header.payload.signature');
    expect(d).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(d).not.toContain('payload');
    expect(await tokenDigest('header.payload.signature')).toBe(d);
    expect(await tokenDigest('header.payload.signaturf')).not.toBe(d);
    // The same key as the SHA-256 in base64url through btoa, for tokens of every length mod 3.
    for (const t of ['a', 'ab', 'abc', 'header.payload.signature', 'é🎵'.repeat(7)]) {
      const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(t)));
      expect(await tokenDigest(t)).toBe(btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''));
    }
  });
});
