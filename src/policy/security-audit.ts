/**
 * Security refusals at the edge that an operator must be able to find later (a token of one
 * tenant presented on another, a tenant served outside its residency) are appended to the control
 * plane's hash-chained audit log through `audit_append()`, the only write the router's control
 * role may make there besides usage. In the background, and at most once a minute per tenant,
 * code and client address in an isolate: a flood of refusals costs the database one row a minute.
 */
import { neon } from '@neondatabase/serverless';
import { TtlCache } from '../cache/ttl-cache.js';

export interface SecurityEvent { code: string; tenantId: string | null; requestId: string; clientIp: string | null; host: string | null }

export interface SecurityAuditSink {
  /** The append in flight, or null when an identical event was recorded within the minute. */
  record(e: SecurityEvent): Promise<void> | null;
}

/** Appends refusals to the audit log at `controlUrl`, deduplicated per isolate. */
export function controlAuditSink(controlUrl: string, dedupeMs = 60_000): SecurityAuditSink {
  const sql = neon(controlUrl);
  const seen = new TtlCache<true>(5_000);
  return {
    record(e) {
      const key = `${e.tenantId}:${e.code}:${e.clientIp}`;
      if (seen.get(key)) return null;
      seen.set(key, true, dedupeMs);
      return sql.query('SELECT audit_append($1, $2, $3::uuid, $4, $5::jsonb)', [
        `edge:${e.clientIp ?? 'unknown'}`, `edge.${e.code.toLowerCase()}`, e.tenantId, e.requestId,
        JSON.stringify({ code: e.code, host: e.host }),
      ]).then(() => undefined, (err) => {
        seen.delete(key);
        console.warn(JSON.stringify({ level: 'warn', msg: 'security audit append failed', requestId: e.requestId, error: String(err) }));
      });
    },
  };
}

/** The refusals that are audited. */
export const AUDITED_REFUSALS: ReadonlySet<string> = new Set(['TENANT_MISMATCH', 'RESIDENCY_VIOLATION']);
