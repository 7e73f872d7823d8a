/** Writes a tenant's monthly usage totals to the control Postgres, idempotently (see migration 0002). */
import { neon } from '@neondatabase/serverless';

const UPSERT = `INSERT INTO tenant_usage (tenant_id, month, requests, flush_seq, updated_at) VALUES ($1, $2, $3, $4, now())
ON CONFLICT (tenant_id, month) DO UPDATE SET requests = EXCLUDED.requests, flush_seq = EXCLUDED.flush_seq, updated_at = now()
WHERE tenant_usage.flush_seq < EXCLUDED.flush_seq`;

/** Stores absolute `totals` (month → units) for `tenantId` under flush sequence `seq`, in one round trip. */
export async function writeUsage(url: string, tenantId: string, seq: number, totals: [string, number][]): Promise<void> {
  if (totals.length === 0) return;
  const sql = neon(url);
  await sql.transaction(totals.map(([month, n]) => sql.query(UPSERT, [tenantId, month, n, seq])));
}
