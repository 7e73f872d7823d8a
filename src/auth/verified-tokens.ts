/**
 * Tokens this isolate verified lately, so that a client sending the same bearer token on every
 * request pays for its signature once, not per request. What it guarantees:
 * - keyed by the SHA-256 of the token: the isolate's memory holds no usable bearer token;
 * - an entry is only what was verified (signature, issuer, audience, algorithm, exp/nbf): the
 *   caller still checks, on every request, that the token's tenant claim names the resolved
 *   tenant, so a token of tenant A cached on tenant A's request is refused on tenant B as before;
 * - an entry records the verification it passed (`context`: platform key id, or the tenant IdP's
 *   issuer, audience, algorithms and key set URL) and is a miss under any other: a tenant whose
 *   IdP settings changed verifies its tokens afresh;
 * - an entry never outlives the token's `exp` (without the clock tolerance the full check allows),
 *   nor `maxTtlMs`, nor the key it was verified with: `keyValid` is asked on every hit (a platform
 *   key id still in the ring; a tenant key set still the very download, `generation`, that verified
 *   it, and still fresh), so a rotated or removed key is refused on the next request;
 * - bounded: at most `capacity` entries, the least recently used evicted first; failures are
 *   never cached.
 */
import type { JWTPayload } from 'jose';
import { TtlCache } from '../cache/ttl-cache.js';

/** What a cached verification was checked against; the cache only returns it for the same context. */
export interface VerifiedEntry<I> {
  identity: I;
  context: string;
  /** The key set download that verified it (tenant IdPs), or the platform key id. */
  key: { kind: 'platform'; kid: string | undefined } | { kind: 'jwks'; url: string; generation: number };
}

export interface VerifiedTokensOptions {
  /** Most tokens remembered (default 10,000). */
  capacity?: number;
  /** Longest an entry lives, whatever its exp (default 10 minutes). */
  maxTtlMs?: number;
  now?: () => number;
}

export const DEFAULT_VERIFIED_CAPACITY = 10_000;
export const DEFAULT_VERIFIED_TTL_MS = 600_000;

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const encoder = new TextEncoder();

/** Unpadded base64url of `d` (straight from the bytes: this runs on every request with a token). */
function base64url(d: Uint8Array): string {
  let s = '';
  let i = 0;
  for (; i + 2 < d.length; i += 3) {
    const n = (d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!;
    s += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]! + B64URL[n & 63]!;
  }
  if (i < d.length) {
    const n = (d[i]! << 16) | ((d[i + 1] ?? 0) << 8);
    s += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + (i + 1 < d.length ? B64URL[(n >> 6) & 63]! : '');
  }
  return s;
}

/** The cache key of a token: its SHA-256, base64url. */
export async function tokenDigest(token: string): Promise<string> {
  return base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(token))));
}

/** A bounded LRU of verified tokens, each living until the earliest of its exp, `maxTtlMs` and `validUntil`. */
export class VerifiedTokens<I extends { claims: JWTPayload }> {
  private readonly cache: TtlCache<VerifiedEntry<I>>;
  private readonly now: () => number;
  private readonly maxTtl: number;

  constructor(opts: VerifiedTokensOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.maxTtl = opts.maxTtlMs ?? DEFAULT_VERIFIED_TTL_MS;
    this.cache = new TtlCache(opts.capacity ?? DEFAULT_VERIFIED_CAPACITY, this.now);
  }

  /**
   * The entry for `digest` if `judge` finds it usable: 'ok'; 'other' (verified under other rules
   * than the caller's: a miss, kept for its own) or 'stale' (its key no longer stands: dropped).
   */
  get(digest: string, judge: (entry: VerifiedEntry<I>) => 'ok' | 'other' | 'stale'): VerifiedEntry<I> | undefined {
    const e = this.cache.get(digest);
    if (!e) return undefined;
    const verdict = judge(e);
    if (verdict === 'stale') this.cache.delete(digest);
    return verdict === 'ok' ? e : undefined;
  }

  /** Remembers a verification; `validUntil` (ms) bounds it further (a key set's freshness). */
  set(digest: string, entry: VerifiedEntry<I>, validUntil = Infinity): void {
    const exp = entry.identity.claims.exp;
    if (typeof exp !== 'number' || !Number.isFinite(exp)) return;
    const now = this.now();
    this.cache.set(digest, entry, Math.min(exp * 1000, validUntil, now + this.maxTtl) - now);
  }

  get size(): number { return this.cache.size; }
}
