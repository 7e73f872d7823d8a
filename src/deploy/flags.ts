/**
 * The deploy scripts' command lines, parsed with node:util's parseArgs but refused in our own
 * words: parseArgs repeats an unexpected argument in its message, and an argument may be a secret
 * pasted in the wrong place. A refusal names the option at most, never an argument's value.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError } from './database-urls.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** `argv` parsed against `options`; `retired` maps options no longer taken to what replaces them. */
export function parseFlags<O extends Options>(argv: string[], options: O, retired: Readonly<Record<string, string>> = {}) {
  for (const arg of argv) {
    const name = /^--[A-Za-z0-9-]+/.exec(arg)?.[0];
    if (name && retired[name]) {
      throw new InputError(`${name} is no longer taken on the command line (ps and shell history show arguments): set ${retired[name]} in the environment or in the --input file (docs/deploy.md)`);
    }
  }
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const known = Object.keys(options).map((o) => `--${o}`).join(', ');
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      // parseArgs names only the option here (what stands before any `=`), but cut it to a flag's shape anyway.
      const opt = /'(-{1,2}[A-Za-z0-9-]{1,40})/.exec(String((err as Error).message))?.[1] ?? 'an option';
      throw new InputError(`unknown option ${opt}: the options are ${known}`);
    }
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') throw new InputError(`an argument that belongs to no option (not shown: it may be a secret); the options are ${known}`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const opt = /'(--[A-Za-z0-9-]{1,40})/.exec(String((err as Error).message))?.[1] ?? 'an option';
      throw new InputError(`${opt} needs a value, or takes none (not shown)`);
    }
    throw new InputError('the command line could not be read (not shown: it may hold a secret)');
  }
}
