/**
 * tenantctl: the control plane's admin API from a terminal. Parses the command line
 * (node:util parseArgs), runs one command and exits with its code: 0 done, 1 refused or failed
 * (`error CODE: message` on stderr), 2 usage error, 130 interrupted. Started by tenantctl.mjs.
 */
import { parseArgs } from 'node:util';
import { ApiError, ControlClient } from './client.js';
import { checkArgs, EXIT, UsageError, type Args, type Command, type Context, type OptionSpec } from './command.js';
import { ConfigError, loadConfig } from './config.js';
import { output } from './format.js';
import { commandHelp, GLOBAL_OPTIONS, toolHelp } from './help.js';
import { auditCommands } from './audit.js';
import { domainCommands } from './domain.js';
import { migrateCommand } from './migrate.js';
import { tenantCommands } from './tenant.js';
import { tierCommands } from './tier.js';
import { usageCommand } from './usage.js';
import { bootstrapCommand } from './bootstrap.js';

export const COMMANDS: Command[] = [...tenantCommands, ...domainCommands, ...tierCommands, usageCommand, ...auditCommands, migrateCommand, bootstrapCommand];

const GLOBAL_WITH_VALUE = new Set(Object.entries(GLOBAL_OPTIONS).filter(([, o]) => o.type === 'string').map(([n]) => `--${n}`));
const isGroup = (word: string) => COMMANDS.some((c) => c.name.startsWith(`${word} `));

/**
 * Splits the command words (`tenant create`) from everything else; global options may come
 * before them (`tenantctl --json tenant list`).
 */
function splitWords(argv: string[]): { words: string[]; rest: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { rest.push(...argv.slice(i)); break; }
    if (a.startsWith('-')) {
      rest.push(a);
      if (GLOBAL_WITH_VALUE.has(a) && i + 1 < argv.length) rest.push(argv[++i]!);
    } else if (words.length === 0 || (words.length === 1 && isGroup(words[0]!))) {
      words.push(a);
    } else {
      rest.push(a);
    }
  }
  return { words, rest };
}

/** Our option specs as parseArgs' configuration (it only knows type, short and multiple). */
const parseSpec = (options: Record<string, OptionSpec>) => Object.fromEntries(Object.entries(options).map(([name, o]) => [name, {
  type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}),
}]));

/** Runs one invocation; returns the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { words, rest } = splitWords(argv);
  const wantsHelp = rest.includes('--help') || rest.includes('-h');
  const cmd = COMMANDS.find((c) => c.name === words.join(' '));
  if (!cmd) {
    if (words.length === 0 || (words.length === 1 && isGroup(words[0]!))) {
      const text = toolHelp(COMMANDS, words[0]);
      if (wantsHelp) { process.stdout.write(`${text}\n`); return EXIT.OK; }
      process.stderr.write(`${text}\n`);
      return EXIT.USAGE;
    }
    process.stderr.write(`error: unknown command "${words.join(' ')}" (tenantctl --help lists the commands)\n`);
    return EXIT.USAGE;
  }
  if (wantsHelp) { process.stdout.write(`${commandHelp(cmd)}\n`); return EXIT.OK; }

  let args: Args;
  try {
    const parsed = parseArgs({ args: rest, options: parseSpec({ ...GLOBAL_OPTIONS, ...cmd.options }), allowPositionals: true, strict: true });
    args = { values: parsed.values, positionals: parsed.positionals };
    checkArgs(cmd, args);
  } catch (err) {
    return usageFailure(cmd, err);
  }

  const values = args.values as { stack?: string; url?: string; token?: string; json?: boolean };
  let client: ControlClient | undefined;
  const ctx: Context = {
    out: output(values.json === true),
    client: () => (client ??= new ControlClient(loadConfig({ stack: values.stack, url: values.url, token: values.token, env }))),
  };
  try {
    return await cmd.run(ctx, args);
  } catch (err) {
    if (err instanceof ApiError) {
      process.stderr.write(`error ${err.code}: ${err.message}${err.requestId ? ` (request ${err.requestId})` : ''}\n`);
      return EXIT.FAILED;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT.FAILED;
    }
    if (err instanceof UsageError) return usageFailure(cmd, err);
    throw err;
  }
}

/** parseArgs' own errors (unknown option, missing value) and ours are both exit 2. */
function usageFailure(cmd: Command, err: unknown): number {
  const known = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  if (!known) throw err;
  process.stderr.write(`error: ${(err as Error).message}\n${commandHelp(cmd).split('\n')[0]}\n(tenantctl ${cmd.name} --help for more)\n`);
  return EXIT.USAGE;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`tenantctl: unexpected failure: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(EXIT.FAILED);
  },
);
