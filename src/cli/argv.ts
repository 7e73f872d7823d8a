/**
 * The command line's shape (pure): which words name the command, and its options parsed with
 * node:util parseArgs, an unknown option refused with the nearest known one suggested.
 */
import { parseArgs } from 'node:util';
import { UsageError, type Args, type Command, type OptionSpec } from './command.js';
import { nearest } from './suggest.js';

/** True when `words` begin the name of some command without being all of it (`tenant`, `tenant jwt`). */
export function isGroup(commands: readonly Command[], words: readonly string[]): boolean {
  const prefix = `${words.join(' ')} `;
  return commands.some((c) => c.name.startsWith(prefix));
}

/** A command line cut into the command's words and the rest. */
export interface Split {
  /** The command's words: taken while they name a group, and one more. */
  words: string[];
  /** Everything else: options and the command's positionals. */
  rest: string[];
  /** Every word that is neither an option nor a global option's value, in order (for suggestions). */
  loose: string[];
}

/** Splits the command words from the rest; global options may come first (`tenantctl --json tenant list`). */
export function splitWords(argv: readonly string[], commands: readonly Command[], globals: Record<string, OptionSpec>): Split {
  const withValue = new Set(Object.entries(globals).filter(([, o]) => o.type === 'string').map(([n]) => `--${n}`));
  const words: string[] = [];
  const rest: string[] = [];
  const loose: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { rest.push(...argv.slice(i)); loose.push(...argv.slice(i + 1)); break; }
    if (a.startsWith('-')) {
      rest.push(a);
      if (withValue.has(a) && i + 1 < argv.length) rest.push(argv[++i]!);
      continue;
    }
    loose.push(a);
    if (words.length === 0 || isGroup(commands, words)) words.push(a);
    else rest.push(a);
  }
  return { words, rest, loose };
}

/** Our option specs as parseArgs' configuration (it only knows type, short and multiple). */
const parseSpec = (options: Record<string, OptionSpec>) => Object.fromEntries(Object.entries(options).map(([name, o]) => [name, {
  type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}),
}]));

/** The command's options and positionals; an unknown option is a UsageError naming the nearest known one. */
export function parseCommandLine(cmd: Command, rest: string[], globals: Record<string, OptionSpec>): Args {
  const options = { ...globals, ...cmd.options };
  const spec = parseSpec(options);
  // A lenient pass first: it lists every option as a token, so the unknown one can be named.
  const { tokens } = parseArgs({ args: rest, options: spec, allowPositionals: true, strict: false, tokens: true });
  for (const t of tokens) {
    if (t.kind !== 'option' || t.name in options) continue;
    const meant = t.rawName.startsWith('--') ? nearest(t.name, Object.keys(options)) : undefined;
    throw new UsageError(`unknown option "${t.rawName}"${meant ? `. Did you mean "--${meant}"?` : ''}`, cmd);
  }
  const parsed = parseArgs({ args: rest, options: spec, allowPositionals: true, strict: true });
  return { values: parsed.values, positionals: parsed.positionals };
}
