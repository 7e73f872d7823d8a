/**
 * The control database over Neon's HTTP protocol: one round trip per query or per batch
 * transaction. Unique violations become the API's 409 codes by constraint name; everything else
 * goes through the router's mapping (503 when unreachable, never driver text in a response).
 */
import { neon, type NeonQueryFunction, type NeonQueryPromise } from '@neondatabase/serverless';
import { toAppError } from '../data/db-errors.js';
import { AppError, type ErrorCode } from '../errors.js';

export type Sql = NeonQueryFunction<false, false>;
/** A query not run yet: awaited alone, or one of a `transaction([...])` batch. */
export type Statement = NeonQueryPromise<false, false>;

/**
 * An HTTP query function for the control database at `url`; every call is aborted after
 * `timeoutMs`. The driver spreads `fetchOptions` into each fetch, so the getter makes a fresh
 * deadline per call (one signal made here would expire once, for every later query too).
 */
export const controlSql = (url: string, timeoutMs = 10_000): Sql => neon(url, {
  fetchOptions: { get signal() { return AbortSignal.timeout(timeoutMs); } },
});

const CONFLICTS: Record<string, [ErrorCode, string]> = {
  tenants_slug_key: ['TENANT_EXISTS', 'a tenant with this slug exists'],
  tenant_domains_pkey: ['DOMAIN_TAKEN', 'this domain belongs to a tenant already'],
  tenant_jwt_issuer_key: ['ISSUER_TAKEN', 'this issuer belongs to another tenant'],
  tiers_pkey: ['TEMPLATE_EXISTS', 'a template with this name exists'],
  tenants_tier_fkey: ['TEMPLATE_IN_USE', 'tenants use this template'],
};

/** Maps a database error to the API's refusal. */
export function dbError(err: unknown): AppError {
  const e = err as { code?: string; constraint?: string };
  if ((e.code === '23505' || e.code === '23503') && e.constraint && CONFLICTS[e.constraint]) {
    const [code, message] = CONFLICTS[e.constraint]!;
    return new AppError(409, code, message);
  }
  return toAppError(err);
}

/** Runs `fn`, turning database errors into refusals. */
export async function db<T>(fn: () => Promise<T>): Promise<T> {
  try { return await fn(); } catch (err) { throw dbError(err); }
}
