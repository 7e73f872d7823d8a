/**
 * Tenant lookup through three levels: L1 isolate memory (seconds), L2 shared cache (Upstash,
 * kept coherent with the control plane by invalidation epochs, src/cache/coherence.ts), L3 the
 * control Postgres. A miss costs at most one round trip per level; concurrent misses for the same
 * key share one lookup, for a bounded time (src/flight/within.ts).
 *
 * Staleness: a router serves a change at most one L1 TTL after the control plane invalidated it.
 * L1 entries are timed from the start of the lookup that filled them (a slow L3 answer cannot
 * stretch the bound), and an entry whose write-back found the epoch moved is dropped at once.
 * Unknown names too are held at L1 for no longer than the L1 TTL (the longer negative TTL is
 * L2's), so a tenant, domain or issuer created for a name just probed is served within it as well.
 *
 * Unknown names are cheap but not free: they are cached negatively (L1 and L2), in an L1 of their
 * own so they never push out known tenants, and L3 reads are rationed per isolate by a token
 * bucket that keys this isolate resolved to a tenant recently bypass. Over budget a lookup is
 * refused 503 without touching Postgres, and nothing is cached for it.
 */
import { AppError } from '../errors.js';
import { TokenBucket } from '../cache/token-bucket.js';
import { TtlCache } from '../cache/ttl-cache.js';
import { within } from '../flight/within.js';
import type { CacheLevel } from '../observability/request-record.js';
import { cacheKey, epochKey, TenantSchema, type LookupKey, type Tenant } from './tenant.js';

/** The source of truth (L3). */
export interface TenantStore { find(key: LookupKey): Promise<Tenant | null> }

/** A shared cache (L2) with invalidation epochs; failures are treated as misses. */
export interface SharedCache {
  /** The value (null when absent) and the key's epoch ('' when none), in one round trip. */
  read(key: string, epochKey: string): Promise<{ value: string | null; epoch: string }>;
  /** Stores `value` unless the epoch moved since it read `epoch`; true when stored. */
  writeIfUnchanged(key: string, epochKey: string, epoch: string, value: string, ttlSeconds: number): Promise<boolean>;
  /** Whether the cache answers (readiness). */
  ping?(): Promise<void>;
}

/** L3 reads per isolate: `burst` at once, then `perSecond`. */
export interface LookupBudget { burst: number; perSecond: number }

/** A burst of 50 L3 reads, then 20 a second, per isolate. */
export const DEFAULT_LOOKUP_BUDGET: LookupBudget = { burst: 50, perSecond: 20 };

export interface DirectoryOptions {
  store: TenantStore;
  shared?: SharedCache | null;
  /** Positive L1 TTL. Short, because L1 cannot be invalidated from outside the isolate. */
  l1TtlMs?: number;
  /** Negative TTL at L2; L1 holds unknown names for the shorter of this and the L1 TTL. */
  negativeTtlMs?: number;
  /** Positive L2 TTL (60 s): bounds staleness should an invalidation ever be lost. */
  l2TtlSeconds?: number;
  /** L1 capacity for tenants; unknown names have an L1 of the same size of their own. */
  capacity?: number;
  /** L3 reads this isolate may start for keys it has not resolved to a tenant lately. */
  budget?: LookupBudget;
  /** How long a key resolved to a tenant bypasses the budget (1 h). */
  knownTtlMs?: number;
  /** How long a request waits on the same key's lookup begun by another request before starting its own (1 s). */
  joinMs?: number;
  now?: () => number;
  onError?: (where: string, err: unknown) => void;
}

const NEGATIVE = '~';

const overBudget = () => new AppError(503, 'UPSTREAM_UNAVAILABLE', 'too many tenant lookups; retry shortly', { 'Retry-After': '1' });

/** Resolves lookup keys to tenants through L1 → L2 → L3. */
export class TenantDirectory {
  private readonly positive: TtlCache<Tenant>;
  private readonly negative: TtlCache<true>;
  /** Keys this isolate resolved to a tenant lately: their L3 reads are not rationed. */
  private readonly known: TtlCache<true>;
  private readonly budget: TokenBucket;
  private readonly inflight = new Map<string, { lookup: Promise<Tenant | null>; since: number }>();
  private readonly joinMs: number;
  private readonly now: () => number;
  private readonly l1Ttl: number;
  private readonly negTtl: number;
  private readonly l2Ttl: number;
  private readonly knownTtl: number;

  /** The L2, for readiness checks (null when there is none). */
  get shared(): SharedCache | null { return this.opts.shared ?? null; }

  constructor(private readonly opts: DirectoryOptions) {
    this.now = opts.now ?? Date.now;
    this.l1Ttl = opts.l1TtlMs ?? 5_000;
    this.negTtl = opts.negativeTtlMs ?? 30_000;
    this.l2Ttl = opts.l2TtlSeconds ?? 60;
    this.knownTtl = opts.knownTtlMs ?? 3_600_000;
    this.joinMs = opts.joinMs ?? 1_000;
    const capacity = opts.capacity ?? 10_000;
    this.positive = new TtlCache(capacity, this.now);
    this.negative = new TtlCache(capacity, this.now);
    this.known = new TtlCache(capacity, this.now);
    const budget = opts.budget ?? DEFAULT_LOOKUP_BUDGET;
    this.budget = new TokenBucket(budget.burst, budget.perSecond, this.now);
  }

  /** The tenant for `key`, or null when there is none. `defer` receives background cache writes, `seen` the level that answered. */
  async resolve(key: LookupKey, defer: (p: Promise<unknown>) => void = () => {}, seen: (level: CacheLevel) => void = () => {}): Promise<Tenant | null> {
    const k = cacheKey(key);
    for (;;) {
      const hit = this.positive.get(k);
      if (hit) { seen('l1'); return hit; }
      if (this.negative.get(k)) { seen('l1'); return null; }
      // Another request's lookup of this key is joined for at most `joinMs` from its start: that
      // request may have been cancelled (its lookup with it), and then only our own timer runs.
      const pending = this.inflight.get(k);
      const left = pending ? pending.since + this.joinMs - this.now() : 0;
      if (!pending || left <= 0) break;
      const joined = await within(pending.lookup, left);
      if (joined.settled) { seen('joined'); return joined.value; }
    }
    const entry: { lookup: Promise<Tenant | null>; since: number } = { lookup: Promise.resolve(null), since: this.now() };
    // Only the newest lookup of a key writes L1 and L2: an older one given up on by its joiners
    // may finish last, and must not replace a fresher answer.
    entry.lookup = this.miss(key, k, defer, seen, () => this.inflight.get(k) === entry);
    this.inflight.set(k, entry);
    const done = () => { if (this.inflight.get(k) === entry) this.inflight.delete(k); };
    entry.lookup.then(done, done);
    return entry.lookup;
  }

  /** Drops `key` from this isolate's L1 (tests and the control plane's own isolate). */
  forget(key: LookupKey): void {
    const k = cacheKey(key);
    this.positive.delete(k);
    this.negative.delete(k);
  }

  private async miss(key: LookupKey, k: string, defer: (p: Promise<unknown>) => void, seen: (level: CacheLevel) => void, newest: () => boolean): Promise<Tenant | null> {
    const started = this.now();
    const l2 = await this.readShared(key, k);
    if (l2.hit) { seen('l2'); return newest() ? this.remember(k, l2.tenant, started) : l2.tenant; }
    if (!this.known.get(k) && !this.budget.take()) throw overBudget();
    seen('l3');
    const found = await this.opts.store.find(key);
    if (!newest()) return found;
    const tenant = this.remember(k, found, started);
    // Without the epoch there is nothing to compare against: leave L2 alone.
    if (l2.epoch !== null) defer(this.writeBack(key, k, l2.epoch, tenant));
    return tenant;
  }

  /** An L2 hit (tenant or null), or a miss with the epoch read (null when L2 failed). */
  private async readShared(key: LookupKey, k: string): Promise<{ hit: true; tenant: Tenant | null } | { hit: false; epoch: string | null }> {
    const shared = this.opts.shared;
    if (!shared) return { hit: false, epoch: null };
    let cached: { value: string | null; epoch: string };
    try {
      cached = await shared.read(k, epochKey(key));
    } catch (err) {
      this.opts.onError?.('l2.get', err);
      return { hit: false, epoch: null };
    }
    if (cached.value === NEGATIVE) return { hit: true, tenant: null };
    if (cached.value !== null) {
      const parsed = safeJson(cached.value);
      const tenant = TenantSchema.safeParse(parsed);
      if (tenant.success) return { hit: true, tenant: tenant.data };
      this.opts.onError?.('l2.parse', tenant.error);
    }
    return { hit: false, epoch: cached.epoch };
  }

  /** Caches `tenant` at L1, timed from `started` (when its read began), and returns it. */
  private remember(k: string, tenant: Tenant | null, started: number): Tenant | null {
    const age = this.now() - started;
    if (tenant) {
      this.negative.delete(k);
      this.positive.set(k, tenant, this.l1Ttl - age);
      this.known.set(k, true, this.knownTtl);
    } else {
      this.positive.delete(k);
      this.known.delete(k);
      this.negative.set(k, true, Math.min(this.negTtl, this.l1Ttl) - age);
    }
    return tenant;
  }

  private async writeBack(key: LookupKey, k: string, epoch: string, tenant: Tenant | null): Promise<void> {
    const value = tenant ? JSON.stringify(tenant) : NEGATIVE;
    const ttl = tenant ? this.l2Ttl : Math.max(1, Math.round(this.negTtl / 1000));
    try {
      if (await this.opts.shared!.writeIfUnchanged(k, epochKey(key), epoch, value, ttl)) return;
    } catch (err) {
      this.opts.onError?.('l2.set', err);
      return;
    }
    // The key was invalidated after our epoch read: what we read may predate the change.
    if (tenant ? this.positive.peek(k) === tenant : this.negative.peek(k)) this.forget(key);
  }
}

function safeJson(text: string): unknown {
  try { return JSON.parse(text); } catch { return undefined; }
}
