/**
 * The secrets files' format, read by `npm run deploy`, `tenantctl bootstrap` and wrangler
 * (`--secrets-file`, `secret bulk`): dotenv, one `NAME='value'` a line, `#` comments. Values are
 * single-quoted, which dotenv and Node's parser both take literally (JSON, `#`, `$` included);
 * a value that cannot be written that way (a quote or a line break in it) is refused.
 */
import { parseEnv } from 'node:util';

/** One variable of a secrets file, with the comment written above it. */
export interface EnvEntry { name: string; value: string; comment?: string }

/** The file's text: `header` as comment lines, then each entry under its own comment. */
export function formatEnvFile(header: readonly string[], entries: readonly EnvEntry[]): string {
  const lines = header.map((h) => `# ${h}`);
  for (const e of entries) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(e.name)) throw new Error(`${e.name} is not a variable name`);
    if (/['\r\n]/.test(e.value)) throw new Error(`${e.name} contains a quote or a line break, which a secrets file cannot hold`);
    lines.push('', ...(e.comment ? [`# ${e.comment}`] : []), `${e.name}='${e.value}'`);
  }
  return `${lines.join('\n')}\n`;
}

/** The variables of a secrets file's text. */
export function parseEnvFile(text: string): Record<string, string> {
  return Object.fromEntries(Object.entries(parseEnv(text)).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
