/**
 * The audit log: appended through `audit_append()` (one statement, serialised in Postgres),
 * listed with filters, verified end to end in pages.
 */
import { db, type Sql } from './db.js';
import { GENESIS, verifyChain, type AuditRow, type ChainState } from './audit-chain.js';

export interface AuditEvent {
  actor: string;
  action: string;
  tenantId?: string | null;
  requestId?: string | null;
  detail?: Record<string, unknown>;
}

/** Appends one entry; returns its sequence number. */
export async function appendAudit(sql: Sql, e: AuditEvent): Promise<number> {
  const rows = await db(() => sql.query('SELECT audit_append($1, $2, $3::uuid, $4, $5::jsonb) AS seq',
    [e.actor, e.action, e.tenantId ?? null, e.requestId ?? null, JSON.stringify(e.detail ?? {})])) as { seq: string }[];
  return Number(rows[0]!.seq);
}

export interface AuditFilter { tenant?: string; action?: string; actor?: string; since?: string; until?: string; limit: number; cursor?: number }

/** Newest first; `nextCursor` continues below the last seq returned. */
export async function listAudit(sql: Sql, f: AuditFilter) {
  const rows = await db(() => sql.query(
    `SELECT seq, at, actor, action, tenant_id, request_id, entry, hash FROM audit_log
      WHERE ($1::uuid IS NULL OR tenant_id = $1::uuid) AND ($2::text IS NULL OR action = $2 OR action LIKE $2 || '.%')
        AND ($3::text IS NULL OR actor = $3) AND ($4::timestamptz IS NULL OR at >= $4) AND ($5::timestamptz IS NULL OR at < $5)
        AND ($6::bigint IS NULL OR seq < $6) ORDER BY seq DESC LIMIT $7`,
    [f.tenant ?? null, f.action ?? null, f.actor ?? null, f.since ?? null, f.until ?? null, f.cursor ?? null, f.limit + 1])) as (AuditRow & { seq: string | number })[];
  const entries = rows.slice(0, f.limit).map((r) => ({
    seq: Number(r.seq), at: new Date(r.at).toISOString(), actor: r.actor, action: r.action, tenantId: r.tenant_id,
    requestId: r.request_id, detail: ((JSON.parse(r.entry) as { detail?: Record<string, unknown> }).detail) ?? {}, hash: r.hash,
  }));
  return { entries, nextCursor: rows.length > f.limit ? entries[entries.length - 1]!.seq : null };
}

const PAGE = 2000;

/** Walks the whole chain; reports the head or the first broken entry. */
export async function verifyAudit(sql: Sql) {
  let head: ChainState = GENESIS;
  let checked = 0;
  for (;;) {
    const rows = (await db(() => sql.query(
      `SELECT seq, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at, actor, action, tenant_id, request_id, entry, prev_hash, hash
         FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2`, [head.seq, PAGE])) as (AuditRow & { seq: string | number })[])
      .map((r) => ({ ...r, seq: Number(r.seq) }));
    const r = await verifyChain(rows, head);
    if ('brokenAt' in r) return { ok: false, checked: checked + rows.findIndex((x) => x.seq >= r.brokenAt), head: null, brokenAt: r.brokenAt, reason: r.reason };
    checked += rows.length;
    head = r.head;
    if (rows.length < PAGE) break;
  }
  return { ok: true, checked, head: head.seq === 0 ? null : head, brokenAt: null, reason: null };
}
