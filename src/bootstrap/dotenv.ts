/**
 * The `.env` files the secrets generator writes (pure): `NAME=value` lines, the value optionally
 * in single or double quotes, `#` comments and blank lines. Nothing is expanded or unescaped: a
 * value is exactly what stands between the quotes.
 */

/** A line the parser refuses, with its number (never its value: it may be a secret). */
export class DotenvError extends Error {
  override readonly name = 'DotenvError';
}

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
