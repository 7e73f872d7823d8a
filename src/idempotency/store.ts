/**
 * Idempotency keys in the control database (migrations/control/0007). A request claims its key
 * with one statement: a new key is inserted `running`; an expired one, or a `running` one whose
 * request died (same request only), is taken over; anything else is left as it is and returned,
 * so the caller replays it, refuses it, or answers 409 while it runs. Concurrent claims are
 * serialised by the primary key: exactly one of them inserts.
 *
 * Every claim writes a random claim id (0008) and completion and release apply only to the row
 * still holding it: a request that outlived RUNNING_STALE_SECONDS and was taken over by a retry
 * finds the retry's claim there and changes nothing.
 */
import { db, type Sql } from '../control/db.js';
import { KEY_TTL_HOURS, RUNNING_STALE_SECONDS } from './rules.js';

export interface KeyRef { principal: string; key: string }
export interface ClaimRequest extends KeyRef { hash: string; method: string; path: string }
/** A claim held: the key and the id only its holder knows. */
export interface HeldClaim extends KeyRef { claimId: string }

/** What a claim found: `claimed` (run the request), or the row someone else holds. */
export type Claim =
  | { kind: 'claimed'; held: HeldClaim }
  | { kind: 'running' }
  | { kind: 'done'; hash: string; method: string; path: string; status: number; headers: Record<string, string>; body: string };

interface Row { claimed: string; request_hash: string | null; method: string | null; path: string | null; state: string | null; status: number | null; headers: Record<string, string> | null; body: string | null }

/** Claims the key for `r` (see above). */
export async function claimKey(sql: Sql, r: ClaimRequest): Promise<Claim> {
  const claimId = crypto.randomUUID();
  const rows = await db(() => sql.query(
    `WITH claim AS (
       INSERT INTO idempotency_keys AS k (principal, key, request_hash, method, path, claim_id) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (principal, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, method = EXCLUDED.method,
         path = EXCLUDED.path, claim_id = EXCLUDED.claim_id, state = 'running', status = NULL, headers = NULL, body = NULL, created_at = now(), started_at = now()
        WHERE k.created_at < now() - make_interval(hours => ${KEY_TTL_HOURS})
           OR (k.state = 'running' AND k.request_hash = EXCLUDED.request_hash AND k.started_at < now() - make_interval(secs => ${RUNNING_STALE_SECONDS}))
       RETURNING 1)
     SELECT (SELECT count(*) FROM claim) AS claimed, o.request_hash, o.method, o.path, o.state, o.status, o.headers, o.body
       FROM (SELECT 1) one LEFT JOIN idempotency_keys o ON o.principal = $1 AND o.key = $2`,
    [r.principal, r.key, r.hash, r.method, r.path, claimId])) as Row[];
  const row = rows[0]!;
  if (Number(row.claimed) === 1) return { kind: 'claimed', held: { principal: r.principal, key: r.key, claimId } };
  // No row in this statement's snapshot: a concurrent claim inserted it a moment ago and runs.
  if (row.state !== 'done') return { kind: 'running' };
  return { kind: 'done', hash: row.request_hash!, method: row.method!, path: row.path!, status: row.status!, headers: row.headers ?? {}, body: row.body ?? '' };
}

/** Keeps the first answer for replay; false when the claim is no longer this holder's (taken over). */
export async function completeKey(sql: Sql, k: HeldClaim, answer: { status: number; headers: Record<string, string>; body: string }): Promise<boolean> {
  const rows = await db(() => sql.query(
    `UPDATE idempotency_keys SET state = 'done', status = $4, headers = $5::jsonb, body = $6
      WHERE principal = $1 AND key = $2 AND claim_id = $3 AND state = 'running' RETURNING 1`,
    [k.principal, k.key, k.claimId, answer.status, JSON.stringify(answer.headers), answer.body])) as unknown[];
  return rows.length === 1;
}

/** Forgets a claimed key whose answer is not kept (the retry runs again); false when it is no longer this holder's. */
export async function releaseKey(sql: Sql, k: HeldClaim): Promise<boolean> {
  const rows = await db(() => sql.query(
    `DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND claim_id = $3 AND state = 'running' RETURNING 1`,
    [k.principal, k.key, k.claimId])) as unknown[];
  return rows.length === 1;
}

/** Deletes keys older than their lifetime (the maintenance run); returns how many. */
export async function purgeExpiredKeys(sql: Sql): Promise<{ expired: number }> {
  const rows = await db(() => sql.query(
    `WITH gone AS (DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => ${KEY_TTL_HOURS}) RETURNING 1)
     SELECT count(*) AS n FROM gone`)) as { n: string }[];
  return { expired: Number(rows[0]?.n ?? 0) };
}
