/**
 * The one dotenv format of the project's files (pure): the secrets files `npm run secrets` writes
 * and `npm run deploy`, `tenantctl bootstrap` and wrangler (`--secrets-file`, `secret bulk`) read,
 * and the input file of `npm run secrets`. `NAME=value` lines, the value optionally in single or
 * double quotes, `#` comments, blank lines, an optional `export `. Nothing is expanded or
 * unescaped: a value is exactly what stands between the quotes. Files are written single-quoted,
 * which every dotenv reader takes literally (JSON, `#`, `$` included); a value that cannot be
 * written that way (a quote or a line break in it) is refused. No error ever shows a value (it
 * may be a secret): they name the line, or the variable.
 */

/** A line the parser refuses, with its number (never its value). */
export class DotenvError extends Error {
  override readonly name = 'DotenvError';
}

/** One variable of a file, with the comment written above it. */
export interface EnvEntry { name: string; value: string; comment?: string }

/** Parses `text` into `NAME: value`; a later line wins. */
export function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new DotenvError(`line ${i + 1} is not NAME=value`);
    out[m[1]!] = unquote(m[2]!, i + 1);
  });
  return out;
}

function unquote(v: string, line: number): string {
  const q = v[0];
  if (q === '"' || q === "'") {
    const end = v.indexOf(q, 1);
    if (end < 0) throw new DotenvError(`line ${line} has an unterminated quote`);
    const rest = v.slice(end + 1).trim();
    if (rest !== '' && !rest.startsWith('#')) throw new DotenvError(`line ${line} has text after its closing quote`);
    return v.slice(1, end);
  }
  // An unquoted value ends at a ` #` comment.
  return v.replace(/\s+#.*$/, '').trim();
}

/** The file's text: `header` as comment lines, then each entry under its own comment. */
export function formatDotenv(header: readonly string[], entries: readonly EnvEntry[]): string {
  const lines = header.map((h) => `# ${h}`);
  for (const e of entries) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(e.name)) throw new DotenvError(`${e.name} is not a variable name`);
    if (/['\r\n]/.test(e.value)) throw new DotenvError(`${e.name} contains a quote or a line break, which a secrets file cannot hold`);
    lines.push('', ...(e.comment ? [`# ${e.comment}`] : []), `${e.name}='${e.value}'`);
  }
  return `${lines.join('\n')}\n`;
}
