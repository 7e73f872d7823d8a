/** Help texts, generated from the commands' own descriptions so they cannot drift. */
import type { Command, OptionSpec } from './command.js';
import { DEFAULT_TIMEOUT_SECONDS } from './config.js';

/** Options every command takes. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  stack: { type: 'string', arg: 'FILE', help: 'stack description (default .local/stack.json of the repository; env TENANTCTL_STACK)' },
  url: { type: 'string', arg: 'URL', help: 'control plane URL (env TENANTCTL_URL; overrides the stack file)' },
  token: { type: 'string', arg: 'TOKEN', help: 'admin token or admin JWT (env TENANTCTL_TOKEN; overrides the stack file)' },
  timeout: { type: 'string', arg: 'SECONDS', help: `give up on an API call after this long (default ${DEFAULT_TIMEOUT_SECONDS}; env TENANTCTL_TIMEOUT)` },
  json: { type: 'boolean', help: "print the API's JSON instead of tables" },
  help: { type: 'boolean', short: 'h', help: 'show help' },
  version: { type: 'boolean', short: 'V', help: "print tenantctl's version" },
};

const usageLine = (c: Command) => {
  const required = Object.entries(c.options ?? {}).filter(([, o]) => o.required).map(([n, o]) => `--${n} ${o.arg ?? ''}`.trim());
  return ['tenantctl', c.name, c.args, ...required, c.options && '[options]'].filter(Boolean).join(' ');
};

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, o]) => [
    `${o.short ? `-${o.short}, ` : ''}--${name}${o.arg ? ` ${o.arg}` : ''}`,
    o.help + (o.required ? ' (required)' : '') + (o.multiple ? ' (repeatable)' : ''),
  ] as const);
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, h]) => `  ${l.padEnd(width)}  ${h}`);
}

/** Help for one command. */
export function commandHelp(c: Command): string {
  return [
    `usage: ${usageLine(c)}`, '', c.summary,
    ...(c.details ? ['', c.details] : []),
    ...(c.options ? ['', 'options:', ...optionLines(c.options)] : []),
    ...(c.examples?.length ? ['', 'examples:', ...c.examples.map((e) => `  tenantctl ${e}`)] : []),
    '', 'global options:', ...optionLines(GLOBAL_OPTIONS),
  ].join('\n');
}

/** The first word of each command, in the order the commands are listed: the groups. */
export const groupsOf = (commands: readonly Command[]): string[] => [...new Set(commands.map((c) => c.name.split(' ')[0]!))];

/** Help for the whole tool (every group, its commands together), or for one group (`tenant`, `tenant jwt`). */
export function toolHelp(commands: Command[], group?: string): string {
  const shown = group ? commands.filter((c) => c.name.startsWith(`${group} `)) : commands;
  const label = (c: Command) => `${c.name}${c.args ? ` ${c.args}` : ''}`;
  const width = Math.max(...shown.map((c) => label(c).length));
  const lines: string[] = [];
  for (const g of groupsOf(shown)) {
    if (lines.length) lines.push('');
    for (const c of shown.filter((x) => x.name.split(' ')[0] === g)) lines.push(`  ${label(c).padEnd(width)}  ${c.summary}`);
  }
  return [
    group ? `usage: tenantctl ${group} <command> [options]` : 'tenantctl: the control plane\'s admin API from a terminal',
    ...(group ? [] : ['', 'usage: tenantctl <command> [options]   (tenantctl <command> --help for its options and examples)',
      '', `groups: ${groupsOf(commands.filter((c) => c.name.includes(' '))).join(', ')}`]),
    '', 'commands:', ...lines,
    '', 'global options:', ...optionLines(GLOBAL_OPTIONS),
    '', 'exit codes: 0 done, 1 refused or failed (error CODE: message on stderr), 2 usage error, 130 interrupted',
  ].join('\n');
}
