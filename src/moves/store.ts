/** The `tenant_moves` table (migration 0016): one row per move, claimed so a tenant moves once at a time. */
import { AppError } from '../errors.js';
import type { Sql } from '../control/db.js';
import type { Placement } from '../provisioning/provisioner.js';
import type { TailReport } from './copy.js';

export interface MoveRecord { id: string; tenantId: string; fromPlacement: Placement; toPlacement: Placement | null }

/** Records a new move of `tenantId` from `from`; 409 MOVE_IN_PROGRESS while another one copies. */
export async function claimMove(sql: Sql, tenantId: string, from: Placement): Promise<MoveRecord> {
  const id = crypto.randomUUID();
  try {
    await sql.query(`INSERT INTO tenant_moves (id, tenant_id, state, from_placement) VALUES ($1, $2, 'copying', $3::jsonb)`, [id, tenantId, JSON.stringify(from)]);
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new AppError(409, 'MOVE_IN_PROGRESS', 'another move of this tenant is under way', { 'Retry-After': '30' });
    throw err;
  }
  return { id, tenantId, fromPlacement: from, toPlacement: null };
}

export async function markSwitched(sql: Sql, id: string, to: Placement, r: { copied: Record<string, number>; tail: TailReport; fenceMs: number }): Promise<void> {
  await sql.query(`UPDATE tenant_moves SET state = 'switched', to_placement = $2::jsonb, copied = $3::jsonb, tail = $4::jsonb, fence_ms = $5, switched_at = now() WHERE id = $1`,
    [id, JSON.stringify(to), JSON.stringify(r.copied), JSON.stringify(r.tail), Math.round(r.fenceMs)]);
}

export async function markCleaned(sql: Sql, id: string): Promise<void> {
  await sql.query(`UPDATE tenant_moves SET state = 'cleaned', finished_at = now() WHERE id = $1`, [id]);
}

export async function failMove(sql: Sql, id: string, error: string): Promise<void> {
  await sql.query(`UPDATE tenant_moves SET state = 'failed', error = $2, finished_at = now() WHERE id = $1`, [id, error]);
}

/**
 * Switched moves whose source is not cleaned yet, oldest first (of one tenant, or all). A dedicated
 * database left behind is given only once `settledMs` (the routers' L1 TTL + 1 s) has passed since
 * the switch: until then a stale router must meet its floor there, not find it dropped.
 */
export async function pendingCleanings(sql: Sql, f: { tenantId?: string; limit: number; settledMs: number }): Promise<MoveRecord[]> {
  const rows = await sql.query(
    `SELECT id, tenant_id AS "tenantId", from_placement AS "fromPlacement", to_placement AS "toPlacement" FROM tenant_moves
      WHERE state = 'switched' AND ($1::uuid IS NULL OR tenant_id = $1::uuid)
        AND (from_placement->>'strategy' <> 'database' OR switched_at < now() - make_interval(secs => $3::double precision / 1000))
      ORDER BY switched_at LIMIT $2`, [f.tenantId ?? null, f.limit, f.settledMs]) as MoveRecord[];
  return rows;
}

/** The moves of a tenant, newest first. */
export async function listMoves(sql: Sql, tenantId: string, limit = 20): Promise<Record<string, unknown>[]> {
  return await sql.query(
    `SELECT id, state, from_placement->>'region' AS "fromRegion", from_placement->>'strategy' AS "fromIsolation",
            to_placement->>'region' AS "toRegion", to_placement->>'strategy' AS "toIsolation", copied, tail, fence_ms AS "fenceMs", error,
            started_at AS "startedAt", switched_at AS "switchedAt", finished_at AS "finishedAt"
       FROM tenant_moves WHERE tenant_id = $1 ORDER BY started_at DESC LIMIT $2`, [tenantId, limit]) as Record<string, unknown>[];
}
