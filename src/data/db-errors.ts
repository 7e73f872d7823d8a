/**
 * Database failures as refusals. Nothing of the driver's message, SQL or connection string
 * reaches the client: an unreachable or timed-out database is 503 UPSTREAM_UNAVAILABLE, a fenced
 * (deleted) tenant 404, a constraint the validators missed 400/409, anything else a bare 500
 * that is logged.
 */
import { AppError } from '../errors.js';
import { SQLSTATE_DEADLINE_PASSED, SQLSTATE_FENCED, SQLSTATE_ISOLATION_CHANGED, SQLSTATE_STALE_PLACEMENT, SQLSTATE_UNSAFE_ROLE } from './router-schema.js';

/**
 * A statement the handle will not send (statement-guard.ts) or a handle used wrongly: a bug in the
 * application's code, not the caller's request, so a 500 whose reason goes to the log only.
 */
export class StatementRefused extends AppError {
  constructor(readonly reason: string) {
    super(500, 'INTERNAL', 'internal error');
    console.error(JSON.stringify({ level: 'error', msg: 'tenant statement refused', reason }));
  }
}

/**
 * A 503 caused by the tenant's own statements, not by the database target: its statement ran out
 * of time, waited too long for a lock, sat idle in its transaction, or hit its role's own
 * connection limit. The database answered, so the target's circuit breaker, which every tenant of
 * a shared region shares, does not count it as a failure (one tenant's slow queries must not open
 * the circuit for its neighbours).
 */
export class OwnStatementFailure extends AppError {
  constructor(msg = 'tenant database statement timed out') {
    super(503, 'UPSTREAM_UNAVAILABLE', msg, { 'Retry-After': '5' });
  }
}

/**
 * The database refused this router's record of the tenant as older than its placement (TR004): the
 * tenant moved and this isolate's cache has not caught up. 503 with Retry-After 1; the caller drops
 * the record from its L1, so the retry finds the new placement.
 */
export class StalePlacement extends AppError {
  constructor() {
    super(503, 'TENANT_MIGRATING', 'tenant data has moved; retry', { 'Retry-After': '1' });
  }
}

/**
 * The tenant's database refused this router's credentials (SQLSTATE class 28): the role was dropped
 * (the tenant moved out of its database, or was deleted) or its password rotated since this isolate
 * cached the record. 503 UPSTREAM_UNAVAILABLE, counted by the breaker (a tenant whose credentials
 * stay wrong opens its circuit rather than reloading its record on every request), and the caller
 * drops the record from its L1 so the next request reads the current one.
 */
export class CredentialsRefused extends AppError {
  constructor() {
    super(503, 'UPSTREAM_UNAVAILABLE', 'tenant database is unavailable', { 'Retry-After': '5' });
  }
}

/**
 * The tenant's own database does not exist (3D000): a stale record, like TR004, but also counted
 * by the breaker, so that a record the control plane still holds (a database dropped out of band)
 * opens the tenant's circuit instead of having every request reload it.
 */
export class DatabaseGone extends StalePlacement {}

/** Whether the isolate's record of the tenant may be stale, by what its database answered. */
export const staleRecord = (err: unknown): boolean => err instanceof StalePlacement || err instanceof CredentialsRefused;

/** Whether `err` says the database target itself is unavailable (what its circuit breaker counts). */
export const isTargetFailure = (err: unknown): boolean =>
  err instanceof DatabaseGone || (err instanceof AppError && err.code === 'UPSTREAM_UNAVAILABLE' && !(err instanceof OwnStatementFailure));

/**
 * Maps an error from `@neondatabase/serverless` to an AppError. `readOnly`: the caller asked for a
 * read-only transaction itself, so a write refused as read-only is its own bug, not a move's fence.
 */
export function toAppError(err: unknown, ctx: { readOnly?: boolean } = {}): AppError {
  if (err instanceof AppError) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    // router.enter found the tenant fenced: its storage is being or has been deleted.
    if (code === SQLSTATE_FENCED) return new AppError(404, 'TENANT_NOT_FOUND', 'tenant no longer exists');
    // router.enter refused a transaction that reached the database after its request's deadline:
    // the target was late, which its breaker counts.
    if (code === SQLSTATE_DEADLINE_PASSED) return unavailable();
    // This router's record of the tenant predates a move: its cache is stale for a few seconds.
    // The database answered; the client retries and is served from the new placement.
    if (code === SQLSTATE_STALE_PLACEMENT) return new StalePlacement();
    // router.verify: one of the application's statements changed the tenant setting, the role or
    // the search path. A bug (or worse) in the application, never the client's; rolled back.
    if (code === SQLSTATE_ISOLATION_CHANGED) {
      log('a tenant statement changed the isolation settings', code, err);
      return new AppError(500, 'ISOLATION_CHANGED', 'a statement changed the tenant isolation settings; nothing was kept');
    }
    if (code === SQLSTATE_UNSAFE_ROLE) {
      log('tenant database role is not safe to serve', code, err);
      return unavailable('tenant database role is not safe to serve');
    }
    // A write in a transaction router.enter made READ ONLY: the tenant's data is moving (its
    // writes are fenced for the seconds of the final copy, or this is the source it left).
    // The database answered: not a breaker failure.
    if (code === '25006' && !ctx.readOnly) return new AppError(503, 'TENANT_MIGRATING', 'tenant data is moving; writes are paused', { 'Retry-After': '5' });
    // A serialization failure or a deadlock: the transaction lost a race; the client may retry.
    if (code === '40001' || code === '40P01') return new AppError(409, 'BAD_REQUEST', 'conflicts with a concurrent change; retry', { 'Retry-After': '1' });
    if (code === '23505') return new AppError(409, 'BAD_REQUEST', 'conflicts with an existing record');
    if (code.startsWith('22') || code.startsWith('23')) return new AppError(400, 'BAD_REQUEST', 'value rejected by the database');
    // The tenant's own doing: its statement timeout (57014), a lock wait that ran out of that
    // time (55P03), its session idle in its transaction too long (25P03), its role's connection
    // limit (53300 "too many connections for role"). Not a failure of the target.
    if (ownFailure(code, message(err))) return new OwnStatementFailure();
    // The rest of 57 (admin shutdown, cannot connect now, and the 57014 by which a router schema
    // installed before TR003 refused a late request), 08 (connection), the server's own connection
    // limit: the target is unavailable.
    if (code.startsWith('08') || code.startsWith('57') || code === '55P03' || code === '25P03' || code === '53300' || code === '53400') return unavailable();
    // The tenant's own database is gone: the tenant moved out of it (a move drops its source) or
    // was deleted, and this isolate still held the old record. Stale, like TR004: the caller
    // drops the record, and the retry finds where the tenant went, or that it no longer exists.
    if (code === '3D000') return new DatabaseGone();
    // Credentials refused (a dropped role of a just-deleted tenant, rotated credentials): not the
    // client's fault, and not a bug in the router.
    if (code.startsWith('28')) {
      log('database refused the connection', code, err);
      return new CredentialsRefused();
    }
    console.error(JSON.stringify({ level: 'error', msg: 'database error', code }));
    return new AppError(500, 'INTERNAL', 'internal error');
  }
  // No SQLSTATE: the endpoint or the network failed before PostgreSQL answered, or the request's
  // time ran out (the driver's fetch was aborted).
  console.error(JSON.stringify({ level: 'error', msg: 'database unreachable', error: message(err) }));
  return unavailable();
}

/** A refusal of the tenant's statements that says nothing about the target's health. */
function ownFailure(code: string, msg: string): boolean {
  // A router schema older than TR003 raised 57014 for a late request; tell it by its text until
  // every database's schema is re-installed (the bootstrap does it on its next run).
  if (code === '57014') return !msg.includes('request deadline passed');
  if (code === '55P03' || code === '25P03') return true;
  return code === '53300' && msg.includes('for role');
}

function unavailable(msg = 'tenant database is unavailable'): AppError {
  return new AppError(503, 'UPSTREAM_UNAVAILABLE', msg, { 'Retry-After': '5' });
}

function log(msg: string, code: string, err: unknown): void {
  console.error(JSON.stringify({ level: 'error', msg, code, error: message(err) }));
}

function message(err: unknown): string {
  return String((err as Error)?.message ?? err).slice(0, 200);
}
