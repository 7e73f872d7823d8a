/**
 * Writes a TenantGuard's monthly usage to the control Postgres (`usage_flushes`, migration 0004):
 * one row per tenant, month and source (one source per object state), holding the absolute
 * total, replaced only by a higher flush sequence: retries, replays and restarts never count twice.
 */
import { neon } from '@neondatabase/serverless';
import type { MonthTotal } from './guard-flush.js';

// Bandwidth (request_bytes, response_bytes: migration 0009) rides on the same row and sequence.
const UPSERT = `INSERT INTO usage_flushes (tenant_id, month, source, requests, request_bytes, response_bytes, flush_seq, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, now())
ON CONFLICT (tenant_id, month, source) DO UPDATE SET requests = EXCLUDED.requests, request_bytes = EXCLUDED.request_bytes,
  response_bytes = EXCLUDED.response_bytes, flush_seq = EXCLUDED.flush_seq, updated_at = now()
WHERE usage_flushes.flush_seq < EXCLUDED.flush_seq`;
const EXISTS = 'SELECT EXISTS (SELECT 1 FROM tenants WHERE id = $1) AS exists';

/**
 * Stores absolute `totals` (month → units, request bytes, response bytes) of `source` for `tenantId` under flush sequence `seq`
 * and reads whether the tenant still exists, in one transaction (one round trip). Gives up after
 * `timeoutMs`: a hung control database must not hold the object's alarm forever.
 */
export async function writeUsage(
  url: string, tenantId: string, source: string, seq: number, totals: MonthTotal[], timeoutMs = 5_000,
): Promise<{ tenantExists: boolean }> {
  const sql = neon(url);
  const results = await sql.transaction(
    [...totals.map(([month, n, q, r]) => sql.query(UPSERT, [tenantId, month, source, n, q ?? 0, r ?? 0, seq])), sql.query(EXISTS, [tenantId])],
    { fetchOptions: { signal: AbortSignal.timeout(timeoutMs) } },
  );
  const last = results.at(-1) as { exists: boolean }[];
  return { tenantExists: last[0]?.exists === true };
}
