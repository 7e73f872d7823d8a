/**
 * Output: aligned tables and key/value blocks for people, the API's JSON untouched with `--json`
 * (for scripts and jq). Results go to stdout, diagnostics to stderr.
 */

/** Writes a command's result: `human` unless `--json`, then `json` (the API's answer by default). */
export interface Output {
  json: boolean;
  /** Prints `data` as JSON when `--json`, else the lines `human()` returns. */
  result(data: unknown, human: () => string | string[]): void;
  line(text: string): void;
  note(text: string): void;
}

/** The output of one invocation. */
export function output(json: boolean, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Output {
  return {
    json,
    result(data, human) {
      if (json) { out.write(`${JSON.stringify(data, null, 2)}\n`); return; }
      const text = human();
      out.write(`${Array.isArray(text) ? text.join('\n') : text}\n`);
    },
    line: (text) => { out.write(`${text}\n`); },
    note: (text) => { err.write(`${text}\n`); },
  };
}

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string[] {
  if (rows.length === 0) return ['(none)'];
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** `key  value` lines, keys aligned; null and undefined values are left out. */
export function keyValues(pairs: [string, string | number | null | undefined][]): string[] {
  const shown = pairs.filter((p): p is [string, string | number] => p[1] !== null && p[1] !== undefined);
  const width = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${v}`);
}

/** Cents as dollars: 19900 → "$199.00". */
export const dollars = (cents: number): string => `$${(cents / 100).toFixed(2)}`;

/** 1234567 → "1,234,567". */
export const count = (n: number): string => n.toLocaleString('en-US');

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'];

/** Bytes for people: 1536 → "1,536 bytes (1.5 KiB)"; below 1 KiB the count alone. */
export function bytes(n: number): string {
  if (n < 1024) return `${count(n)} bytes`;
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < UNITS.length - 1) { v /= 1024; i++; }
  return `${count(n)} bytes (${v.toFixed(1)} ${UNITS[i]})`;
}

/** A list for a cell or a line: empty lists show as "-". */
export const list = (xs: readonly string[]): string => (xs.length ? xs.join(', ') : '-');
