/**
 * Tenant IdP key sets, one entry per JWKS URL per isolate. What it guarantees:
 * - one download in flight per URL: concurrent requests wait for the same one;
 * - a failed download is not retried before its backoff ends (1 s, doubling to 60 s); until then
 *   requests that have no usable keys get 503 at once, so a dead IdP costs nobody a timeout;
 * - keys are refetched when older than `maxAgeMs`; while the IdP is down the old keys stand in
 *   for at most `maxStaleMs` more (a rotated-out key must not live forever);
 * - a token with an unknown `kid` triggers a refetch at most once per `refetchCooldownMs`, so
 *   random kids cannot turn the router into a download loop against the IdP.
 * jose verifies against `createLocalJWKSet` of what was downloaded. Each successful download gets a
 * new `generation` (unique in the isolate): a verification remembered elsewhere (verified-tokens.ts)
 * stays good only while its generation is still the URL's current one, and fresh.
 */
import { createLocalJWKSet, errors, type JWTVerifyGetKey } from 'jose';
import { AppError } from '../errors.js';
import { within } from '../flight/within.js';
import { fetchJwks, type Fetcher, JwksFetchError } from './jwks-fetch.js';

/** Beyond a download's own timeout, how long a joining request still waits for it. */
const JOIN_MARGIN_MS = 500;

export interface JwksCacheOptions {
  fetch?: Fetcher;
  now?: () => number;
  timeoutMs?: number;
  maxBytes?: number;
  maxAgeMs?: number;
  maxStaleMs?: number;
  refetchCooldownMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Most URLs remembered; the oldest is dropped beyond it. */
  capacity?: number;
  onFailure?: (url: string, reason: string, failures: number) => void;
}

type LocalSet = ReturnType<typeof createLocalJWKSet>;

interface Entry {
  keys: LocalSet | null;
  generation: number;
  fetchedAt: number;
  lastAttempt: number;
  failures: number;
  retryAt: number;
  inflight: Promise<void> | null;
}

/** Milliseconds to wait after the `failures`-th consecutive failure: base, doubled each time, capped. */
export function backoffMs(failures: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
}

/** Downloads, caches and serves JWKS keys with single-flight, failure backoff and size/time bounds. */
export class JwksCache {
  private readonly entries = new Map<string, Entry>();
  private generations = 0;
  private readonly fetch: Fetcher;
  private readonly now: () => number;
  private readonly o: Required<Omit<JwksCacheOptions, 'fetch' | 'now' | 'onFailure'>>;

  constructor(private readonly opts: JwksCacheOptions = {}) {
    // Looked up per call, not captured: the runtime's fetch is what tests observe.
    this.fetch = opts.fetch ?? ((input, init) => fetch(input, init));
    this.now = opts.now ?? Date.now;
    this.o = {
      timeoutMs: opts.timeoutMs ?? 3_000, maxBytes: opts.maxBytes ?? 64 * 1024,
      maxAgeMs: opts.maxAgeMs ?? 600_000, maxStaleMs: opts.maxStaleMs ?? 3_600_000,
      refetchCooldownMs: opts.refetchCooldownMs ?? 30_000,
      backoffBaseMs: opts.backoffBaseMs ?? 1_000, backoffMaxMs: opts.backoffMaxMs ?? 60_000,
      capacity: opts.capacity ?? 1_000,
    };
  }

  /**
   * A jose key resolver for the (already vetted) JWKS at `url`; `used` hears the generation of the
   * key set that supplied the key (the last call wins: jose asks once per verification).
   */
  keyFor(url: URL, used?: (generation: number) => void): JWTVerifyGetKey {
    return (header, token) => this.resolve(url, header, token, used);
  }

  /** The current download of `url`'s key set: its generation, and whether it is still fresh (not due for a refetch). */
  generationOf(url: string): { generation: number; fresh: boolean; freshUntil: number } | null {
    const e = this.entries.get(url);
    if (!e?.keys) return null;
    const freshUntil = e.fetchedAt + this.o.maxAgeMs;
    return { generation: e.generation, fresh: this.now() < freshUntil, freshUntil };
  }

  private async resolve(url: URL, header: Parameters<LocalSet>[0], token: Parameters<LocalSet>[1], used?: (generation: number) => void) {
    const e = this.entry(url.href);
    if (!e.keys || this.now() - e.fetchedAt >= this.o.maxAgeMs) await this.refresh(url, e);
    if (!e.keys || this.now() - e.fetchedAt >= this.o.maxAgeMs + this.o.maxStaleMs) throw this.unavailable(e);
    try {
      const generation = e.generation;
      const key = await e.keys(header, token);
      used?.(generation);
      return key;
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      // An unknown kid may be a key rotation: refetch, but rarely, and never during a backoff.
      if (this.now() - e.lastAttempt < this.o.refetchCooldownMs || this.now() < e.retryAt) throw err;
      await this.refresh(url, e);
      const generation = e.generation;
      const key = await e.keys(header, token);
      used?.(generation);
      return key;
    }
  }

  /** Starts a download unless one is in flight (then joins it, for a bounded time) or the backoff forbids one. Never rejects. */
  private async refresh(url: URL, e: Entry): Promise<void> {
    // A download is bounded by timeoutMs, so one still pending well after that was started by a
    // request that was cancelled (and its fetch with it): wait for it no longer than it can take.
    const pending = e.inflight;
    if (pending && (await within(pending, e.lastAttempt + this.o.timeoutMs + JOIN_MARGIN_MS - this.now())).settled) return;
    if (e.inflight !== pending && e.inflight) return this.refresh(url, e);
    if (this.now() < e.retryAt) return;
    e.lastAttempt = this.now();
    const inflight: Promise<void> = fetchJwks(url, { fetch: this.fetch, timeoutMs: this.o.timeoutMs, maxBytes: this.o.maxBytes })
      .then((jwks) => {
        // A malformed set counts as a failed download (createLocalJWKSet throws JWKSInvalid).
        e.keys = createLocalJWKSet(jwks);
        e.generation = ++this.generations;
        e.fetchedAt = this.now();
        e.failures = 0;
        e.retryAt = 0;
      })
      .catch((err: unknown) => {
        e.failures += 1;
        e.retryAt = this.now() + backoffMs(e.failures, this.o.backoffBaseMs, this.o.backoffMaxMs);
        const reason = err instanceof JwksFetchError ? err.message : err instanceof errors.JOSEError ? 'not a valid key set' : 'failed';
        this.opts.onFailure?.(url.href, reason, e.failures);
      })
      .finally(() => { if (e.inflight === inflight) e.inflight = null; });
    e.inflight = inflight;
    return inflight;
  }

  private unavailable(e: Entry): AppError {
    const wait = Math.max(1, Math.ceil((e.retryAt - this.now()) / 1000));
    return new AppError(503, 'UPSTREAM_UNAVAILABLE', 'identity provider unreachable', { 'Retry-After': String(wait) });
  }

  private entry(href: string): Entry {
    let e = this.entries.get(href);
    if (!e) {
      if (this.entries.size >= this.o.capacity) this.entries.delete(this.entries.keys().next().value!);
      e = { keys: null, generation: 0, fetchedAt: 0, lastAttempt: -Infinity, failures: 0, retryAt: 0, inflight: null };
      this.entries.set(href, e);
    }
    return e;
  }
}
