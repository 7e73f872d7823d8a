/**
 * Cloudflare for SaaS custom hostnames through the official `cloudflare` SDK (API v4), reduced to
 * the four calls the control plane makes. The client is the tree-shakable one with only the
 * custom-hostnames resource, so the control worker does not bundle the whole API. Every call fails
 * as an AppError from refusals.ts, never as the SDK's error.
 *
 * No call is retried (the SDK's retries are off): a caller that gets 503 retries, and the
 * scheduled sweep tries again on its next run. The calls made for one admin request share one
 * deadline (`within`), so a request that makes several (create, then find; create, then undo)
 * waits at most that long for Cloudflare in all.
 *
 * New hostnames validate their certificate over TXT only: with HTTP validation Cloudflare answers
 * the certificate authority itself once a CNAME points to the zone, so a CNAME left behind by a
 * former customer would let anyone who adds the name get it served (docs/custom-hostnames.md).
 */
import { APIError } from 'cloudflare/error';
import { BaseCustomHostnames, type CustomHostname } from 'cloudflare/resources/custom-hostnames/custom-hostnames';
import { createClient } from 'cloudflare/tree-shakable';
import { AppError } from '../errors.js';
import { isDuplicate, isNotFound, refusalOf, type CallFailure } from './refusals.js';

/** The one certificate validation method new custom hostnames are created with. */
export const DCV_METHOD = 'txt';

export interface CustomHostnamesOptions {
  apiToken: string;
  zoneId: string;
  /** API base (default Cloudflare's `https://api.cloudflare.com/client/v4`); the stand-in locally. */
  baseUrl?: string;
  /** Longest wait for one call, and for all the calls of one `within` view, in milliseconds. */
  timeoutMs: number;
}

/** What the control plane asks of Cloudflare. */
export interface CustomHostnameApi {
  /** Creates the custom hostname; `adopted` when this zone already had it (an earlier half-finished add). */
  create(hostname: string): Promise<{ hostname: CustomHostname; adopted: boolean }>;
  /** The custom hostname with `id`, or null when Cloudflare has none. */
  get(id: string): Promise<CustomHostname | null>;
  /** Deletes it; true when deleted, false when it was not there (idempotent). */
  remove(id: string): Promise<boolean>;
  /** The custom hostname named `hostname` in this zone, or null. */
  find(hostname: string): Promise<CustomHostname | null>;
  /** A view whose calls share one deadline of `ms`, counted from its first call (one admin request's calls). */
  within(ms: number): CustomHostnameApi;
}

/** The failure as the wrapper sees it, whatever threw. */
export function failureOf(err: unknown): CallFailure {
  if (err instanceof APIError) {
    const codes = err.errors.map((e) => e.code).filter((c): c is number => typeof c === 'number');
    const message = err.errors.map((e) => e.message).filter(Boolean).join('; ') || String(err.message);
    return { status: err.status, codes, message, retryAfter: err.headers?.get('retry-after') ?? null };
  }
  return { status: undefined, codes: [], message: String((err as Error)?.message ?? err) };
}

/** The options of one call: the time left until `deadline` (epoch ms), or none at all. */
function optionsUntil(deadline: number | null, timeoutMs: number): { timeout: number } {
  if (deadline === null) return { timeout: timeoutMs };
  const left = deadline - Date.now();
  if (left <= 0) throw new AppError(503, 'UPSTREAM_UNAVAILABLE', 'Cloudflare did not answer within this request\'s deadline; retry later', { 'Retry-After': '5' });
  return { timeout: Math.min(left, timeoutMs) };
}

/** A CustomHostnameApi over Cloudflare's API v4. */
export function cloudflareHostnames(o: CustomHostnamesOptions): CustomHostnameApi {
  const client = createClient({
    apiToken: o.apiToken, baseURL: o.baseUrl, timeout: o.timeoutMs, maxRetries: 0, resources: [BaseCustomHostnames],
  });
  return view(client.customHostnames, o, () => null);
}

type Resource = ReturnType<typeof createClient<[typeof BaseCustomHostnames]>>['customHostnames'];

/** The four calls, each bounded by `deadline()` (null: only by the per-call timeout). */
function view(api: Resource, o: CustomHostnamesOptions, deadline: () => number | null): CustomHostnameApi {
  const zone_id = o.zoneId;
  const call = async <T>(f: (opts: { timeout: number }) => Promise<T>, onFailure?: (x: CallFailure) => T | undefined): Promise<T> => {
    const opts = optionsUntil(deadline(), o.timeoutMs);
    try { return await f(opts); } catch (err) {
      const failure = failureOf(err);
      const handled = onFailure?.(failure);
      if (handled !== undefined) return handled;
      throw refusalOf(failure);
    }
  };
  const find = (hostname: string) => call(async (opts) => {
    const page = await api.list({ zone_id, hostname: { exact: hostname }, per_page: 5 }, opts);
    return page.result.find((h) => h.hostname === hostname) ?? null;
  });
  return {
    find,
    async create(hostname) {
      let duplicate = false;
      try {
        const created = await call((opts) => api.create({ zone_id, hostname, ssl: { method: DCV_METHOD, type: 'dv' } }, opts),
          (f) => { duplicate = isDuplicate(f); return undefined; });
        return { hostname: created, adopted: false };
      } catch (err) {
        if (!duplicate) throw err;
        // This zone may hold it from an add whose clean-up failed: then it is ours to adopt.
        const ours = await find(hostname);
        if (!ours) throw err;
        return { hostname: ours, adopted: true };
      }
    },
    get: (id) => call<CustomHostname | null>((opts) => api.get(id, { zone_id }, opts), (f) => (isNotFound(f) ? null : undefined)),
    remove: (id) => call(async (opts) => { await api.delete(id, { zone_id }, opts); return true; }, (f) => (isNotFound(f) ? false : undefined)),
    within(ms) {
      let until: number | null = null;
      // The clock starts at the first call, so the request's database work before it costs nothing.
      return view(api, o, () => (until ??= Date.now() + ms));
    },
  };
}
