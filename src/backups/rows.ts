/**
 * A backup's rows in the tenant's storage, on an owner connection (prepared by
 * src/moves/copy.ts prepareSession: the tenant admitted through forced row-level security, the
 * settings a row's text depends on fixed):
 *
 * - `readSnapshot`: every table of the placement with a `tenant_id` column (copy.ts tenantTables),
 *   the tenant's rows as `to_jsonb(row)::text` in key order, and the per-table count and digest
 *   (copy.ts digestOf), all in one read-only repeatable-read transaction: one consistent snapshot,
 *   whose time is the transaction's;
 * - `replaceRows`: inside the caller's transaction, deletes the tenant's rows in every such table
 *   and inserts the backup's (`jsonb_populate_record`, the `tenant_id` set to the target's), then
 *   checks every table's count and digest against the backup's, so a restore that is not exact
 *   rolls back.
 *
 * Identifiers come from the catalogue and validated schema names (copy.ts quoteIdent/qualified);
 * rows and ids only ever travel as bound parameters.
 */
import type { Client } from '@neondatabase/serverless';
import { AppError } from '../errors.js';
import { inTransaction } from '../provisioning/pg-client.js';
import { digestMismatches, digestOf, qualified, quoteIdent, tenantTables, type Digest, type TenantTable } from '../moves/copy.js';
import type { BackupTable, SnapshotTable } from './format.js';

/** Rows one backup may hold (all tables together): a larger tenant is refused rather than half backed up. */
export const MAX_BACKUP_ROWS = 200_000;
/** Rows per INSERT of a restore. */
const PAGE_ROWS = 1_000;

const keyText = (key: string) => `(r.${quoteIdent(key)}::text COLLATE "C")`;

/** The tenant's rows in `schema`, one consistent snapshot. */
export async function readSnapshot(c: Client, tenantId: string, schema: string): Promise<{ takenAt: string; tables: SnapshotTable[]; digests: Digest }> {
  return inTransaction(c, async () => {
    const { rows: [at] } = await c.query<{ at: string }>(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`);
    const tables = await tenantTables(c, schema);
    const out: SnapshotTable[] = [];
    let total = 0;
    for (const t of tables) {
      const { rows } = await c.query<{ r: string }>(
        `SELECT to_jsonb(r)::text AS r FROM ${qualified(schema, t.name)} r WHERE r.tenant_id = $1 ORDER BY ${keyText(t.key)} LIMIT ${MAX_BACKUP_ROWS + 1}`, [tenantId]);
      total += rows.length;
      if (total > MAX_BACKUP_ROWS) throw new AppError(413, 'PAYLOAD_TOO_LARGE', `the tenant holds more than ${MAX_BACKUP_ROWS} rows: too many for one logical backup`);
      out.push({ name: t.name, key: t.key, rows: rows.map((x) => x.r) });
    }
    const digests = await digestOf(c, schema, tenantId, tables);
    return { takenAt: at!.at, tables: out, digests };
  }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
}

/**
 * Replaces the tenant's rows in `schema` with `rows` (per table, the backup's JSON texts); call in a
 * transaction. `sourceId` is the tenant the backup was taken of: the digests are compared with the
 * rows' tenant id mapped back to it (the same id for a restore into the same tenant).
 */
export async function replaceRows(c: Client, tenantId: string, schema: string, sourceId: string, backup: BackupTable[], rows: Map<string, string[]>): Promise<{ deleted: number; inserted: number }> {
  const live = await tenantTables(c, schema);
  const byName = new Map(live.map((t) => [t.name, t]));
  for (const b of backup) {
    const t = byName.get(b.name);
    if (!t) throw new AppError(409, 'RESTORE_FAILED', `table ${b.name} of the backup is not in the tenant's storage (migrate the tenant first)`);
    if (t.key !== b.key) throw new AppError(409, 'RESTORE_FAILED', `table ${b.name} has another primary key than in the backup`);
  }
  let deleted = 0;
  for (const t of live) deleted += (await c.query(`DELETE FROM ${qualified(schema, t.name)} r WHERE r.tenant_id = $1`, [tenantId])).rowCount ?? 0;
  let inserted = 0;
  for (const b of backup) {
    const target = qualified(schema, b.name);
    const all = rows.get(b.name) ?? [];
    for (let i = 0; i < all.length; i += PAGE_ROWS) {
      const page = all.slice(i, i + PAGE_ROWS);
      const r = await c.query(`INSERT INTO ${target} SELECT (jsonb_populate_record(NULL::${target}, x::jsonb || jsonb_build_object('tenant_id', $2::uuid))).* FROM unnest($1::text[]) x`, [page, tenantId]);
      inserted += r.rowCount ?? 0;
    }
  }
  const want: Digest = Object.fromEntries(live.map((t) => [t.name, { rows: 0, digest: '' }]));
  for (const b of backup) want[b.name] = { rows: b.rows, digest: b.digest };
  const got = tenantId === sourceId ? await digestOf(c, schema, tenantId, live) : await mappedDigest(c, schema, tenantId, sourceId, live);
  const differ = digestMismatches(want, got);
  if (differ.length > 0) throw new AppError(409, 'RESTORE_FAILED', `the restored rows do not match the backup (${differ.join(', ')}); nothing was changed`);
  return { deleted, inserted };
}

/** digestOf, over the rows with their tenant id replaced by `asId` (the backup's tenant). */
async function mappedDigest(c: Client, schema: string, tenantId: string, asId: string, tables: TenantTable[]): Promise<Digest> {
  const out: Digest = {};
  for (const t of tables) {
    const q = qualified(schema, t.name);
    const { rows } = await c.query<{ n: number; d: string | null }>(
      `SELECT count(*)::int AS n, md5(string_agg(md5((jsonb_populate_record(NULL::${q}, to_jsonb(r) || jsonb_build_object('tenant_id', $2::uuid)))::text), '' ORDER BY ${keyText(t.key)})) AS d
         FROM ${q} r WHERE r.tenant_id = $1`, [tenantId, asId]);
    out[t.name] = { rows: rows[0]?.n ?? 0, digest: rows[0]?.d ?? '' };
  }
  return out;
}

/** The tenant's rows per table in `schema`, now (what the placement holds; for checks and reports). */
export async function liveDigest(c: Client, tenantId: string, schema: string): Promise<Digest> {
  return digestOf(c, schema, tenantId, await tenantTables(c, schema));
}
