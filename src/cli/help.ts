/** Help texts, generated from the commands' own descriptions so they cannot drift. */
import type { Command, OptionSpec } from './command.js';

/** Options every command takes. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  stack: { type: 'string', arg: 'FILE', help: 'stack description (default .local/stack.json of the repository; env TENANTCTL_STACK)' },
  url: { type: 'string', arg: 'URL', help: 'control plane URL (env TENANTCTL_URL; overrides the stack file)' },
  token: { type: 'string', arg: 'TOKEN', help: 'admin token or admin JWT (env TENANTCTL_TOKEN; overrides the stack file)' },
  json: { type: 'boolean', help: "print the API's JSON instead of tables" },
  help: { type: 'boolean', short: 'h', help: 'show help' },
};

const usageLine = (c: Command) => {
  const required = Object.entries(c.options ?? {}).filter(([, o]) => o.required).map(([n, o]) => `--${n} ${o.arg ?? ''}`.trim());
  return ['tenantctl', c.name, c.args, ...required, c.options && '[options]'].filter(Boolean).join(' ');
};

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, o]) => [
    `${o.short ? `-${o.short}, ` : ''}--${name}${o.arg ? ` ${o.arg}` : ''}`, o.help + (o.required ? ' (required)' : ''),
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
    '', 'global options:', ...optionLines(GLOBAL_OPTIONS),
  ].join('\n');
}

/** Help for the whole tool, or for one group of commands (`tenant`, `tier`, ...). */
export function toolHelp(commands: Command[], group?: string): string {
  const shown = group ? commands.filter((c) => c.name.split(' ')[0] === group) : commands;
  const rows = shown.map((c) => [`${c.name}${c.args ? ` ${c.args}` : ''}`, c.summary] as const);
  const width = Math.max(...rows.map(([l]) => l.length));
  return [
    group ? `usage: tenantctl ${group} <command> [options]` : 'tenantctl: tenants, domains, tiers, usage, audit and migrations through the control API',
    ...(group ? [] : ['', 'usage: tenantctl <command> [options]   (tenantctl <command> --help for its options)']),
    '', 'commands:', ...rows.map(([l, s]) => `  ${l.padEnd(width)}  ${s}`),
    '', 'global options:', ...optionLines(GLOBAL_OPTIONS),
    '', 'exit codes: 0 done, 1 refused or failed (error CODE: message on stderr), 2 usage error, 130 interrupted',
  ].join('\n');
}
