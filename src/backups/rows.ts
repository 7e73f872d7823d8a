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
 *   and inserts the backup's (`jsonb_populate_record`, the `tenant_id` set to the target's; for a
 *   new tenant in its source's very tables, new uuid keys), then checks every table's count and
 *   digest, so a restore that is not exact rolls back.
 *
 * Identifiers come from the catalogue and validated schema names (copy.ts quoteIdent/qualified);
 * rows and ids only ever travel as bound parameters.
 */
import type { Client } from '@neondatabase/serverless';
import { AppError } from '../errors.js';
import { inTransaction } from '../provisioning/pg-client.js';
import { digestMismatches, digestOf, qualified, quoteIdent, tenantTables, type Digest } from '../moves/copy.js';
import type { BackupTable, SnapshotTable } from './format.js';

/** Rows one backup may hold (all tables together): a larger tenant is refused rather than half backed up. */
export const MAX_BACKUP_ROWS = 200_000;
/**
 * Bytes of row text (UTF-8 of `to_jsonb(row)::text`, all tables together) one backup may hold: the
 * backup is built in the Worker's memory (128 MB), so a larger tenant is refused 413 while being
 * read, a page at a time, before it is all in memory.
 */
export const MAX_BACKUP_BYTES = 32 * 1024 * 1024;
/** Rows read per page of the snapshot (the byte budget is checked after each). */
const READ_PAGE_ROWS = 5_000;
/** Rows per INSERT of a restore. */
const PAGE_ROWS = 1_000;

/** Bounds of one snapshot (tests pass small ones). */
export interface SnapshotLimits { maxRows?: number; maxBytes?: number }

const keyText = (key: string) => `(r.${quoteIdent(key)}::text COLLATE "C")`;

const tooLarge = (what: string) => new AppError(413, 'BACKUP_TOO_LARGE', `the tenant holds more than ${what}: too much for one logical backup`);

/** The tenant's rows in `schema`, one consistent snapshot; 413 BACKUP_TOO_LARGE past `limits`. */
export async function readSnapshot(c: Client, tenantId: string, schema: string, limits: SnapshotLimits = {}): Promise<{ takenAt: string; tables: SnapshotTable[]; digests: Digest }> {
  const maxRows = limits.maxRows ?? MAX_BACKUP_ROWS;
  const maxBytes = limits.maxBytes ?? MAX_BACKUP_BYTES;
  return inTransaction(c, async () => {
    const { rows: [at] } = await c.query<{ at: string }>(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at`);
    const tables = await tenantTables(c, schema);
    const out: SnapshotTable[] = [];
    let total = 0;
    let bytes = 0;
    for (const t of tables) {
      const rows: string[] = [];
      let after: string | null = null;
      for (;;) {
        // Keyset pages in key order (the key is the primary key: unique, never NULL), inside the snapshot.
        const page: { rows: { r: string; k: string; n: number }[] } = await c.query<{ r: string; k: string; n: number }>(
          `SELECT x.r, x.k, octet_length(x.r)::int AS n FROM (SELECT to_jsonb(r)::text AS r, ${keyText(t.key)} AS k FROM ${qualified(schema, t.name)} r
             WHERE r.tenant_id = $1 AND ($2::text IS NULL OR ${keyText(t.key)} > $2::text COLLATE "C") ORDER BY ${keyText(t.key)} LIMIT ${READ_PAGE_ROWS}) x`,
          [tenantId, after]);
        for (const x of page.rows) {
          total++;
          bytes += x.n;
          if (total > maxRows) throw tooLarge(`${maxRows} rows`);
          if (bytes > maxBytes) throw tooLarge(`${maxBytes} bytes of rows`);
          rows.push(x.r);
        }
        if (page.rows.length < READ_PAGE_ROWS) break;
        after = page.rows.at(-1)!.k;
      }
      out.push({ name: t.name, key: t.key, rows });
    }
    const digests = await digestOf(c, schema, tenantId, tables);
    return { takenAt: at!.at, tables: out, digests };
  }, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
}

/** How the backup's rows are written into the target: as they are (same tenant), or as a new tenant's. */
export interface Rewrite {
  /** The tenant the backup was taken of. */
  sourceId: string;
  /**
   * Give every row a new key (a uuid derived from the new tenant id and the old key): a new tenant
   * in the very tables its source lives in (`row` → `row` in one region) would collide with the
   * source's keys. Only uuid keys can be; other values in the rows are not rewritten.
   */
  newKeys: boolean;
}

/** The patch applied to a backup row's JSON (`x`): tenant id, and with newKeys its key. */
function patchOf(key: string, newKeys: boolean): string {
  const k = quoteIdent(key).slice(1, -1);
  return newKeys
    ? `jsonb_build_object('tenant_id', $2::uuid, '${k}', md5($2::text || (x::jsonb ->> '${k}'))::uuid)`
    : "jsonb_build_object('tenant_id', $2::uuid)";
}

/**
 * Replaces the tenant's rows in `schema` with `rows` (per table, the backup's JSON texts); call in a
 * transaction. Then checks, per table: into the same tenant, count and digest equal the backup's
 * (taken with the snapshot); into a new one, the backup's rows read back as the table's type give
 * the backup's digest (nothing lost in their JSON form) and the table holds exactly them, rewritten.
 */
export async function replaceRows(c: Client, tenantId: string, schema: string, backup: BackupTable[], rows: Map<string, string[]>, rewrite: Rewrite | null = null): Promise<{ deleted: number; inserted: number }> {
  const live = await tenantTables(c, schema);
  const byName = new Map(live.map((t) => [t.name, t]));
  const shapes = new Map<string, Shape>();
  for (const b of backup) {
    const t = byName.get(b.name);
    if (!t) throw new AppError(409, 'RESTORE_FAILED', `table ${b.name} of the backup is not in the tenant's storage (migrate the tenant first)`);
    if (t.key !== b.key) throw new AppError(409, 'RESTORE_FAILED', `table ${b.name} has another primary key than in the backup`);
    if (rewrite?.newKeys) {
      const { rows: [ty] } = await c.query<{ t: string }>('SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2',
        [qualified(schema, b.name), b.key]);
      if (ty?.t !== 'uuid') throw new AppError(409, 'RESTORE_FAILED', `table ${b.name}'s key is not a uuid: a new tenant sharing its source's tables cannot take its rows (choose another isolation or region)`);
    }
    const shape = await shapeOf(c, schema, b, rows.get(b.name) ?? []);
    if (shape) shapes.set(b.name, shape);
  }
  let deleted = 0;
  for (const t of live) deleted += (await c.query(`DELETE FROM ${qualified(schema, t.name)} r WHERE r.tenant_id = $1`, [tenantId])).rowCount ?? 0;
  let inserted = 0;
  for (const b of backup) {
    const target = qualified(schema, b.name);
    const all = rows.get(b.name) ?? [];
    // Columns added since the backup are left out of the INSERT: they take their defaults.
    const cols = shapes.get(b.name)?.had.map(quoteIdent);
    const into = cols ? `${target} (${cols.join(', ')}) SELECT ${cols.map((x) => `r.${x}`).join(', ')} FROM` : `${target} SELECT * FROM`;
    for (let i = 0; i < all.length; i += PAGE_ROWS) {
      const r = await c.query(`INSERT INTO ${into} (SELECT (jsonb_populate_record(NULL::${target}, x::jsonb || ${patchOf(b.key, rewrite?.newKeys ?? false)})).* FROM unnest($1::text[]) x) r`,
        [all.slice(i, i + PAGE_ROWS), tenantId]);
      inserted += r.rowCount ?? 0;
    }
  }
  const want: Digest = Object.fromEntries(live.map((t) => [t.name, { rows: 0, digest: '' }]));
  for (const b of backup) want[b.name] = { rows: b.rows, digest: b.digest };
  const got = await digestOf(c, schema, tenantId, live);
  // A table whose shape changed since the backup: its header digest (over the old row) cannot be
  // read again; the backup's count must hold, and its columns must read back exactly as written
  // (the rows' digest without the added columns, on both sides). The backup's own integrity is
  // AES-GCM's (its tag is checked when it is opened).
  const reshaped: Digest = {};
  const written: Digest = {};
  for (const b of backup) {
    const shape = shapes.get(b.name);
    if (!shape) continue;
    const texts = rows.get(b.name) ?? [];
    if (texts.length !== b.rows) throw new AppError(409, 'RESTORE_FAILED', `the backup's table ${b.name} holds ${texts.length} rows, its header says ${b.rows}; nothing was changed`);
    reshaped[b.name] = await textsDigest(c, schema, b, texts, patchOf(b.key, rewrite?.newKeys ?? false), tenantId, shape.added);
    written[b.name] = await liveProjected(c, schema, b, tenantId, shape.added);
  }
  if (rewrite) {
    const asBackedUp: Digest = { ...want };
    const asWritten: Digest = { ...want };
    for (const b of backup) {
      if (shapes.has(b.name)) continue;
      asBackedUp[b.name] = await textsDigest(c, schema, b, rows.get(b.name) ?? [], null, rewrite.sourceId);
      asWritten[b.name] = await textsDigest(c, schema, b, rows.get(b.name) ?? [], patchOf(b.key, rewrite.newKeys), tenantId);
    }
    check(want, asBackedUp, 'the backup\'s rows do not read back as backed up');
    check({ ...asWritten, ...reshaped }, { ...got, ...written }, 'the restored rows do not match the backup');
  } else {
    check({ ...want, ...reshaped }, { ...got, ...written }, 'the restored rows do not match the backup');
  }
  return { deleted, inserted };
}

/** A backup table's columns (its rows' keys) against the live table's, when they differ. */
interface Shape { had: string[]; added: string[] }

/**
 * Null when the backup's rows have the live table's columns (or it has no rows); the columns
 * otherwise. A column of the backup the table no longer has is refused: its values would be lost.
 */
async function shapeOf(c: Client, schema: string, b: BackupTable, texts: string[]): Promise<Shape | null> {
  if (texts.length === 0) return null;
  const had = Object.keys(JSON.parse(texts[0]!) as Record<string, unknown>);
  const { rows } = await c.query<{ name: string }>(
    'SELECT attname::text AS name FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum', [qualified(schema, b.name)]);
  const live = rows.map((r) => r.name);
  const gone = had.filter((k) => !live.includes(k));
  if (gone.length > 0) throw new AppError(409, 'RESTORE_FAILED', `table ${b.name} no longer has the backup's column(s) ${gone.join(', ')}: their values would be lost; nothing was changed`);
  const added = live.filter((k) => !had.includes(k));
  return added.length > 0 ? { had, added } : null;
}

/** The tenant's rows of `b` in `schema`, digested without the columns `without`. */
async function liveProjected(c: Client, schema: string, b: BackupTable, tenantId: string, without: string[]): Promise<{ rows: number; digest: string }> {
  const { rows } = await c.query<{ n: number; d: string | null }>(
    `SELECT count(*)::int AS n, md5(string_agg(md5((to_jsonb(r) - $2::text[])::text), '' ORDER BY ${keyText(b.key)})) AS d
       FROM ${qualified(schema, b.name)} r WHERE r.tenant_id = $1`, [tenantId, without]);
  return { rows: rows[0]?.n ?? 0, digest: rows[0]?.d ?? '' };
}

function check(a: Digest, b: Digest, what: string): void {
  const differ = digestMismatches(a, b);
  if (differ.length > 0) throw new AppError(409, 'RESTORE_FAILED', `${what} (${differ.join(', ')}); nothing was changed`);
}

/**
 * digestOf over backup texts read as `schema.table` rows, with `patch` applied (null: as they are);
 * with `without`, digested as liveProjected digests the table.
 */
async function textsDigest(c: Client, schema: string, b: BackupTable, texts: string[], patch: string | null, id: string, without?: string[]): Promise<{ rows: number; digest: string }> {
  const q = qualified(schema, b.name);
  const row = without ? '(to_jsonb(r) - $3::text[])::text' : 'r::text';
  const { rows } = await c.query<{ n: number; d: string | null }>(
    `SELECT count(*)::int AS n, md5(string_agg(md5(${row}), '' ORDER BY ${keyText(b.key)})) AS d
       FROM (SELECT (jsonb_populate_record(NULL::${q}, x::jsonb${patch ? ` || ${patch}` : ''})).* FROM unnest($1::text[]) x) r WHERE $2::uuid IS NOT NULL`, without ? [texts, id, without] : [texts, id]);
  return { rows: rows[0]?.n ?? 0, digest: rows[0]?.d ?? '' };
}

/** The tenant's rows per table in `schema`, now (what the placement holds; for checks and reports). */
export async function liveDigest(c: Client, tenantId: string, schema: string): Promise<Digest> {
  return digestOf(c, schema, tenantId, await tenantTables(c, schema));
}
