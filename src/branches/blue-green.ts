/**
 * Blue-green migration of a `database` tenant on Neon: its writes are fenced on main (reads go on;
 * a write answers 503 TENANT_MIGRATING), a branch is made at that instant, the migrations are
 * applied to the branch, the branch is verified (every table main has, with main's row count:
 * nothing was lost) and then promoted, so main becomes the migrated state behind the same endpoint
 * and the state before is kept as a `pre-restore-…` branch (the way back: promote it). A migration
 * that fails on the branch never reaches main: the branch is discarded and main, untouched, takes
 * writes again. The fence is the session-held write lock (router-objects.ts): it ends with the
 * session, so a mover that dies, or the promotion's compute restart, leaves none behind.
 */
import { AppError } from '../errors.js';
import type { ControlServices } from '../control/services.js';
import type { TenantView } from '../control/schemas.js';
import { loadCatalogue, recordMigration } from '../control/migration-catalog.js';
import { applyMigrations, type Migration } from '../migrations/runner.js';
import { withTenantOperation } from '../operations/claim.js';
import { withClient } from '../provisioning/pg-client.js';
import { withWriteFence } from '../provisioning/router-objects.js';
import { migrationName, preservedName, type BranchView } from './names.js';
import { branchScope } from './tenant-branches.js';
import { compareCounts, countRows, type TableCounts } from './verify.js';

export interface BlueGreenReport {
  applied: string[];
  branch: BranchView | null;
  preserved: BranchView | null;
  tables: TableCounts;
  /** How long the tenant's writes were fenced. */
  fenceMs: number;
}

/** Migrates `t` blue-green (see the file's comment); `migrations` defaults to the catalogue. */
export async function blueGreenMigrate(s: ControlServices, t: TenantView, migrations?: Migration[]): Promise<BlueGreenReport> {
  const sc = await branchScope(s, t);
  const catalogue = migrations ?? await loadCatalogue(s.sql);
  return withTenantOperation(s.sql, t.id, 'branch', async () => {
    const main = await sc.api.main(sc.projectId);
    const mainUri = await sc.api.ownerUri(sc.projectId, main.id, sc.ident);
    return withClient(mainUri, (c) => withWriteFence(c, t.id, async () => {
      const fencedAt = Date.now();
      // The branch point is the database's own clock, once the fence holds: every write is before it.
      const at = new Date(String((await c.query<{ at: string }>('SELECT clock_timestamp()::text AS at')).rows[0]!.at));
      const before = await countRows(mainUri, t.id);
      const branch = await sc.api.createAt(sc.projectId, at, migrationName(at));
      let applied: string[];
      let tables: TableCounts;
      try {
        const uri = await sc.api.ownerUri(sc.projectId, branch.id, sc.ident);
        applied = await withClient(uri, (b) => applyMigrations(b, catalogue, { schema: 'public' }), { statementTimeoutMs: 300_000 });
        tables = await countRows(uri, t.id);
        // The migrations' own ledger grows by what was applied; every other table keeps main's rows.
        const { schema_migrations: _ledger, ...expected } = before;
        const lost = compareCounts(tables, expected);
        if (lost.length > 0) throw new AppError(409, 'MIGRATION_FAILED', `the migrated branch differs from main: ${JSON.stringify(lost).slice(0, 300)}`);
      } catch (err) {
        await sc.api.discard(sc.projectId, branch.id).catch((e: unknown) =>
          console.error(JSON.stringify({ level: 'error', msg: 'blue-green: failed branch not discarded', tenant: t.id, branch: branch.id, error: String(e).slice(0, 200) })));
        const why = String((err as Error)?.message ?? err).slice(0, 500);
        await recordMigration(s.sql, t.id, null, why);
        if (err instanceof AppError) throw err;
        throw new AppError(409, 'MIGRATION_FAILED', `the migration failed on a branch and never reached the tenant's data: ${why}`);
      }
      if (applied.length === 0) {
        await sc.api.discard(sc.projectId, branch.id);
        return { applied, branch: null, preserved: null, tables, fenceMs: Date.now() - fencedAt };
      }
      const { preserved } = await sc.api.promote(sc.projectId, branch.id, preservedName(new Date()));
      // The promoted branch is main's state now; the branch itself is no longer needed.
      await sc.api.discard(sc.projectId, branch.id).catch(() => {});
      await recordMigration(s.sql, t.id, catalogue.at(-1)?.name ?? null, null);
      return { applied, branch, preserved, tables, fenceMs: Date.now() - fencedAt };
    }));
  });
}
