/**
 * Tenant lookup through three levels: L1 isolate memory (seconds), L2 shared cache (Upstash,
 * minutes, invalidated by the control plane), L3 the control Postgres. A miss costs at most one
 * round trip per level; concurrent misses for the same key share one lookup; unknown keys are
 * cached negatively at L1 and L2 so a flood of random hosts does not reach Postgres.
 */
import { TtlCache } from '../cache/ttl-cache.js';
import { cacheKey, TenantSchema, type LookupKey, type Tenant } from './tenant.js';

/** The source of truth (L3). */
export interface TenantStore { find(key: LookupKey): Promise<Tenant | null> }

/** A shared cache (L2); failures are treated as misses. */
export interface SharedCache {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
}

export interface DirectoryOptions {
  store: TenantStore;
  shared?: SharedCache | null;
  /** Positive L1 TTL. Short, because L1 cannot be invalidated from outside the isolate. */
  l1TtlMs?: number;
  /** Negative TTL at L1 and L2. */
  negativeTtlMs?: number;
  /** Positive L2 TTL; the control plane deletes keys on change, this bounds a missed delete. */
  l2TtlSeconds?: number;
  capacity?: number;
  now?: () => number;
  onError?: (where: string, err: unknown) => void;
}

const NEGATIVE = '~';

/** Resolves lookup keys to tenants through L1 → L2 → L3. */
export class TenantDirectory {
  private readonly l1: TtlCache<Tenant | null>;
  private readonly inflight = new Map<string, Promise<Tenant | null>>();
  private readonly l1Ttl: number;
  private readonly negTtl: number;
  private readonly l2Ttl: number;

  constructor(private readonly opts: DirectoryOptions) {
    this.l1Ttl = opts.l1TtlMs ?? 5_000;
    this.negTtl = opts.negativeTtlMs ?? 30_000;
    this.l2Ttl = opts.l2TtlSeconds ?? 300;
    this.l1 = new TtlCache(opts.capacity ?? 10_000, opts.now);
  }

  /** The tenant for `key`, or null when there is none. `defer` receives background cache writes. */
  async resolve(key: LookupKey, defer: (p: Promise<unknown>) => void = () => {}): Promise<Tenant | null> {
    const k = cacheKey(key);
    const hit = this.l1.get(k);
    if (hit !== undefined) return hit;
    const pending = this.inflight.get(k);
    if (pending) return pending;
    const p = this.miss(key, k, defer).finally(() => this.inflight.delete(k));
    this.inflight.set(k, p);
    return p;
  }

  /** Drops `key` from this isolate's L1 (tests and the control plane's own isolate). */
  forget(key: LookupKey): void { this.l1.delete(cacheKey(key)); }

  private async miss(key: LookupKey, k: string, defer: (p: Promise<unknown>) => void): Promise<Tenant | null> {
    const shared = this.opts.shared;
    if (shared) {
      const cached = await shared.get(k).catch((err) => { this.opts.onError?.('l2.get', err); return null; });
      if (cached === NEGATIVE) { this.l1.set(k, null, this.negTtl); return null; }
      if (cached) {
        const parsed = TenantSchema.safeParse(JSON.parse(cached));
        if (parsed.success) { this.l1.set(k, parsed.data, this.l1Ttl); return parsed.data; }
        this.opts.onError?.('l2.parse', parsed.error);
      }
    }
    const tenant = await this.opts.store.find(key);
    this.l1.set(k, tenant, tenant ? this.l1Ttl : this.negTtl);
    if (shared) {
      const value = tenant ? JSON.stringify(tenant) : NEGATIVE;
      const ttl = tenant ? this.l2Ttl : Math.max(1, Math.round(this.negTtl / 1000));
      defer(shared.set(k, value, ttl).catch((err) => this.opts.onError?.('l2.set', err)));
    }
    return tenant;
  }
}
