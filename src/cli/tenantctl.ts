/**
 * tenantctl: the control plane's admin API from a terminal. Parses the command line
 * (node:util parseArgs), runs one command and exits with its code: 0 done, 1 refused or failed
 * (`error CODE: message` on stderr), 2 usage error, 130 interrupted. Started by tenantctl.mjs.
 */
import { parseCommandLine, isGroup, splitWords } from './argv.js';
import { ApiError, ControlClient } from './client.js';
import { checkArgs, EXIT, str, UsageError, type Args, type Command, type Context } from './command.js';
import { ConfigError, loadConfig, MAX_TIMEOUT_SECONDS, parseSeconds } from './config.js';
import { output } from './format.js';
import { commandHelp, GLOBAL_OPTIONS, toolHelp } from './help.js';
import { nearestCommand } from './suggest.js';
import { packageVersion } from './version.js';
import { auditCommands } from './audit.js';
import { domainCommands } from './domain.js';
import { migrateCommand } from './migrate.js';
import { migrationCommands } from './migrations.js';
import { tenantCommands } from './tenant.js';
import { tenantMoveCommands } from './tenant-move.js';
import { tenantBranchCommands } from './tenant-branch.js';
import { tenantBackupCommands } from './tenant-backup.js';
import { tenantChangeCommands } from './tenant-change.js';
import { tenantSettingCommands } from './tenant-settings.js';
import { tierCommands } from './tier.js';
import { tierEditCommands } from './tier-edit.js';
import { usageCommand } from './usage.js';
import { metricsCommands } from './metrics.js';
import { alertCommands } from './alerts.js';
import { keysCommands } from './keys.js';
import { tenantDataCommands } from './tenant-data.js';
import { bootstrapCommand } from './bootstrap.js';

/** Every command, in the order help lists them; a new group is one more line. */
export const COMMANDS: Command[] = [
  ...tenantCommands,
  ...tenantMoveCommands,
  ...tenantBranchCommands,
  ...tenantBackupCommands,
  ...tenantChangeCommands,
  ...tenantSettingCommands,
  ...tenantDataCommands,
  ...domainCommands,
  ...tierCommands,
  ...tierEditCommands,
  usageCommand,
  ...metricsCommands,
  ...alertCommands,
  ...auditCommands,
  migrateCommand,
  ...migrationCommands,
  ...keysCommands,
  bootstrapCommand,
];

/** Runs one invocation; returns the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { words, rest, loose } = splitWords(argv, COMMANDS, GLOBAL_OPTIONS);
  const before = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (before.includes('--version') || before.includes('-V')) { process.stdout.write(`${packageVersion()}\n`); return EXIT.OK; }
  const wantsHelp = before.includes('--help') || before.includes('-h');
  const cmd = COMMANDS.find((c) => c.name === words.join(' '));
  if (!cmd) return noCommand(words, loose, wantsHelp);
  if (wantsHelp) { process.stdout.write(`${commandHelp(cmd)}\n`); return EXIT.OK; }

  let args: Args;
  let timeout: number | undefined;
  try {
    args = parseCommandLine(cmd, rest, GLOBAL_OPTIONS);
    checkArgs(cmd, args);
    timeout = timeoutOption(args);
  } catch (err) {
    return usageFailure(cmd, err);
  }

  const values = args.values as { stack?: string; url?: string; token?: string; json?: boolean };
  let client: ControlClient | undefined;
  const ctx: Context = {
    out: output(values.json === true),
    client: () => (client ??= new ControlClient(loadConfig({ stack: values.stack, url: values.url, token: values.token, timeout, env }))),
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

/** No command by these words: a group's help, or the nearest command suggested (exit 2). */
function noCommand(words: string[], loose: string[], wantsHelp: boolean): number {
  if (words.length === 0 || isGroup(COMMANDS, words)) {
    const text = toolHelp(COMMANDS, words.length ? words.join(' ') : undefined);
    if (wantsHelp) { process.stdout.write(`${text}\n`); return EXIT.OK; }
    process.stderr.write(`${text}\n`);
    return EXIT.USAGE;
  }
  const guess = nearestCommand(loose, COMMANDS.map((c) => c.name));
  const group = words.slice(0, -1).join(' ');
  process.stderr.write(guess
    ? `error: unknown command "${guess.typed}". Did you mean "${guess.meant}"?\n`
    : `error: unknown command "${words.join(' ')}" (tenantctl ${group ? `${group} ` : ''}--help lists the commands)\n`);
  return EXIT.USAGE;
}

/** `--timeout SECONDS`, checked before anything is sent. */
function timeoutOption(a: Args): number | undefined {
  const text = str(a, 'timeout');
  if (text === undefined) return undefined;
  const n = parseSeconds(text);
  if (n === null) throw new UsageError(`--timeout must be seconds, more than 0 and at most ${MAX_TIMEOUT_SECONDS}`);
  return n;
}

/** parseArgs' own errors (unknown option, missing value) and ours are both exit 2. */
function usageFailure(cmd: Command, err: unknown): number {
  const known = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  if (!known) throw err;
  process.stderr.write(`error: ${(err as Error).message}\n${commandHelp(cmd).split('\n')[0]}\n(tenantctl ${cmd.name} --help for more)\n`);
  return EXIT.USAGE;
}

/**
 * Exits once stdout and stderr have been written out: to a pipe they are asynchronous, and
 * process.exit() would drop what is still queued (the end of a 10,000-tenant `migrate`).
 */
function exitFlushed(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv.slice(2)).then(
  (code) => exitFlushed(code),
  (err: unknown) => {
    process.stderr.write(`tenantctl: unexpected failure: ${err instanceof Error ? err.message : String(err)}\n`);
    exitFlushed(EXIT.FAILED);
  },
);
