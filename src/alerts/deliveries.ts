/**
 * The webhook outbox: due deliveries are claimed (pushed a lease ahead, so two runs never send
 * the same one at once), sent one by one with a timeout per call and a deadline for the batch,
 * then marked delivered, or backed off exponentially (webhook.ts) until MAX_ATTEMPTS. All times
 * come from the run's clock (`now`), so the schedule can be tested without waiting for it.
 */
import { db, type Sql } from '../control/db.js';
import { backoffSeconds, MAX_ATTEMPTS, send } from './webhook.js';

export interface WebhookTarget { url: string; key: Uint8Array; timeoutMs: number }

export interface DeliveryReport { sent: number; failed: number; gaveUp: number }

/** A claimed delivery is another run's again after this long (its runner died mid-send). */
const CLAIM_LEASE_MS = 5 * 60_000;

/** Sends the due deliveries (at most `limit`, within `deadlineMs` of real time). */
export async function deliverDue(sql: Sql, target: WebhookTarget, now: number, opts: { limit?: number; deadlineMs?: number; fetcher?: typeof fetch } = {}): Promise<DeliveryReport> {
  const started = Date.now();
  const rows = await db(() => sql.query(
    `UPDATE alert_deliveries SET next_attempt_at = $2 WHERE id IN (
       SELECT id FROM alert_deliveries WHERE delivered_at IS NULL AND gave_up_at IS NULL AND next_attempt_at <= $1
        ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
     RETURNING id, webhook_id, payload::text AS body, attempts`,
    [new Date(now).toISOString(), new Date(now + CLAIM_LEASE_MS).toISOString(), opts.limit ?? 50])) as { id: string; webhook_id: string; body: string; attempts: number }[];
  const report: DeliveryReport = { sent: 0, failed: 0, gaveUp: 0 };
  for (const r of rows.sort((a, b) => Number(a.id) - Number(b.id))) {
    const left = (opts.deadlineMs ?? 20_000) - (Date.now() - started);
    // Past the deadline the rest keep their claim's lease and are sent by a later run.
    if (left <= 0) break;
    const res = await send(target.url, target.key, r.webhook_id, Math.floor(now / 1000), r.body, Math.min(target.timeoutMs, left), opts.fetcher);
    const attempts = r.attempts + 1;
    if (res.ok) {
      report.sent++;
      await db(() => sql.query('UPDATE alert_deliveries SET delivered_at = $2, attempts = $3, last_status = $4, last_error = NULL WHERE id = $1',
        [r.id, new Date(now).toISOString(), attempts, res.status]));
      continue;
    }
    const giveUp = attempts >= MAX_ATTEMPTS;
    if (giveUp) report.gaveUp++; else report.failed++;
    console.warn(JSON.stringify({ level: 'warn', msg: 'alert webhook delivery failed', webhookId: r.webhook_id, attempts, status: res.status, error: res.error }));
    await db(() => sql.query(
      `UPDATE alert_deliveries SET attempts = $2, last_status = $3, last_error = $4, next_attempt_at = $5, gave_up_at = $6 WHERE id = $1`,
      [r.id, attempts, res.status, res.error, new Date(now + backoffSeconds(attempts) * 1000).toISOString(), giveUp ? new Date(now).toISOString() : null]));
  }
  return report;
}
