/**
 * Cloudflare for SaaS custom hostnames through the official `cloudflare` SDK (API v4), reduced to
 * the four calls the control plane makes. The client is the tree-shakable one with only the
 * custom-hostnames resource, so the control worker does not bundle the whole API. Every call is
 * bounded (`timeout`, one retry of the SDK's own for 429/5xx/connection errors) and fails as an
 * AppError from refusals.ts, never as the SDK's error.
 */
import { APIError } from 'cloudflare/error';
import { BaseCustomHostnames, type CustomHostname } from 'cloudflare/resources/custom-hostnames/custom-hostnames';
import { createClient } from 'cloudflare/tree-shakable';
import { isDuplicate, isNotFound, refusalOf, type CallFailure } from './refusals.js';

export interface CustomHostnamesOptions {
  apiToken: string;
  zoneId: string;
  /** API base (default Cloudflare's `https://api.cloudflare.com/client/v4`); the stand-in locally. */
  baseUrl?: string;
  /** Longest wait for one attempt, in milliseconds. */
  timeoutMs: number;
  /** DCV method for new hostnames: `txt` (the tenant publishes a TXT) or `http` (Cloudflare answers once the CNAME is in place). */
  dcvMethod: 'txt' | 'http';
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

/** A CustomHostnameApi over Cloudflare's API v4. */
export function cloudflareHostnames(o: CustomHostnamesOptions): CustomHostnameApi {
  const client = createClient({
    apiToken: o.apiToken, baseURL: o.baseUrl, timeout: o.timeoutMs, maxRetries: 1, resources: [BaseCustomHostnames],
  });
  const api = client.customHostnames;
  const zone_id = o.zoneId;
  const call = async <T>(f: () => Promise<T>, onFailure?: (x: CallFailure) => T | undefined): Promise<T> => {
    try { return await f(); } catch (err) {
      const failure = failureOf(err);
      const handled = onFailure?.(failure);
      if (handled !== undefined) return handled;
      throw refusalOf(failure);
    }
  };
  const find = (hostname: string) => call(async () => {
    const page = await api.list({ zone_id, hostname: { exact: hostname }, per_page: 5 });
    return page.result.find((h) => h.hostname === hostname) ?? null;
  });
  return {
    find,
    async create(hostname) {
      let duplicate = false;
      try {
        const created = await call(() => api.create({ zone_id, hostname, ssl: { method: o.dcvMethod, type: 'dv' } }),
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
    get: (id) => call<CustomHostname | null>(() => api.get(id, { zone_id }), (f) => (isNotFound(f) ? null : undefined)),
    remove: (id) => call(async () => { await api.delete(id, { zone_id }); return true; }, (f) => (isNotFound(f) ? false : undefined)),
  };
}
