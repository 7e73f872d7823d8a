/**
 * Cache invalidation through an outbox. A committed change whose router cache entries could not
 * be invalidated must neither answer 500 (the change stands; a retry would repeat it) nor be
 * forgotten (routers would serve the old record until their L2 entry expires): the keys are
 * written to `cache_outbox` in the change's own transaction (or right after it, before the
 * answer), applied once it commits and deleted when applied. What fails stays for the
 * maintenance run (Cron Trigger, and after every admin write). Invalidation is idempotent, so a
 * row applied twice (a runner that died before deleting it) costs nothing.
 */
import type { LookupKey } from '../tenancy/tenant.js';
import { db, type Sql, type Statement } from './db.js';
import type { ControlServices } from './services.js';

type Outbox = Pick<ControlServices, 'sql' | 'cache'>;

/** How long the writer owns a fresh row before maintenance may apply it too. */
export const WRITER_LEASE = "interval '30 seconds'";
/** An invalidation that takes longer (3 s, plus 1 s per 100 keys of a large template change) is left to maintenance. */
const invalidateBudgetMs = (keys: number) => 3000 + Math.ceil(keys / 100) * 1000;

/** Distinct keys, in a stable order. */
export function distinctKeys(keys: LookupKey[]): LookupKey[] {
  const seen = new Map<string, LookupKey>();
  for (const k of keys) seen.set(`${k.kind}:${k.value}`, k);
  return [...seen.values()];
}

/** The statement that records `keys` (put it in the change's transaction); returns the row id. */
export const outboxStatement = (sql: Sql, keys: LookupKey[]): Statement =>
  sql.query(`INSERT INTO cache_outbox (keys, next_at) VALUES ($1::jsonb, now() + ${WRITER_LEASE}) RETURNING id`, [JSON.stringify(distinctKeys(keys))]);

/** Runs `statements` and the outbox row in one transaction, then invalidates; returns the statements' results. */
export async function commitAndInvalidate(s: Outbox, statements: Statement[], keys: LookupKey[]): Promise<unknown[]> {
  if (keys.length === 0) return statements.length ? await db(() => s.sql.transaction(statements)) : [];
  const results = await db(() => s.sql.transaction([...statements, outboxStatement(s.sql, keys)]));
  const [row] = results.at(-1) as { id: string }[];
  await deliver(s, row!.id, distinctKeys(keys));
  return results.slice(0, -1);
}

/** Records `keys` after a change already committed, then invalidates. */
export async function invalidateAfter(s: Outbox, keys: LookupKey[]): Promise<void> {
  await commitAndInvalidate(s, [], keys);
}

/** Applies one row's keys and deletes it; a failure leaves it, backed off, for the maintenance run. */
export async function deliver(s: Outbox, id: string, keys: LookupKey[]): Promise<boolean> {
  try {
    await withTimeout(s.cache.invalidate(keys), invalidateBudgetMs(keys.length));
  } catch (err) {
    const error = String((err as Error)?.message ?? err).slice(0, 300);
    console.warn(JSON.stringify({ level: 'warn', msg: 'cache invalidation deferred to maintenance', outbox: id, error }));
    // Backs off 5 s per attempt (at most 5 min): a cache that just failed is not asked again at once.
    await s.sql.query(
      'UPDATE cache_outbox SET attempts = attempts + 1, last_error = $2, next_at = now() + make_interval(secs => least(300, 5 * (attempts + 1))) WHERE id = $1',
      [id, error])
      .catch(() => { /* the row stays due at the end of its lease anyway */ });
    return false;
  }
  // A row left behind by a failed delete is only applied once more.
  await s.sql.query('DELETE FROM cache_outbox WHERE id = $1', [id]).catch(() => {});
  return true;
}

/** Applies due outbox rows, oldest first; returns how many were applied and how many failed. */
export async function flushOutbox(s: Outbox, limit = 50): Promise<{ applied: number; failed: number }> {
  // Claiming pushes next_at on, so concurrent runners take different rows.
  const rows = await db(() => s.sql.query(
    `UPDATE cache_outbox SET next_at = now() + ${WRITER_LEASE} WHERE id IN (
       SELECT id FROM cache_outbox WHERE next_at <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING id, keys`, [limit])) as { id: string; keys: LookupKey[] }[];
  let applied = 0;
  for (const r of rows.sort((a, b) => Number(a.id) - Number(b.id))) if (await deliver(s, r.id, r.keys)) applied++;
  return { applied, failed: rows.length - applied };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
