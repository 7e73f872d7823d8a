/**
 * What a deleted tenant's moves left behind, removed at its purge (src/control/purge.ts): the
 * placement floors and write fences in every database its moves touched, and its `tenant_moves`
 * rows. A source not cleaned yet is cleaned first; if it cannot be, the purge fails and is retried.
 * By the purge, the grace has passed: no router can still hold a record of the tenant, so the floors
 * have nothing left to refuse.
 */
import { withClient } from '../provisioning/pg-client.js';
import type { Placement } from '../provisioning/provisioner.js';
import type { ControlServices } from '../control/services.js';
import { cleanSource } from './move.js';

interface MoveRow { id: string; state: string; from: Placement; to: Placement | null }

/** Removes the deleted tenant's move records and what they left in databases; how many moves it had. */
export async function forgetMoves(s: ControlServices, tenantId: string, current: Placement | null): Promise<number> {
  const rows = await s.sql.query(
    `SELECT id, state, from_placement AS "from", to_placement AS "to" FROM tenant_moves WHERE tenant_id = $1`, [tenantId]) as MoveRow[];
  if (rows.length === 0) return 0;
  for (const m of rows.filter((r) => r.state === 'switched')) {
    if (!(await cleanSource(s, { id: m.id, tenantId, fromPlacement: m.from, toPlacement: m.to }))) throw new Error(`the source of move ${m.id} could not be cleaned`);
  }
  const placements = [current, ...rows.flatMap((r) => [r.from, r.to])].filter((p): p is Placement => p !== null && p.strategy !== 'database');
  const urls = new Set(await Promise.all(placements.map((p) => s.provisioner.ownerUrl(tenantId, p))));
  for (const url of urls) {
    await withClient(url, async (c) => {
      await c.query('DELETE FROM router.placement_floors WHERE tenant_id = $1', [tenantId]);
      await c.query('DELETE FROM router.write_fences WHERE tenant_id = $1', [tenantId]);
    });
  }
  await s.sql.query('DELETE FROM tenant_moves WHERE tenant_id = $1', [tenantId]);
  return rows.length;
}
