import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { AppError } from '../errors.js';
import type { AdmitResult } from '../quota/guard-types.js';
import type { RequestContextVars } from './request-context.js';
import type { ServicesVars } from './services.js';
import type { TenantVars } from './resolve-tenant.js';
import type { ObserveVars } from './observe.js';

export interface QuotaOptions {
  /** Units a request costs (route weight); 1 when omitted. */
  weight?: (c: Context) => number;
  /** The route's fail mode when the guard cannot be asked; undefined (or no function): the tier's. */
  failMode?: (c: Context) => 'open' | 'closed' | undefined;
}

const MESSAGES = {
  RATE_LIMITED: 'rate limit exceeded',
  QUOTA_EXCEEDED: 'monthly request quota exhausted',
  CONCURRENCY_LIMIT: 'too many concurrent requests',
} as const;

const seconds = (ms: number) => String(Math.max(1, Math.ceil(ms / 1000)));

/**
 * Admits the request against the tenant's TenantGuard (rate, monthly quota, concurrency) and
 * releases its concurrency slot once the response is done, without delaying it: the release
 * promise (which may include the deferred settle of a lease) goes to waitUntil. When the guard
 * cannot be reached, the route's fail mode (when the app set one) or else the tier's decides:
 * `open` serves and says so in a header and the log, `closed` refuses with 503.
 */
export const quota = (opts: QuotaOptions = {}) => {
  const weight = opts.weight ?? (() => 1);
  return createMiddleware<{ Variables: RequestContextVars & ServicesVars & TenantVars & Partial<ObserveVars> }>(async function quota(c, next) {
    const tenant = c.get('tenant');
    const services = c.get('services');
    const record = c.get('record');
    const cost = weight(c);
    if (!Number.isInteger(cost) || cost < 1) throw new Error(`route weight must be a positive integer, got ${cost}`);
    let result: AdmitResult;
    try {
      result = await services.limiter.admit(tenant, cost);
    } catch (err) {
      const mode = opts.failMode?.(c) ?? tenant.tier.fail_mode;
      if (record) record.guard = mode === 'closed' ? 'fail-closed' : 'fail-open';
      console.warn(JSON.stringify({ level: 'warn', msg: 'quota guard unreachable', metric: `quota_fail_${mode}`, requestId: c.get('requestId'), tenant: tenant.id, error: String(err).slice(0, 200) }));
      // The limiter retries in the background to report the grant whose answer was lost (so the
      // object refunds it): keep the isolate alive for that.
      const pending = services.limiter.background?.(tenant);
      if (pending) c.executionCtx.waitUntil(pending.catch(() => {}));
      if (mode === 'closed') throw new AppError(503, 'UPSTREAM_UNAVAILABLE', 'quota service unavailable', { 'Retry-After': '1' });
      c.header('X-Quota-Mode', 'fail-open');
      await next();
      return;
    }
    c.header('RateLimit-Limit', String(result.limit));
    c.header('RateLimit-Remaining', String(result.remaining));
    c.header('RateLimit-Reset', seconds(result.resetMs));
    if (record) record.guard = result.ok ? 'admitted' : `refused:${result.reason ?? 'RATE_LIMITED'}`;
    if (!result.ok) {
      const reason = result.reason ?? 'RATE_LIMITED';
      throw new AppError(429, reason, MESSAGES[reason], { 'Retry-After': seconds(result.retryAfterMs ?? 1000) });
    }
    // Released exactly once: when the response is done, or when the client hangs up. A cancelled
    // request never resumes from its awaits (its `finally` does not run), so without the abort
    // listener every disconnect would keep a concurrency slot until the tenant is refused
    // CONCURRENCY_LIMIT with nothing running (needs the `enable_request_signal` flag).
    const leaseId = result.leaseId;
    let released = false;
    const release = (hungUp: boolean) => {
      if (released || !leaseId) return;
      released = true;
      // Hung up: only the isolate's count drops (synchronously); a call started from a request
      // being cancelled would die with it, so the report goes with the lane's next call.
      if (hungUp && services.limiter.releaseQuietly) { services.limiter.releaseQuietly(tenant, leaseId); return; }
      c.executionCtx.waitUntil(services.limiter.release(tenant, leaseId).catch(() => {}));
    };
    const onAbort = () => release(true);
    const signal = c.req.raw.signal as AbortSignal | undefined;
    signal?.addEventListener('abort', onAbort, { once: true });
    // Cancelled while it waited for admission: the listener came too late to hear it.
    if (signal?.aborted) release(true);
    try {
      await next();
    } finally {
      signal?.removeEventListener('abort', onAbort);
      release(false);
    }
  });
};
