/** The JWKS cache alone, with a scripted IdP and a hand-moved clock: what it fetches, when, and what it answers. */
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { backoffMs, JwksCache } from '../../src/auth/jwks-cache.js';
import { checkJwksUrl } from '../../src/auth/jwks-url.js';

const URL_A = new URL('https://idp.example/jwks.json');
type Key = { kid: string; jwk: JWK; sign: (kid?: string) => Promise<string> };

async function key(kid: string): Promise<Key> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256' };
  const sign = (k = kid) => new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: k }).setExpirationTime('5m').sign(privateKey);
  return { kid, jwk, sign };
}

/** A scripted IdP: `answer` decides each response; `calls` counts the requests it saw. */
function idp(answer: (init: RequestInit) => Promise<Response> | Response) {
  const state = { calls: 0, inits: [] as RequestInit[] };
  const fetch = async (_url: string, init: RequestInit) => { state.calls++; state.inits.push(init); return answer(init); };
  return { state, fetch };
}

const jwks = (...keys: Key[]) => new Response(JSON.stringify({ keys: keys.map((k) => k.jwk) }), { headers: { 'content-type': 'application/json' } });
const down = () => Promise.reject(new TypeError('Network connection lost.'));
const verify = (cache: JwksCache, token: string) => jwtVerify(token, cache.keyFor(URL_A), { algorithms: ['ES256'] });

let a: Key;
let b: Key;
beforeAll(async () => { [a, b] = await Promise.all([key('a-1'), key('b-1')]); });

describe('JwksCache', () => {
  it('shares one download between concurrent verifications', async () => {
    const { state, fetch } = idp(async () => { await new Promise((r) => setTimeout(r, 20)); return jwks(a); });
    const cache = new JwksCache({ fetch });
    const token = await a.sign();
    const results = await Promise.all(Array.from({ length: 10 }, () => verify(cache, token)));
    expect(results).toHaveLength(10);
    expect(state.calls).toBe(1);
  });

  it('a download that never ends (its request was cancelled) holds the others no longer than the timeout', async () => {
    // The first download's promise never settles, as when the request that started it is cancelled.
    let n = 0;
    const { state, fetch } = idp(() => (n++ === 0 ? new Promise<Response>(() => {}) : jwks(a)));
    const cache = new JwksCache({ fetch, timeoutMs: 200 });
    const token = await a.sign();
    void verify(cache, token).catch(() => {});
    const t0 = Date.now();
    const joined = await verify(cache, token);
    expect(joined.protectedHeader.kid).toBe('a-1');
    // It waited about timeoutMs + the 500 ms margin, then downloaded for itself.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(650);
    expect(state.calls).toBe(2);
    // The stuck download is not joined again.
    await verify(cache, token);
    expect(state.calls).toBe(2);
  });

  it('after a failure answers 503 at once, fetching again only when the backoff (1 s doubling to 60 s) ends', async () => {
    let now = 1_000_000;
    const { state, fetch } = idp(down);
    const cache = new JwksCache({ fetch, now: () => now });
    const token = await a.sign();
    const waits: string[] = [];
    for (const step of [1, 2, 4, 8, 16, 32, 60, 60]) {
      const err = await verify(cache, token).catch((e: unknown) => e);
      expect(err).toMatchObject({ status: 503, code: 'UPSTREAM_UNAVAILABLE' });
      waits.push((err as { headers: Record<string, string> }).headers['Retry-After']!);
      const calls = state.calls;
      // Within the backoff: refused without a download.
      now += step * 1000 - 1;
      await expect(verify(cache, token)).rejects.toMatchObject({ status: 503 });
      expect(state.calls).toBe(calls);
      now += 1;
    }
    expect(waits).toEqual(['1', '2', '4', '8', '16', '32', '60', '60']);
    expect(state.calls).toBe(8);
    expect(backoffMs(100, 1000, 60_000)).toBe(60_000);
  });

  it('stops reading a body at 64 KiB, without a Content-Length', async () => {
    let pulled = 0;
    const endless = () => new ReadableStream<Uint8Array>({ pull(ctl) { pulled++; ctl.enqueue(new Uint8Array(1024).fill(32)); } });
    const cache = new JwksCache({ fetch: async () => new Response(endless()) });
    await expect(verify(cache, await a.sign())).rejects.toMatchObject({ status: 503, code: 'UPSTREAM_UNAVAILABLE' });
    expect(pulled).toBeGreaterThan(64);
    expect(pulled).toBeLessThan(70);
  });

  it('refuses a declared Content-Length over the cap without reading the body', async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({ pull(ctl) { pulled++; ctl.enqueue(new Uint8Array(1024)); } });
    const cache = new JwksCache({ fetch: async () => new Response(body, { headers: { 'content-length': String(1 << 20) } }) });
    await expect(verify(cache, await a.sign())).rejects.toMatchObject({ status: 503 });
    expect(pulled).toBeLessThanOrEqual(1);
  });

  it('gives up on an IdP that does not answer within the timeout', async () => {
    const { fetch } = idp((init) => new Promise((_, reject) => init.signal!.addEventListener('abort', () => reject(init.signal!.reason))));
    const cache = new JwksCache({ fetch, timeoutMs: 50 });
    const t0 = Date.now();
    await expect(verify(cache, await a.sign())).rejects.toMatchObject({ status: 503, code: 'UPSTREAM_UNAVAILABLE' });
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('follows no redirect and accepts only a 200 key set', async () => {
    for (const res of [
      () => new Response(null, { status: 302, headers: { location: 'http://evil.example/jwks' } }),
      () => new Response('{"keys":[]', { status: 200 }),
      () => new Response('{"nokeys":true}', { status: 200 }),
      () => new Response(JSON.stringify({ keys: [a.jwk] }), { status: 500 }),
    ]) {
      const { state, fetch } = idp(res);
      await expect(verify(new JwksCache({ fetch }), await a.sign())).rejects.toMatchObject({ status: 503 });
      expect(state.inits[0]!.redirect).toBe('manual');
    }
  });

  it('refetches for an unknown kid at most once per cool-down (30 s)', async () => {
    let now = 5_000_000;
    let served = [a];
    const { state, fetch } = idp(() => jwks(...served));
    const cache = new JwksCache({ fetch, now: () => now });
    await verify(cache, await a.sign());
    served = [a, b];
    // Just fetched: an unknown kid is refused without a download, however many times it comes.
    for (let i = 0; i < 5; i++) await expect(verify(cache, await b.sign())).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect(state.calls).toBe(1);
    now += 30_000;
    expect((await verify(cache, await b.sign())).protectedHeader.kid).toBe('b-1');
    expect(state.calls).toBe(2);
    for (let i = 0; i < 5; i++) await expect(verify(cache, await b.sign('rogue'))).rejects.toMatchObject({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
    expect(state.calls).toBe(2);
  });

  it('keeps verifying with the last keys while the IdP is down, for at most an hour past their age', async () => {
    let now = 9_000_000;
    let up = true;
    const { state, fetch } = idp(() => (up ? jwks(a) : down()));
    const cache = new JwksCache({ fetch, now: () => now });
    const token = await a.sign();
    await verify(cache, token);
    up = false;
    now += 600_000;
    expect((await verify(cache, token)).protectedHeader.kid).toBe('a-1');
    expect(state.calls).toBe(2);
    now += 3_600_000;
    await expect(verify(cache, token)).rejects.toMatchObject({ status: 503, code: 'UPSTREAM_UNAVAILABLE' });
  });
});

describe('checkJwksUrl', () => {
  it.each(['https://idp.example/.well-known/jwks.json', 'http://127.0.0.1:4000/jwks', 'http://localhost/jwks', 'http://[::1]:8080/jwks'])('allows %s', (raw) => {
    expect(checkJwksUrl(raw).ok).toBe(true);
  });

  it.each([
    ['http://idp.example/jwks', /plain http/], ['http://localhost.evil.example/jwks', /plain http/], ['http://127.0.0.2/jwks', /plain http/],
    ['ftp://idp.example/jwks', /scheme/], ['https://user:pw@idp.example/jwks', /credentials/], ['not a url', /not a URL/],
  ])('refuses %s', (raw, reason) => {
    const r = checkJwksUrl(raw);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(reason);
  });
});
