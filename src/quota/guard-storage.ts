/**
 * The TenantGuard's SQLite storage: its whole state as one JSON row in `meta`, written before
 * each answer leaves (the output gate holds the answer until the write is durable).
 *
 * Objects written before this format (tables `usage` and `leases`, meta rows `tenant`, `bucket`,
 * `seq`) are converted once on load. Their flushes went to the row that migration 0004 copied
 * as source 'legacy', so they keep flushing as 'legacy' with their sequence: absolute totals
 * continue that row instead of counting the month twice.
 */
import { freshState, type GuardState } from './guard-state.js';
import type { BucketState } from './token-bucket.js';

const tableExists = (sql: SqlStorage, name: string): boolean =>
  [...sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", name)].length > 0;

/** The stored state, or null when the object stores nothing. */
export function loadState(sql: SqlStorage): GuardState | null {
  if (!tableExists(sql, 'meta')) return null;
  const meta = new Map([...sql.exec<{ k: string; v: string }>('SELECT k, v FROM meta')].map((r) => [r.k, r.v]));
  const stored = meta.get('state');
  if (stored) return JSON.parse(stored) as GuardState;
  return convertLegacy(sql, meta);
}

/** Writes `s` (creating the table after a deleteAll). */
export function saveState(sql: SqlStorage, s: GuardState): void {
  sql.exec('CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)');
  sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('state', ?)", JSON.stringify(s));
}

function convertLegacy(sql: SqlStorage, meta: Map<string, string>): GuardState | null {
  const hasUsage = tableExists(sql, 'usage');
  if (!meta.has('tenant') && !hasUsage) return null;
  const s = freshState('legacy');
  s.tenantId = meta.get('tenant') ?? null;
  s.bucket = meta.has('bucket') ? (JSON.parse(meta.get('bucket')!) as BucketState) : null;
  s.seq = Number(meta.get('seq') ?? 0);
  if (hasUsage) {
    for (const r of sql.exec<{ month: string; admitted: number; flushed: number }>('SELECT month, admitted, flushed FROM usage')) {
      s.usage[r.month] = { admitted: r.admitted, flushed: r.flushed };
    }
  }
  if (tableExists(sql, 'leases')) {
    // Old per-request and batch leases keep their slots until they expire.
    for (const r of sql.exec<{ id: string; expires_at: number; slots: number }>('SELECT id, expires_at, slots FROM leases')) {
      s.holders[`lease:${r.id}`] = { inflight: r.slots, headroom: 0, until: 0, grantId: null, expiresAt: r.expires_at };
    }
  }
  saveState(sql, s);
  sql.exec('DROP TABLE IF EXISTS usage');
  sql.exec('DROP TABLE IF EXISTS leases');
  sql.exec("DELETE FROM meta WHERE k <> 'state'");
  return s;
}
