/**
 * Pure verification of the audit log's hash chain. Entry n's hash is
 * sha256(hash(n-1) || entry(n)) over the canonical entry text written by `audit_append()`; the
 * filterable columns must repeat that text. An edited entry breaks its own hash, an edited column
 * disagrees with its entry, a deleted entry leaves a gap in `seq` and a broken `prev_hash`.
 */
import { sha256 } from '../migrations/runner.js';

export interface AuditRow {
  seq: number; at: string; actor: string; action: string; tenant_id: string | null; request_id: string | null;
  entry: string; prev_hash: string; hash: string;
}

export interface ChainState { seq: number; hash: string }

export const GENESIS: ChainState = { seq: 0, hash: '0'.repeat(64) };

/** Checks `rows` (ascending seq) continuing from `from`; returns the new head or the first break. */
export async function verifyChain(rows: AuditRow[], from: ChainState): Promise<{ head: ChainState } | { brokenAt: number; reason: string }> {
  let head = from;
  for (const r of rows) {
    if (r.seq !== head.seq + 1) return { brokenAt: head.seq + 1, reason: `entry ${head.seq + 1} is missing` };
    if (r.prev_hash !== head.hash) return { brokenAt: r.seq, reason: 'previous hash does not match the chain' };
    if ((await sha256(r.prev_hash + r.entry)) !== r.hash) return { brokenAt: r.seq, reason: 'entry does not match its hash' };
    let e: Record<string, unknown>;
    try { e = JSON.parse(r.entry) as Record<string, unknown>; } catch { return { brokenAt: r.seq, reason: 'entry is not JSON' }; }
    const columnsAgree = e.seq === r.seq && e.actor === r.actor && e.action === r.action
      && (e.tenantId ?? null) === r.tenant_id && (e.requestId ?? null) === r.request_id && sameInstant(e.at, r.at);
    if (!columnsAgree) return { brokenAt: r.seq, reason: 'columns differ from the hashed entry' };
    head = { seq: r.seq, hash: r.hash };
  }
  return { head };
}

function sameInstant(a: unknown, b: string): boolean {
  if (typeof a !== 'string') return false;
  // Postgres keeps microseconds; JavaScript dates keep milliseconds: compare the text to the microsecond.
  return normalize(a) === normalize(b);
}

function normalize(ts: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}(?::?\d{2})?)$/.exec(ts);
  if (!m) return ts;
  if (m[4] !== 'Z' && !/^[+-]00(:?00)?$/.test(m[4]!)) return ts;
  return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(6, '0')}Z`;
}
