/**
 * Alerts in the control database. Opening and resolving are one statement each: the alert row,
 * its webhook delivery (when a webhook is configured) and its audit entry commit together, so an
 * alert is never opened without its entry nor its notification. At most one unresolved alert per
 * deduplication key (a partial unique index): a second open of the same key changes nothing.
 */
import { AppError } from '../errors.js';
import { db, type Sql } from '../control/db.js';
import { decodeCursor, encodeCursor } from '../control/tenant-repo.js';
import type { Remediation } from './remediation.js';
import { keyOf, type Finding, type RuleName, type Scope, type Severity } from './rules.js';

export type AlertState = 'open' | 'acknowledged' | 'resolved';

/** An alert as the API shows it. */
export interface AlertView {
  id: string; rule: RuleName; scope: Scope; tenantId: string | null; region: string | null; severity: Severity; state: AlertState;
  openedAt: string; lastSeenAt: string; resolvedAt: string | null; acknowledgedAt: string | null; acknowledgedBy: string | null;
  occurrences: number; summary: string; detail: Record<string, unknown>; remediation: Remediation | null;
}

/** The actor of the scheduled evaluation's audit entries. */
export const ALERTS_ACTOR = 'system:alerts';

const iso = (v: string | Date | null) => (v === null ? null : new Date(v).toISOString());
const COLUMNS = `id, dedup_key, rule, scope, tenant_id, region, severity, state, summary, detail, remediation, occurrences,
  opened_at, last_seen_at, acknowledged_at, acknowledged_by, resolved_at,
  to_char(opened_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_at`;

type Row = Record<string, any>;

function toView(r: Row): AlertView {
  return {
    id: r.id, rule: r.rule, scope: r.scope, tenantId: r.tenant_id, region: r.region, severity: r.severity, state: r.state,
    openedAt: iso(r.opened_at)!, lastSeenAt: iso(r.last_seen_at)!, resolvedAt: iso(r.resolved_at), acknowledgedAt: iso(r.acknowledged_at),
    acknowledgedBy: r.acknowledged_by, occurrences: Number(r.occurrences), summary: r.summary, detail: r.detail ?? {}, remediation: r.remediation ?? null,
  };
}

export interface AlertFilter { state?: AlertState; tenantId?: string; limit: number; cursor?: string }

/** Newest first; `nextCursor` continues after the last alert returned. */
export async function listAlerts(sql: Sql, f: AlertFilter): Promise<{ alerts: AlertView[]; nextCursor: string | null }> {
  const after = f.cursor === undefined ? null : decodeCursor(f.cursor);
  const rows = await db(() => sql.query(
    `SELECT ${COLUMNS} FROM alerts WHERE ($1::text IS NULL OR state = $1) AND ($2::uuid IS NULL OR tenant_id = $2::uuid)
       AND ($3::timestamptz IS NULL OR (opened_at, id) < ($3::timestamptz, $4::uuid)) ORDER BY opened_at DESC, id DESC LIMIT $5`,
    [f.state ?? null, f.tenantId ?? null, after?.createdAt ?? null, after?.id ?? null, f.limit + 1])) as Row[];
  const page = rows.slice(0, f.limit);
  const last = page.at(-1);
  return { alerts: page.map(toView), nextCursor: rows.length > f.limit && last ? encodeCursor(last.cursor_at, last.id) : null };
}

/** The alert `id`, or 404. */
export async function requireAlert(sql: Sql, id: string): Promise<AlertView> {
  const rows = await db(() => sql.query(`SELECT ${COLUMNS} FROM alerts WHERE id = $1::uuid`, [id])) as Row[];
  if (!rows[0]) throw new AppError(404, 'NOT_FOUND', 'no such alert');
  return toView(rows[0]);
}

/** Every unresolved alert, by deduplication key (what the evaluation compares its findings with). */
export async function unresolvedAlerts(sql: Sql): Promise<Map<string, AlertView>> {
  const rows = await db(() => sql.query(`SELECT ${COLUMNS} FROM alerts WHERE state <> 'resolved' LIMIT 10000`)) as Row[];
  return new Map(rows.map((r) => [r.dedup_key as string, toView(r)]));
}

/** Acknowledges an open alert (idempotent for one already acknowledged); 409 once resolved. */
export async function acknowledge(sql: Sql, id: string, actor: string): Promise<AlertView> {
  const rows = await db(() => sql.query(
    `UPDATE alerts SET state = 'acknowledged', acknowledged_at = now(), acknowledged_by = $2 WHERE id = $1::uuid AND state = 'open' RETURNING ${COLUMNS}`,
    [id, actor.slice(0, 200)])) as Row[];
  if (rows[0]) return toView(rows[0]);
  const a = await requireAlert(sql, id);
  if (a.state === 'resolved') throw new AppError(409, 'INVALID_STATE', 'the alert is resolved');
  return a;
}

/** What opening or resolving also writes: the webhook delivery (null: no webhook configured). */
export interface Notify { webhookId: string; payload: unknown; dueAt: Date }

/** Opens an alert for `f` (nothing when one is unresolved for its key); returns whether it opened. */
export async function openAlert(sql: Sql, id: string, f: Finding, severity: Severity, remediation: Remediation | null, at: Date, notify: Notify | null): Promise<boolean> {
  const rows = await db(() => sql.query(
    `WITH a AS (
       INSERT INTO alerts (id, dedup_key, rule, scope, tenant_id, region, severity, state, summary, detail, remediation, opened_at, last_seen_at)
       VALUES ($1::uuid, $2, $3, $4, $5::uuid, $6, $7, 'open', $8, $9::jsonb, $10::jsonb, $11, $11)
       ON CONFLICT (dedup_key) WHERE state <> 'resolved' DO NOTHING RETURNING id, tenant_id),
     d AS (INSERT INTO alert_deliveries (alert_id, event, webhook_id, payload, next_attempt_at)
       SELECT a.id, 'alert.opened', $12, $13::jsonb, $14 FROM a WHERE $12::text IS NOT NULL)
     SELECT audit_append($15, 'alert.opened', a.tenant_id, NULL, $16::jsonb) AS seq FROM a`,
    [id, keyOf(f), f.rule, f.scope, f.tenantId, f.region, severity, f.summary.slice(0, 500), JSON.stringify(f.detail),
      remediation ? JSON.stringify(remediation) : null, at.toISOString(), notify?.webhookId ?? null, notify ? JSON.stringify(notify.payload) : null,
      notify?.dueAt.toISOString() ?? null, ALERTS_ACTOR,
      JSON.stringify({ alertId: id, rule: f.rule, scope: f.scope, region: f.region, severity, summary: f.summary.slice(0, 500), remediation: remediation?.action ?? null })])) as unknown[];
  return rows.length > 0;
}

/** Resolves alert `a` (nothing when it is resolved already); returns whether it resolved. */
export async function resolveAlert(sql: Sql, a: AlertView, at: Date, notify: Notify | null): Promise<boolean> {
  const rows = await db(() => sql.query(
    `WITH r AS (UPDATE alerts SET state = 'resolved', resolved_at = $2 WHERE id = $1::uuid AND state <> 'resolved' RETURNING id, tenant_id),
     d AS (INSERT INTO alert_deliveries (alert_id, event, webhook_id, payload, next_attempt_at)
       SELECT r.id, 'alert.resolved', $3, $4::jsonb, $5 FROM r WHERE $3::text IS NOT NULL)
     SELECT audit_append($6, 'alert.resolved', r.tenant_id, NULL, $7::jsonb) AS seq FROM r`,
    [a.id, at.toISOString(), notify?.webhookId ?? null, notify ? JSON.stringify(notify.payload) : null, notify?.dueAt.toISOString() ?? null,
      ALERTS_ACTOR, JSON.stringify({ alertId: a.id, rule: a.rule, scope: a.scope, region: a.region, openedAt: a.openedAt })])) as unknown[];
  return rows.length > 0;
}

/** Marks alerts still breaching: seen again, one more occurrence (deduplicated, no new notification). */
export async function touchAlerts(sql: Sql, ids: string[], at: Date): Promise<void> {
  if (ids.length === 0) return;
  await db(() => sql.query('UPDATE alerts SET last_seen_at = $2, occurrences = occurrences + 1 WHERE id = ANY($1::uuid[])', [ids, at.toISOString()]));
}

/** Moves a remediation from `from` to `to` (the claim an operator's confirmation takes); false when it was not in `from`. */
export async function moveRemediation(sql: Sql, id: string, from: string, to: Remediation): Promise<boolean> {
  const rows = await db(() => sql.query(
    `UPDATE alerts SET remediation = $3::jsonb WHERE id = $1::uuid AND remediation->>'state' = $2 RETURNING id`, [id, from, JSON.stringify(to)])) as unknown[];
  return rows.length > 0;
}
