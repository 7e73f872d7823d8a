/**
 * The directory's own rules, with an in-memory store and L2 and an injected clock: positive and
 * negative L1s, the lookup budget and who bypasses it, L1 timing, and what a refused write-back does.
 */
import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { TenantDirectory, type SharedCache, type TenantStore } from '../../src/tenancy/directory.js';
import type { LookupKey, Tenant } from '../../src/tenancy/tenant.js';

const tenantNamed = (slug: string): Tenant => ({
  id: crypto.randomUUID(), slug, name: slug, status: 'active', version: 1, region: 'aws-us-east-2', residency: null,
  guardJurisdiction: 'global', isolation: 'row',
  tier: { name: 'STANDARD', isolation: 'row', rate_per_minute: 600, burst: 100, monthly_requests: 1_000_000, hard_cap: false,
    concurrency: 10, fail_mode: 'open', breaker_failures: 5, breaker_window_seconds: 30, breaker_cooldown_seconds: 10 },
  jwt: null, geo: null, placement: null, proxy: null, storageExceeded: false, dataKey: null,
  limits: { connections: 20, maxBodyBytes: 10 * 1024 * 1024, storageBytes: 1024 * 1024 * 1024 },
});

/** Tenants by slug; counts lookups per slug; `during` runs inside each lookup (to move the clock). */
class MemoryStore implements TenantStore {
  readonly calls = new Map<string, number>();
  during: () => void = () => {};
  constructor(readonly tenants: Record<string, Tenant>) {}
  async find(key: LookupKey) {
    this.calls.set(key.value, (this.calls.get(key.value) ?? 0) + 1);
    this.during();
    return this.tenants[key.value] ?? null;
  }
  total() { return [...this.calls.values()].reduce((a, b) => a + b, 0); }
}

/** An L2 in memory whose write-backs succeed or not as told. */
class MemoryL2 implements SharedCache {
  readonly values = new Map<string, string>();
  writes = 0;
  accept = true;
  fail = false;
  async read(key: string) {
    if (this.fail) throw new Error('down');
    return { value: this.values.get(key) ?? null, epoch: 'e1' };
  }
  async writeIfUnchanged(key: string, _e: string, _epoch: string, value: string) {
    this.writes++;
    if (this.accept) this.values.set(key, value);
    return this.accept;
  }
}

const slug = (value: string): LookupKey => ({ kind: 'slug', value });
const refusal = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e);

describe('TenantDirectory L1 and lookup budget', () => {
  it('unknown names never evict known tenants from L1', async () => {
    const store = new MemoryStore({ a: tenantNamed('a'), b: tenantNamed('b') });
    const dir = new TenantDirectory({ store, capacity: 2, budget: { burst: 1000, perSecond: 1 } });
    await dir.resolve(slug('a'));
    await dir.resolve(slug('b'));
    for (let i = 0; i < 50; i++) expect(await dir.resolve(slug(`nobody${i}`))).toBeNull();
    expect((await dir.resolve(slug('a')))?.slug).toBe('a');
    expect((await dir.resolve(slug('b')))?.slug).toBe('b');
    expect(store.calls.get('a')).toBe(1);
    expect(store.calls.get('b')).toBe(1);
  });

  it('rations L3 reads per isolate: a burst, then the rate; over budget 503 with Retry-After 1, no L3 read, nothing cached', async () => {
    let now = 0;
    const store = new MemoryStore({ late: tenantNamed('late') });
    const dir = new TenantDirectory({ store, budget: { burst: 3, perSecond: 2 }, now: () => now });
    for (let i = 0; i < 3; i++) expect(await dir.resolve(slug(`x${i}`))).toBeNull();
    const err = await refusal(dir.resolve(slug('late')));
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ status: 503, code: 'UPSTREAM_UNAVAILABLE', headers: { 'Retry-After': '1' } });
    expect(store.total()).toBe(3);
    now = 500; // one token back
    expect((await dir.resolve(slug('late')))?.slug).toBe('late');
    expect(await refusal(dir.resolve(slug('other')))).toBeInstanceOf(AppError);
  });

  it('keys resolved to a tenant lately bypass the budget once their L1 entry expired', async () => {
    let now = 0;
    const store = new MemoryStore({ known: tenantNamed('known') });
    const dir = new TenantDirectory({ store, budget: { burst: 1, perSecond: 0.0001 }, l1TtlMs: 1000, now: () => now });
    await dir.resolve(slug('known'));
    expect(await refusal(dir.resolve(slug('stranger')))).toBeInstanceOf(AppError);
    now = 60_000;
    expect((await dir.resolve(slug('known')))?.slug).toBe('known');
    expect(store.calls.get('known')).toBe(2);
    // Not for ever: after the known TTL it is rationed like any key.
    now = 60_000 + 3_600_000;
    expect(await refusal(dir.resolve(slug('known')))).toBeInstanceOf(AppError);
  });

  it('L2 hits cost no budget', async () => {
    const l2 = new MemoryL2();
    const store = new MemoryStore({});
    const dir = new TenantDirectory({ store, shared: l2, budget: { burst: 1, perSecond: 0.001 } });
    for (let i = 0; i < 20; i++) l2.values.set(`tenant:v2:slug:c${i}`, JSON.stringify(tenantNamed(`c${i}`)));
    for (let i = 0; i < 20; i++) expect((await dir.resolve(slug(`c${i}`)))?.slug).toBe(`c${i}`);
    expect(store.total()).toBe(0);
  });

  it('times an L1 entry from the start of its lookup, so a slow L3 answer does not extend it', async () => {
    let now = 0;
    const store = new MemoryStore({ a: tenantNamed('a') });
    store.during = () => { now += 4000; };
    const dir = new TenantDirectory({ store, l1TtlMs: 5000, now: () => now });
    await dir.resolve(slug('a')); // read began at 0, answered at 4000
    now = 4999;
    await dir.resolve(slug('a'));
    expect(store.calls.get('a')).toBe(1);
    store.during = () => {};
    now = 5000;
    await dir.resolve(slug('a'));
    expect(store.calls.get('a')).toBe(2);
  });

  it('holds an unknown name at L1 no longer than the L1 TTL: a tenant created for it is served within that bound', async () => {
    let now = 0;
    const store = new MemoryStore({});
    const dir = new TenantDirectory({ store, l1TtlMs: 5000, negativeTtlMs: 30_000, now: () => now });
    expect(await dir.resolve(slug('newco'))).toBeNull();
    store.tenants.newco = tenantNamed('newco');
    now = 4999;
    expect(await dir.resolve(slug('newco'))).toBeNull();
    now = 5000;
    expect((await dir.resolve(slug('newco')))?.slug).toBe('newco');
  });

  it('drops its L1 entry when the write-back finds the key invalidated since its epoch read', async () => {
    const l2 = new MemoryL2();
    l2.accept = false;
    const store = new MemoryStore({ a: tenantNamed('a') });
    const dir = new TenantDirectory({ store, shared: l2 });
    const writes: Promise<unknown>[] = [];
    await dir.resolve(slug('a'), (p) => writes.push(p));
    await dir.resolve(slug('nobody'), (p) => writes.push(p));
    await Promise.all(writes);
    await dir.resolve(slug('a'));
    await dir.resolve(slug('nobody'));
    expect(store.calls.get('a')).toBe(2);
    expect(store.calls.get('nobody')).toBe(2);
  });

  it('writes nothing back when the epoch could not be read', async () => {
    const l2 = new MemoryL2();
    l2.fail = true;
    const errors: string[] = [];
    const dir = new TenantDirectory({ store: new MemoryStore({ a: tenantNamed('a') }), shared: l2, onError: (w) => errors.push(w) });
    const writes: Promise<unknown>[] = [];
    expect((await dir.resolve(slug('a'), (p) => writes.push(p)))?.slug).toBe('a');
    expect(writes).toHaveLength(0);
    expect(l2.writes).toBe(0);
    expect(errors).toEqual(['l2.get']);
  });
});
