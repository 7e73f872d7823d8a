/**
 * Verification of a branch: the rows of every table of its `public` schema, counted as the owner
 * (a neon_superuser member: row-level security does not hide rows from it), compared with what the
 * caller expects. Table names come from the catalogue and are quoted by PostgreSQL (`%I`), so no
 * name is ever spliced into SQL text here.
 */
import { withClient } from '../provisioning/pg-client.js';

export type TableCounts = Record<string, number>;
export interface Mismatch { table: string; expected: number; actual: number | null }

/** Rows per table of `public`, in one statement. */
export async function countRows(ownerUri: string): Promise<TableCounts> {
  return withClient(ownerUri, async (c) => {
    const { rows } = await c.query<{ name: string; n: string }>(
      `SELECT c.relname AS name,
              (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text AS n
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
        ORDER BY c.relname`);
    return Object.fromEntries(rows.map((r) => [r.name, Number(r.n)]));
  }, { statementTimeoutMs: 60_000 });
}

/** The tables whose count is not the expected one (a table missing from `actual` counts as null). */
export function compareCounts(actual: TableCounts, expected: TableCounts): Mismatch[] {
  return Object.entries(expected)
    .filter(([table, n]) => actual[table] !== n)
    .map(([table, n]) => ({ table, expected: n, actual: actual[table] ?? null }));
}
