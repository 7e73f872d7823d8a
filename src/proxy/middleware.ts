import { createMiddleware } from 'hono/factory';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AppError } from '../errors.js';
import type { Permit } from '../breaker/circuit.js';
import type { RequestContextVars } from '../middleware/request-context.js';
import type { ServicesVars } from '../middleware/services.js';
import type { TenantVars } from '../middleware/resolve-tenant.js';
import type { AuthVars } from '../middleware/authenticate.js';
import type { ObserveVars } from '../middleware/observe.js';
import { CONTEXT_HEADER } from './context-signer.js';
import { forward } from './forward.js';
import { badPath, requestHeaders, responseHeaders } from './headers.js';
import { chooseOrigin, isProxied, upstreamUrl } from './routing.js';

const unavailable = (message: string, retryAfter = '5') => new AppError(503, 'UPSTREAM_UNAVAILABLE', message, { 'Retry-After': retryAfter });
const warn = (msg: string, fields: Record<string, unknown>) => console.warn(JSON.stringify({ level: 'warn', msg, ...fields }));

/**
 * Proxy mode: a request under a proxied prefix (the tenant's own, else PROXY_PREFIXES) is
 * forwarded to the tenant's origin instead of the built-in app, with a signed tenant context
 * (`X-Tenant-Context`, src/proxy/context-signer.ts) and without the caller's Authorization or any
 * `X-Tenant*` header. Residency fails closed (451 when no origin satisfies it). Each origin has
 * its circuit breaker (`origin:<origin>`): open → 503 CIRCUIT_OPEN with Retry-After before any
 * byte is sent; an origin that cannot be reached or does not answer in time is 503
 * UPSTREAM_UNAVAILABLE and a breaker failure. Any HTTP answer of the origin, 5xx included, is its
 * own and passes through. Other paths go on to the app.
 */
export const proxy = () =>
  createMiddleware<{ Variables: RequestContextVars & ServicesVars & TenantVars & AuthVars & Partial<ObserveVars> }>(async function proxy(c, next) {
    const tenant = c.get('tenant');
    const services = c.get('services');
    const p = services.proxy;
    if (!isProxied(c.req.path, tenant, p.prefixes)) return next();
    const requestId = c.get('requestId');
    if (!p.signer) {
      warn('proxy not configured', { requestId, tenant: tenant.id });
      throw unavailable('proxy mode is not configured on this router', '60');
    }
    // The path as the client wrote it (the URL parser already resolved literal dot segments).
    const rawPath = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*([^?#]*)/i.exec(c.req.url)?.[1] ?? c.req.path;
    const pathProblem = badPath(rawPath);
    if (pathProblem) throw new AppError(400, 'INVALID_PATH', `${pathProblem}: refused before forwarding`);
    const choice = chooseOrigin(tenant, p.origins, p.originPolicy);
    if (!choice.ok) {
      warn(choice.code === 'RESIDENCY_VIOLATION' ? 'residency violation' : 'no origin', { requestId, tenant: tenant.id, residency: tenant.residency });
      throw choice.status === 451 ? new AppError(451, choice.code, choice.message) : unavailable(choice.message, '60');
    }
    const { target } = choice.origin;
    const send = p.sender(target);
    if (!send) {
      warn('origin binding missing', { requestId, tenant: tenant.id, origin: target.id });
      throw unavailable('tenant origin is misconfigured', '60');
    }

    const key = `origin:${target.id}`;
    const record = c.get('record');
    let permit: Permit;
    try {
      permit = await services.breakers.permit(key, p.breaker);
    } catch (err) {
      // As for databases: a breaker that cannot be asked does not stop traffic to a healthy origin.
      warn('breaker unreachable', { metric: 'breaker_fail_open', target: key, error: String(err).slice(0, 200) });
      permit = { allowed: true, probe: false };
    }
    if (!permit.allowed) {
      if (record) record.breaker = 'open';
      throw new AppError(503, 'CIRCUIT_OPEN', 'tenant origin is unavailable; try again later', { 'Retry-After': String(Math.max(1, Math.ceil((permit.retryAt - Date.now()) / 1000))) });
    }
    const report = (ok: boolean) => c.executionCtx.waitUntil(services.breakers.report(key, ok, permit.allowed && permit.probe, p.breaker).catch(() => {}));

    const { identity } = c.var;
    const headers = requestHeaders(c.req.raw.headers);
    headers.set(CONTEXT_HEADER, await p.signer.sign({
      tid: tenant.id, slug: tenant.slug, tier: tenant.tier.name, region: tenant.placement?.region ?? tenant.region,
      sub: identity.subject, rid: requestId,
    }, target.id));
    const url = new URL(c.req.url);
    headers.set('X-Request-Id', requestId);
    headers.set('X-Forwarded-Host', c.var.host);
    headers.set('X-Forwarded-Proto', url.protocol.slice(0, -1));
    if (c.var.runtime.clientIp) headers.set('X-Forwarded-For', c.var.runtime.clientIp);

    const r = await forward(send, upstreamUrl(target, url), { method: c.req.method, headers, body: c.req.raw.body }, p.timeoutMs);
    if (!r.ok && r.reason === 'client') {
      // The client's body failed, not the origin: nothing for the breaker; the body limit's own 413 stands.
      if (r.cause instanceof AppError) throw r.cause;
      throw new AppError(400, 'BAD_REQUEST', 'the request body ended before it was complete');
    }
    report(r.ok);
    if (!r.ok) {
      warn('origin unavailable', { requestId, tenant: tenant.id, origin: target.id, reason: r.reason, error: r.error });
      throw unavailable(r.reason === 'timeout' ? 'tenant origin did not answer in time' : 'tenant origin is unavailable');
    }
    // Through c.body, so the headers earlier steps set (X-Request-Id, X-Tenant, rate limits) stay on the answer.
    const res = r.response;
    return c.body(res.body as ReadableStream, { status: res.status as ContentfulStatusCode, headers: responseHeaders(res.headers, c.var.host) });
  });
