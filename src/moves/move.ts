/**
 * Moving a tenant's data to another isolation (`row` ⇄ `schema`) or region, online:
 *
 *   validate (residency, a supported pair, nothing in the target) → claim (one move at a time) →
 *   provision the target → copy every row while the tenant still writes → fence its writes in the
 *   source (reads go on; writes answer 503 TENANT_MIGRATING) → sync the tail by row digest →
 *   verify (per table: count and digest equal on both sides) → switch the placement in the control
 *   database (version bump, routers' caches invalidated) → raise the source's placement floor to
 *   that version, so any router still holding the old record is refused there → release the fence
 *   → clean the source.
 *
 * Any failure before the switch rolls back: the fence goes with the mover's session, the target is
 * emptied, the move is recorded `failed`, and the tenant never stopped being served from the
 * source. A cleaning that fails after the switch is retried by the maintenance run.
 *
 * The TenantGuard does not move: its jurisdiction was fixed when the tenant was created, so its
 * counters (rate, monthly, metering) continue exactly whatever region the data goes to.
 * A dedicated database (`database` isolation) moves the same way, its `public` tables being the
 * tenant's: into one (a new database, or on Neon a new project, in the target region) or out of
 * one, which the cleaning drops whole once the routers' L1 TTL has passed (a router still holding
 * the old record meanwhile is refused there by the floor, TR004, and reloads; one that finds it
 * gone, 3D000, or its role gone, 28P01, drops its record the same way).
 */
import type { Client } from '@neondatabase/serverless';
import { withClient } from '../provisioning/pg-client.js';
import { addWriteFence, withWriteFence } from '../provisioning/router-objects.js';
import { AppError } from '../errors.js';
import { checkPlacement } from '../control/lifecycle.js';
import { loadCatalogue } from '../control/migration-catalog.js';
import { connectionLimitOf } from '../storage/connection-limit.js';
import { commitAndInvalidate } from '../control/outbox.js';
import { loadPlacement, lookupKeys } from '../control/tenant-repo.js';
import type { ControlServices } from '../control/services.js';
import type { TenantView } from '../control/schemas.js';
import { tenantIdent, type Placement } from '../provisioning/provisioner.js';
import type { Isolation } from '../tenancy/tenant.js';
import { cleanPlacement, leftInPlacement } from './clean.js';
import { copyAll, digestMismatches, digestOf, prepareSession, syncTail, tenantTables, type TailReport, type TenantTable } from './copy.js';
import { withTenantOperation } from '../operations/claim.js';
import { claimMove, failMove, markCleaned, markSwitched, pendingCleanings, type MoveRecord } from './store.js';

export interface MoveRequest { isolation?: Isolation; region?: string }

export interface MoveReport {
  moveId: string;
  tenantId: string;
  from: { region: string; isolation: Isolation };
  to: { region: string; isolation: Isolation };
  copied: Record<string, number>;
  tail: TailReport;
  /** How long the tenant's writes were fenced (reads never were). */
  fenceMs: number;
  version: number;
  cleaned: boolean;
}

/** Where a placement's tables are, on its owner connection. */
const schemaOf = (p: Placement): string => (p.strategy === 'row' ? 'shared' : p.schemaName!);

/** The checks before anything is touched (pure but for the residency table): 422 / 409 with a code. */
export function checkMove(t: Pick<TenantView, 'status' | 'isolation' | 'region'>, want: MoveRequest): { isolation: Isolation; region: string } {
  if (t.status !== 'active' && t.status !== 'suspended') throw new AppError(409, 'INVALID_STATE', `tenant is ${t.status}`);
  const isolation = want.isolation ?? t.isolation as Isolation;
  const region = want.region ?? t.region;
  if (isolation === t.isolation && region === t.region) throw new AppError(422, 'NOTHING_TO_MOVE', `tenant is already ${isolation} in ${region}`);
  return { isolation, region };
}

/**
 * What the names of the source and target would make impossible (pure). Two regions may be served
 * by one cluster (REGION_ADMIN_URLS): a move between them in the same isolation would provision
 * the source's own schema, rows or database as its target, copy it onto itself and then clean it.
 * And a dedicated database made before login roles were named apart from `t_<id>` holds the one
 * name a schema of the same cluster needs for its role: that pair cannot be held at once.
 */
export function checkNames(tenantId: string, source: Placement, to: { isolation: Isolation; region: string }, sameCluster: boolean): void {
  if (sameCluster && to.region !== source.region && to.isolation === source.strategy) {
    throw new AppError(422, 'MOVE_NOT_SUPPORTED', `${source.region} and ${to.region} are served by one database cluster: a ${to.isolation} tenant cannot move between them; change its isolation, or map the regions to their own clusters`);
  }
  if (source.strategy === 'database' && to.isolation === 'schema' && sameCluster && source.roleName === tenantIdent(tenantId)) {
    throw new AppError(422, 'MOVE_NOT_SUPPORTED', 'this dedicated database predates distinct role names: move it to another region or to row isolation first');
  }
}

/** Moves `t` (see the file's comment); the report once switched. */
export async function moveTenant(s: ControlServices, t: TenantView, want: MoveRequest): Promise<MoveReport> {
  const to = checkMove(t, want);
  checkPlacement(s, to.region, t.residency);
  // One data operation per tenant at a time: no backup, restore or promotion reads or writes the
  // placement this move is switching (src/operations/).
  return withTenantOperation(s.sql, t.id, 'move', () => moveClaimed(s, t, to));
}

async function moveClaimed(s: ControlServices, t: TenantView, to: { isolation: Isolation; region: string }): Promise<MoveReport> {
  const source = await loadPlacement(s.sql, t.id);
  if (!source || source.strategy !== t.isolation) throw new AppError(409, 'INVALID_STATE', 'tenant has no storage to move');
  // The regions' shared clusters, as the provisioner reaches them: one URL, one cluster.
  const clusterOf = (region: string) => s.provisioner.ownerUrl(t.id, { ...source, region, strategy: 'row' });
  checkNames(t.id, source, to, to.region === source.region || (await clusterOf(to.region)) === (await clusterOf(source.region)));
  await cleanPending(s, t.id);
  const move = await claimMove(s.sql, t.id, source);
  let target: Placement | null = null;
  let switched = false;
  try {
    const migrations = await loadCatalogue(s.sql);
    const connectionLimit = (await connectionLimitOf(s.sql, t.id)) ?? undefined;
    target = await s.provisioner.provision({ tenantId: t.id, region: to.region, isolation: to.isolation, migrations, connectionLimit });
    const [srcUrl, dstUrl] = await Promise.all([s.provisioner.ownerUrl(t.id, source), s.provisioner.ownerUrl(t.id, target)]);
    const result = await withClient(srcUrl, (src) => withClient(dstUrl, async (dst) => {
      await Promise.all([prepareSession(src, t.id), prepareSession(dst, t.id)]);
      const tables = await tenantTables(dst, schemaOf(target!));
      const srcTables = await tenantTables(src, schemaOf(source));
      if (JSON.stringify(srcTables) !== JSON.stringify(tables)) {
        throw new AppError(409, 'MOVE_FAILED', 'the source and the target have different tables (migrate the tenant first)');
      }
      if ((await leftInTarget(dst, t.id, schemaOf(target!), tables)) > 0) {
        throw new AppError(409, 'MOVE_FAILED', 'the target already holds rows of this tenant');
      }
      const copied = await copyAll(src, schemaOf(source), dst, schemaOf(target!), t.id, tables);
      const fencedAt = Date.now();
      return withWriteFence(src, t.id, async () => {
        const tail = await syncTail(src, schemaOf(source), dst, schemaOf(target!), t.id, tables);
        const [a, b] = await Promise.all([digestOf(src, schemaOf(source), t.id, tables), digestOf(dst, schemaOf(target!), t.id, tables)]);
        const differ = digestMismatches(a, b);
        if (differ.length > 0) throw new AppError(409, 'MOVE_FAILED', `the copy does not match the source (${differ.join(', ')}); nothing was switched`);
        const version = await switchPlacement(s, t, target!);
        switched = true;
        // Routers still holding the old record are refused in the source from now on, whatever
        // their caches say; in a database of its own, the source is also read-only until cleaned.
        await src.query(`INSERT INTO router.placement_floors (tenant_id, min_version) VALUES ($1, $2)
                         ON CONFLICT (tenant_id) DO UPDATE SET min_version = GREATEST(router.placement_floors.min_version, excluded.min_version), at = now()`, [t.id, version]);
        if (srcUrl !== dstUrl) await addWriteFence(src, t.id, 'moved');
        return { copied, tail, version, fenceMs: Date.now() - fencedAt };
      });
    }));
    await markSwitched(s.sql, move.id, target, result);
    // A dedicated database left behind is dropped once no router can still hold the old record
    // (its L1 TTL): until then a stale router is refused there by the floor (TR004) and reloads.
    if (source.strategy === 'database') await new Promise((r) => setTimeout(r, settledMs(s)));
    const cleaned = await cleanSource(s, { ...move, toPlacement: target });
    return { moveId: move.id, tenantId: t.id, from: { region: source.region, isolation: source.strategy }, to: { region: target.region, isolation: target.strategy }, ...result, cleaned };
  } catch (err) {
    if (switched) {
      // The switch committed: the tenant lives in the target now; only the bookkeeping failed.
      console.error(JSON.stringify({ level: 'error', msg: 'move switched but not recorded', tenant: t.id, error: String((err as Error)?.message ?? err).slice(0, 300) }));
      throw err;
    }
    const why = String((err as Error)?.message ?? err).slice(0, 500);
    if (target) await emptyTarget(s, t.id, source, target).catch((e: unknown) => console.error(JSON.stringify({ level: 'error', msg: 'move rollback: target not emptied', tenant: t.id, error: String(e).slice(0, 200) })));
    await failMove(s.sql, move.id, why);
    if (err instanceof AppError) throw err;
    throw new AppError(503, 'MOVE_FAILED', 'the move failed and was rolled back; the tenant is served from where it was', { 'Retry-After': '30' });
  }
}

/** How long after a switch no router can still hold the tenant's old record: its L1 TTL + 1 s. */
const settledMs = (s: ControlServices): number => s.config.TENANT_CACHE_TTL_MS + 1_000;

/** Rows of the tenant already in the target's tables (a row target shares them with other tenants). */
async function leftInTarget(dst: Client, tenantId: string, schema: string, tables: TenantTable[]): Promise<number> {
  return Object.values(await digestOf(dst, schema, tenantId, tables)).reduce((n, x) => n + x.rows, 0);
}

/** The placement and the tenant's isolation and region, in one control transaction with the routers' invalidation; the new version. */
async function switchPlacement(s: ControlServices, t: TenantView, p: Placement): Promise<number> {
  const [placed, bumped] = await commitAndInvalidate(s, [
    s.sql.query(`UPDATE tenant_placements SET region = $2, strategy = $3, schema_name = $4, role_name = $5, database_name = $6,
                   connection_secret = $7, external_ref = $8 WHERE tenant_id = $1 RETURNING tenant_id`,
      [t.id, p.region, p.strategy, p.schemaName, p.roleName, p.databaseName, p.connectionSecret, p.externalRef]),
    s.sql.query(`UPDATE tenants SET isolation = $2, region = $3, version = version + 1, updated_at = now() WHERE id = $1 RETURNING version`,
      [t.id, p.strategy, p.region]),
  ], lookupKeys(t)) as { version?: number }[][];
  if (!placed?.length || !bumped?.length) throw new AppError(409, 'MOVE_FAILED', 'the tenant changed during the move');
  return Number(bumped[0]!.version);
}

/** Empties a target that was never switched to (a rollback). */
async function emptyTarget(s: ControlServices, tenantId: string, source: Placement, target: Placement): Promise<void> {
  // Never the source's own objects: the pairs a move accepts (checkMove, checkNames) never share a
  // schema, a role or a database.
  if (target.strategy === source.strategy && target.region === source.region) return;
  // A database nobody was switched to: dropped whole (its fence harms no one).
  if (target.strategy === 'database') return s.provisioner.deprovision(tenantId, target);
  const url = await s.provisioner.ownerUrl(tenantId, target);
  await withClient(url, (c) => cleanPlacement(c, tenantId, target));
}

/** Cleans the source of a switched move; false (left for the maintenance run) when it fails. */
export async function cleanSource(s: ControlServices, m: MoveRecord): Promise<boolean> {
  try {
    // A dedicated database the tenant left is dropped whole, unfenced: see the file's comment.
    if (m.fromPlacement.strategy === 'database') {
      await s.provisioner.deprovision(m.tenantId, m.fromPlacement, { fence: false });
      await markCleaned(s.sql, m.id);
      return true;
    }
    const url = await s.provisioner.ownerUrl(m.tenantId, m.fromPlacement);
    await withClient(url, async (c) => {
      await cleanPlacement(c, m.tenantId, m.fromPlacement);
      if ((await leftInPlacement(c, m.tenantId, m.fromPlacement)) > 0) throw new Error('the source still holds data of the tenant');
      // A source in a database of its own stays fenced until the tenant has nothing there.
      await c.query('DELETE FROM router.write_fences WHERE tenant_id = $1', [m.tenantId]);
    });
    await markCleaned(s.sql, m.id);
    return true;
  } catch (err) {
    console.warn(JSON.stringify({ level: 'warn', msg: 'move: source not cleaned yet', tenant: m.tenantId, move: m.id, error: String((err as Error)?.message ?? err).slice(0, 200) }));
    return false;
  }
}

/** Cleans the sources of this tenant's earlier moves first (a move back into one would find it full); 409 while one cannot be cleaned. */
async function cleanPending(s: ControlServices, tenantId: string): Promise<void> {
  for (const m of await pendingCleanings(s.sql, { tenantId, limit: 5, settledMs: settledMs(s) })) {
    if (!(await cleanSource(s, m))) throw new AppError(409, 'MOVE_CLEANUP_PENDING', 'the source of an earlier move is not cleaned yet; retry later', { 'Retry-After': '60' });
  }
}

/** The maintenance run's part: sources of switched moves whose cleaning failed, a bounded batch. */
export async function cleanMovedSources(s: ControlServices, limit = 10): Promise<{ cleaned: number; failed: number }> {
  let cleaned = 0;
  let failed = 0;
  for (const m of await pendingCleanings(s.sql, { limit, settledMs: settledMs(s) })) {
    if (await cleanSource(s, m)) cleaned++; else failed++;
  }
  return { cleaned, failed };
}
