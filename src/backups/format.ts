/**
 * A backup's plaintext (pure): JSON lines. The first line is the header,
 * `{"backup":{format, tenantId, backupId, takenAt, isolation, tables:[{name, key, rows, digest}]}}`;
 * then one line per row, `{"t":<table>,"r":<row>}`, the row exactly as PostgreSQL wrote it
 * (`to_jsonb(row)::text`), spliced in as text, never parsed into JS numbers on the way out.
 * On the way back each line's row is cut out of the line as text too (rowText), so a numeric's
 * digits reach PostgreSQL as they left it.
 */
import type { Digest } from '../moves/copy.js';

export const FORMAT = 'tenant-backup-v1';

export interface BackupTable { name: string; key: string; rows: number; digest: string }

export interface BackupHeader {
  format: typeof FORMAT;
  tenantId: string;
  backupId: string;
  takenAt: string;
  isolation: 'row' | 'schema' | 'database';
  tables: BackupTable[];
}

/** Per table, its rows as PostgreSQL JSON text. */
export interface SnapshotTable { name: string; key: string; rows: string[] }

/** The plaintext of a backup: the header line, then every row, table by table. */
export function encodeSnapshot(h: Omit<BackupHeader, 'format' | 'tables'>, tables: SnapshotTable[], digests: Digest): string {
  const header: BackupHeader = {
    format: FORMAT, ...h,
    tables: tables.map((t) => ({ name: t.name, key: t.key, rows: t.rows.length, digest: digests[t.name]?.digest ?? '' })),
  };
  const parts = [JSON.stringify({ backup: header })];
  for (const t of tables) {
    const prefix = `{"t":${JSON.stringify(t.name)},"r":`;
    for (const r of t.rows) parts.push(`${prefix}${r}}`);
  }
  return `${parts.join('\n')}\n`;
}

/** A row line's table and row text: the row is the text between `"r":` and the closing brace, as written. */
export function rowText(line: string): { table: string; row: string } {
  const m = /^\{"t":("(?:[^"\\]|\\.)*"),"r":/.exec(line);
  if (!m || !line.endsWith('}')) throw new Error('not a backup row line');
  return { table: JSON.parse(m[1]!) as string, row: line.slice(m[0].length, -1) };
}

/** Parses a plaintext back into its header and rows per table; throws on anything malformed. */
export function decodeSnapshot(text: string): { header: BackupHeader; tables: Map<string, string[]> } {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const first = JSON.parse(lines[0] ?? '') as { backup?: BackupHeader };
  const header = first.backup;
  if (!header || header.format !== FORMAT || !Array.isArray(header.tables)) throw new Error('not a tenant backup');
  const tables = new Map<string, string[]>(header.tables.map((t) => [t.name, []]));
  for (let i = 1; i < lines.length; i++) {
    const { table, row } = rowText(lines[i]!);
    const rows = tables.get(table);
    if (!rows) throw new Error(`a row of a table the header does not list (${table.slice(0, 64)})`);
    rows.push(row);
  }
  for (const t of header.tables) if (tables.get(t.name)!.length !== t.rows) throw new Error(`table ${t.name}: ${tables.get(t.name)!.length} rows, the header says ${t.rows}`);
  return { header, tables };
}
