/**
 * The control worker's pipeline steps: services, the host check (the admin API never answers on
 * a tenant's host), admin authentication with its scope, the audit of every call, the body limit
 * and maintenance after writes.
 */
import { createMiddleware } from 'hono/factory';
import { bodyLimit } from 'hono/body-limit';
import type { Context } from 'hono';
import { AppError } from '../errors.js';
import { bearerToken } from '../middleware/resolve-tenant.js';
import { scopeFor } from './admin-auth.js';
import type { AuditNote, ControlAppEnv } from './app-env.js';
import { appendAudit } from './audit.js';
import { recordMetricReads, recordRefusals, runMaintenance } from './maintenance.js';
import { controlServices, forRequest } from './services.js';

/**
 * Builds the isolate's services (a configuration error is a clear 500 naming no secret); the
 * request gets them with its own Cloudflare deadline.
 */
export const controlServicesStep = () => createMiddleware<ControlAppEnv>(async function services(c, next) {
  try {
    c.set('services', forRequest(await controlServices(c.env)));
  } catch (err) {
    console.error(JSON.stringify({ level: 'error', msg: 'configuration', error: String(err) }));
    throw new AppError(500, 'INTERNAL', 'control plane is misconfigured');
  }
  await next();
});

/** 404 for any Host that is not one of CONTROL_HOSTS: a tenant host never reaches the admin API. */
export const controlHost = () => createMiddleware<ControlAppEnv>(async function controlHost(c, next) {
  const host = (c.req.header('host') ?? '').toLowerCase().replace(/:\d+$/, '');
  if (!c.var.services.config.CONTROL_HOSTS.includes(host)) throw new AppError(404, 'NOT_FOUND', 'no such route');
  await next();
});

/** Longest request path an audit entry keeps (the rest is the caller's to choose, and unbounded). */
const PATH_LIMIT = 200;

/**
 * Records the call in the audit log once it is answered. Authenticated calls get one entry each,
 * but metrics reads (a Prometheus scrape every 15 s, the dashboard's live charts), which are only
 * counted into at most one `metrics.reads` summary per window and isolate; calls refused for their
 * credentials are only counted, into at most one `admin.refused` summary per window and isolate
 * (refusals.ts). Summaries are written in the background.
 */
export const auditCalls = () => createMiddleware<ControlAppEnv>(async function auditCalls(c, next) {
  await next();
  const s = c.var.services;
  if (!c.var.admin) {
    const reason = c.error instanceof AppError ? c.error.code : String(c.res.status);
    const summary = s.refusals.note(reason, c.req.header('cf-connecting-ip') ?? null);
    if (summary) background(c, recordRefusals(s, summary, c.var.requestId));
    return;
  }
  const held = s.refusals.due();
  if (held) background(c, recordRefusals(s, held, null));
  const note: AuditNote = c.var.audit ?? { action: `${c.req.method} ${c.req.routePath}` };
  const status = c.res.status;
  if (note.summarized && status !== 401 && status !== 403) {
    // Scraped every few seconds: one entry per window says who read what how often.
    const reads = s.metricReads.note(`${note.action} ${status} by ${c.var.admin.actor}`.slice(0, 120), null);
    if (reads) background(c, recordMetricReads(s, reads, c.var.admin.actor, c.var.requestId));
    return;
  }
  const heldReads = s.metricReads.due();
  if (heldReads) background(c, recordMetricReads(s, heldReads, c.var.admin.actor, null));
  const action = status === 401 || status === 403 ? 'admin.refused' : note.action;
  try {
    await appendAudit(s.sql, {
      actor: c.var.admin.actor, action, tenantId: note.tenantId ?? null, requestId: c.var.requestId,
      detail: { method: c.req.method, path: new URL(c.req.url).pathname.slice(0, PATH_LIMIT), status, ...note.detail },
    });
  } catch (err) {
    // An unaudited change must not look successful: the caller retries, the change is idempotent.
    console.error(JSON.stringify({ level: 'error', msg: 'audit append failed', requestId: c.var.requestId, error: String(err) }));
    if (c.req.method !== 'GET') c.res = c.json({ error: { code: 'UPSTREAM_UNAVAILABLE', message: 'audit log unavailable', requestId: c.var.requestId } }, 503);
  }
});

/** After every authenticated write, runs maintenance in the background (deferred invalidations, due purges). */
export const maintainAfterWrites = () => createMiddleware<ControlAppEnv>(async function maintainAfterWrites(c, next) {
  await next();
  if (c.var.admin && c.req.method !== 'GET' && c.req.method !== 'HEAD') background(c, runMaintenance(c.var.services));
});

/** Bodies over `maxBytes` are refused before any route reads them (413, the error shape). */
export const adminBodyLimit = (maxBytes: number) => bodyLimit({
  maxSize: maxBytes,
  onError: () => { throw new AppError(413, 'PAYLOAD_TOO_LARGE', `request body larger than ${maxBytes} bytes`); },
});

/** Work that must not delay the answer; without an execution context (a unit test) it just runs. */
function background(c: Context<ControlAppEnv>, work: Promise<unknown>): void {
  const settled = work.catch((err) => console.error(JSON.stringify({ level: 'error', msg: 'background work failed', error: String(err).slice(0, 300) })));
  try { c.executionCtx.waitUntil(settled); } catch { /* no execution context: it runs anyway */ }
}

/** Authenticates the admin and checks the scope the method needs. */
export const adminAuth = () => createMiddleware<ControlAppEnv>(async function adminAuth(c, next) {
  const admin = await c.var.services.auth.authenticate(bearerToken(c.req.header('authorization')));
  c.set('admin', admin);
  const need = scopeFor(c.req.method);
  if (!admin.scopes.includes(need) && !admin.scopes.includes('admin:write')) {
    throw new AppError(403, 'FORBIDDEN', `this call needs the ${need} scope`);
  }
  await next();
});

/** Names the audited action of a route. */
export function audit(c: Context<ControlAppEnv>, action: string, tenantId?: string | null, detail?: Record<string, unknown>): void {
  c.set('audit', { action, tenantId: tenantId ?? null, detail });
}

/** Names a read that is audited only in the window's `metrics.reads` summary. */
export function auditSummarized(c: Context<ControlAppEnv>, action: string): void {
  c.set('audit', { action, summarized: true });
}
