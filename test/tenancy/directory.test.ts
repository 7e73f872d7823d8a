/** The three cache levels against the real control Postgres (L3) and real Redis behind the Upstash endpoint (L2). */
import { describe, expect, it } from 'vitest';
import { upstashCache } from '../../src/cache/upstash-l2.js';
import { upstashInvalidator } from '../../src/control/cache.js';
import { AppError } from '../../src/errors.js';
import { ControlStore } from '../../src/tenancy/control-store.js';
import { TenantDirectory, type TenantStore } from '../../src/tenancy/directory.js';
import { cacheKey, epochKey, type LookupKey } from '../../src/tenancy/tenant.js';
import { stack, tenant, unique } from '../support/helpers.js';
import { holdAtNeon, holdAtUpstash } from './race-support.js';

/** The real store, counting the lookups that reach Postgres. */
class CountingStore implements TenantStore {
  calls = 0;
  private readonly inner = new ControlStore(stack.control.routerUrl);
  find(key: LookupKey) { this.calls++; return this.inner.find(key); }
}

const slugKey = (value: string) => cacheKey({ kind: 'slug', value });

const redisCommand = async (cmd: string[]) => {
  const res = await fetch(stack.upstash!.url, { method: 'POST', headers: { authorization: `Bearer ${stack.upstash!.token}` }, body: JSON.stringify(cmd) });
  return ((await res.json()) as { result: unknown }).result;
};

describe('TenantDirectory', () => {
  it('reads every lookup kind from the control database', async () => {
    const store = new ControlStore(stack.control.routerUrl);
    const acme = tenant('acme');
    expect((await store.find({ kind: 'slug', value: 'acme' }))?.id).toBe(acme.id);
    expect((await store.find({ kind: 'id', value: acme.id }))?.slug).toBe('acme');
    expect((await store.find({ kind: 'domain', value: 'initech.test' }))?.slug).toBe('initech');
    expect((await store.find({ kind: 'issuer', value: stack.jwks.idps['idp-a']!.issuer }))?.slug).toBe('umbrella');
    expect(await store.find({ kind: 'id', value: "x' OR 1=1 --" })).toBeNull();
    const globex = await store.find({ kind: 'slug', value: 'globex' });
    // Tier values with the tenant's overrides merged over them (the tests lift globex's limits).
    expect(globex).toMatchObject({ isolation: 'schema', residency: 'EU', tier: { name: 'PREMIUM', rate_per_minute: 600_000, fail_mode: 'open', breaker_failures: 10 } });
  });

  it('turns an unreachable control database into 503 UPSTREAM_UNAVAILABLE, not a 500', async () => {
    const gone = new ControlStore('postgres://control_router:x@127.0.0.1:1/control');
    const err = await gone.find({ kind: 'slug', value: 'acme' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ status: 503, code: 'UPSTREAM_UNAVAILABLE' });
    expect((err as AppError).headers['Retry-After']).toBe('5');
  });

  it('gives up on a control database that does not answer: 503 after its timeout, not a hang', async () => {
    const slug = unique('slow');
    await holdAtNeon({ param: slug, ms: 4000, phase: 'after', times: 1 });
    const t0 = Date.now();
    const err = await new ControlStore(stack.control.routerUrl, 500).find({ kind: 'slug', value: slug }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(err).toMatchObject({ status: 503, code: 'UPSTREAM_UNAVAILABLE' });
  });

  it('works without L2: one L3 read per key, then L1', async () => {
    const store = new CountingStore();
    const dir = new TenantDirectory({ store, shared: null });
    const results = await Promise.all(Array.from({ length: 25 }, () => dir.resolve({ kind: 'slug', value: 'acme' })));
    expect(results.every((t) => t?.slug === 'acme')).toBe(true);
    await dir.resolve({ kind: 'slug', value: 'acme' });
    expect(store.calls).toBe(1);
  });

  it('fills L2 so that another isolate resolves without touching Postgres', async () => {
    const shared = upstashCache(stack.upstash!.url, stack.upstash!.token);
    const key = { kind: 'slug', value: 'hooli' } as const;
    await redisCommand(['DEL', slugKey('hooli')]);
    const first = new CountingStore();
    const writes: Promise<unknown>[] = [];
    expect((await new TenantDirectory({ store: first, shared }).resolve(key, (p) => writes.push(p)))?.slug).toBe('hooli');
    await Promise.all(writes);
    expect(first.calls).toBe(1);
    // 60 s: if an invalidation is ever lost, this is how long L2 can hold the old record.
    const ttl = await redisCommand(['TTL', slugKey('hooli')]) as number;
    expect(ttl).toBeGreaterThan(50);
    expect(ttl).toBeLessThanOrEqual(60);

    const second = new CountingStore();
    expect((await new TenantDirectory({ store: second, shared }).resolve(key))?.slug).toBe('hooli');
    expect(second.calls).toBe(0);
  });

  it('caches unknown keys negatively in L1 and L2, with the negative TTL', async () => {
    const shared = upstashCache(stack.upstash!.url, stack.upstash!.token);
    const slug = unique('nobody');
    const writes: Promise<unknown>[] = [];
    const a = new CountingStore();
    expect(await new TenantDirectory({ store: a, shared, negativeTtlMs: 20_000 }).resolve({ kind: 'slug', value: slug }, (p) => writes.push(p))).toBeNull();
    await Promise.all(writes);
    expect(await redisCommand(['GET', slugKey(slug)])).toBe('~');
    expect(Number(await redisCommand(['TTL', slugKey(slug)]))).toBeLessThanOrEqual(20);
    const b = new CountingStore();
    expect(await new TenantDirectory({ store: b, shared }).resolve({ kind: 'slug', value: slug })).toBeNull();
    expect(a.calls + b.calls).toBe(1);
  });

  it('expires L1 after its TTL and reads again', async () => {
    let now = 0;
    const store = new CountingStore();
    const dir = new TenantDirectory({ store, shared: null, l1TtlMs: 1000, now: () => now });
    await dir.resolve({ kind: 'slug', value: 'acme' });
    now = 999;
    await dir.resolve({ kind: 'slug', value: 'acme' });
    now = 1000;
    await dir.resolve({ kind: 'slug', value: 'acme' });
    expect(store.calls).toBe(2);
  });

  it('treats a failing or corrupt L2 as a miss and still answers from Postgres', async () => {
    const errors: string[] = [];
    const broken = upstashCache(stack.upstash!.url, 'wrong-token');
    const store = new CountingStore();
    const t = await new TenantDirectory({ store, shared: broken, onError: (w) => errors.push(w) }).resolve({ kind: 'slug', value: 'acme' });
    expect(t?.slug).toBe('acme');
    expect(errors).toContain('l2.get');

    await redisCommand(['SET', slugKey('wayne'), '{"not":"a tenant"}']);
    const shared = upstashCache(stack.upstash!.url, stack.upstash!.token);
    const s2 = new CountingStore();
    const errs2: string[] = [];
    expect((await new TenantDirectory({ store: s2, shared, onError: (w) => errs2.push(w) }).resolve({ kind: 'slug', value: 'wayne' }))?.slug).toBe('wayne');
    expect(errs2).toContain('l2.parse');
    expect(s2.calls).toBe(1);

    await redisCommand(['SET', slugKey('wayne'), 'not json at all']);
    const s3 = new CountingStore();
    expect((await new TenantDirectory({ store: s3, shared, onError: () => {} }).resolve({ kind: 'slug', value: 'wayne' }))?.slug).toBe('wayne');
    expect(s3.calls).toBe(1);
  });
});

describe('L2 invalidation epochs (real Redis through the Upstash endpoint)', () => {
  const shared = upstashCache(stack.upstash!.url, stack.upstash!.token);
  const invalidator = upstashInvalidator(stack.upstash!.url, stack.upstash!.token);

  it('a write-back after an invalidation is refused; one with the current epoch is stored', async () => {
    const key = { kind: 'slug', value: unique('ep') } as const;
    const before = await shared.read(cacheKey(key), epochKey(key));
    expect(before).toEqual({ value: null, epoch: '' });
    await invalidator.invalidate([key]);
    expect(await shared.writeIfUnchanged(cacheKey(key), epochKey(key), before.epoch, 'old', 60)).toBe(false);
    expect(await redisCommand(['GET', cacheKey(key)])).toBeNull();

    const now = await shared.read(cacheKey(key), epochKey(key));
    expect(now.epoch).not.toBe('');
    expect(await shared.writeIfUnchanged(cacheKey(key), epochKey(key), now.epoch, 'new', 60)).toBe(true);
    expect(await shared.read(cacheKey(key), epochKey(key))).toEqual({ value: 'new', epoch: now.epoch });
  });

  it('invalidation deletes every value (and the previous key format), and gives each a new epoch that outlives any read', async () => {
    const keys: LookupKey[] = [{ kind: 'slug', value: unique('a') }, { kind: 'domain', value: `${unique('d')}.example.org` }];
    for (const k of keys) {
      await redisCommand(['SET', cacheKey(k), 'x']);
      await redisCommand(['SET', `tenant:v1:${k.kind}:${k.value}`, 'x']);
    }
    await invalidator.invalidate(keys);
    const epochs = new Set<unknown>();
    for (const k of keys) {
      expect(await redisCommand(['GET', cacheKey(k)])).toBeNull();
      expect(await redisCommand(['GET', `tenant:v1:${k.kind}:${k.value}`])).toBeNull();
      epochs.add(await redisCommand(['GET', epochKey(k)]));
      const ttl = Number(await redisCommand(['TTL', epochKey(k)]));
      expect(ttl).toBeGreaterThan(3500);
      expect(ttl).toBeLessThanOrEqual(3600);
    }
    // A second invalidation moves the epoch again (never back to a value a slow reader may hold).
    const first = await redisCommand(['GET', epochKey(keys[0]!)]);
    await invalidator.invalidate([keys[0]!]);
    expect(await redisCommand(['GET', epochKey(keys[0]!)])).not.toBe(first);
    expect(epochs.size).toBe(1);
  });

  it('the control plane gives up on a Redis that does not answer after its timeout', async () => {
    const key = { kind: 'slug', value: unique('hang') } as const;
    await holdAtUpstash({ key: cacheKey(key), ms: 3000, times: 1 });
    const t0 = Date.now();
    const err = await upstashInvalidator(stack.upstash!.url, stack.upstash!.token, 500).invalidate([key]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(Date.now() - t0).toBeLessThan(1500);
  });
});
