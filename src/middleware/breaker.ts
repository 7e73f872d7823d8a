import { createMiddleware } from 'hono/factory';
import { AppError } from '../errors.js';
import { breakerLimits, breakerTarget } from '../breaker/breaker-gate.js';
import type { Permit } from '../breaker/circuit.js';
import { isTargetFailure, staleRecord } from '../data/db-errors.js';
import type { LookupKey } from '../tenancy/tenant.js';
import type { TenantDb } from '../data/tenant-db.js';
import type { RequestContextVars } from './request-context.js';
import type { ServicesVars } from './services.js';
import type { TenantVars } from './resolve-tenant.js';
import type { ObserveVars } from './observe.js';

export interface DbVars { db: TenantDb }

/**
 * Guards the tenant's database target with its circuit breaker and hands the handler a database
 * handle that reports how the target answered. An open circuit is a 503 CIRCUIT_OPEN with
 * Retry-After, answered before anything touches the database. Only the target's unavailability
 * counts as a failure: a constraint violation, a statement timeout or a lock wait of the tenant's
 * own is the tenant's problem, not the database's (db-errors.ts).
 */
export const breaker = () =>
  createMiddleware<{ Variables: RequestContextVars & ServicesVars & TenantVars & DbVars & Partial<ObserveVars> }>(async function breaker(c, next) {
    const tenant = c.get('tenant');
    const services = c.get('services');
    const target = breakerTarget(tenant);
    const limits = breakerLimits(tenant.tier);
    const record = c.get('record');
    let permit: Permit;
    try {
      permit = await services.breakers.permit(target, limits);
      if (record) record.breaker = !permit.allowed ? 'open' : permit.probe ? 'probe' : 'closed';
    } catch (err) {
      if (record) record.breaker = 'unreachable';
      // The breaker protects the database; when it cannot be asked, the database still can.
      console.warn(JSON.stringify({ level: 'warn', msg: 'breaker unreachable', metric: 'breaker_fail_open', target, error: String(err).slice(0, 200) }));
      permit = { allowed: true, probe: false };
    }
    if (!permit.allowed) {
      const wait = Math.max(1, Math.ceil((permit.retryAt - Date.now()) / 1000));
      throw new AppError(503, 'CIRCUIT_OPEN', 'tenant database is unavailable; try again later', { 'Retry-After': String(wait) });
    }
    const probe = permit.probe;
    const db = services.data.for(tenant, { traceId: record?.trace.traceId });
    let reported = false;
    const report = (ok: boolean) => {
      if (reported) return;
      reported = true;
      // A success outside a probe changes nothing (BreakerGate.report makes no call for it).
      if (ok && !probe) return;
      c.executionCtx.waitUntil(services.breakers.report(target, ok, probe, limits).catch(() => {}));
    };
    // Each call is one transaction, so one report and one database call in the access log.
    const measured = async <R>(call: () => Promise<R>): Promise<R> => {
      const t0 = performance.now();
      try {
        const out = await call();
        report(true);
        return out;
      } catch (err) {
        // Only the target's unavailability counts; a tenant's own timeouts and lock waits do not.
        report(!isTargetFailure(err));
        // The tenant moved (or its credentials changed) since this isolate cached it: drop the
        // record, so the retry finds where it went.
        if (staleRecord(err)) {
          const key: LookupKey | undefined = c.get('lookupKey');
          if (key) services.directory.forget(key);
          services.directory.forget({ kind: 'id', value: tenant.id });
        }
        throw err;
      } finally {
        if (record) { record.dbCalls++; record.dbMs += performance.now() - t0; }
      }
    };
    c.set('db', {
      query: (text, params) => measured(() => db.query(text, params)),
      batch: (statements, options) => measured(() => db.batch(statements, options)),
      transaction: (fn, options) => measured(() => db.transaction(fn, options)),
    });
    await next();
  });
