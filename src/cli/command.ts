/**
 * What a command is: its words, positionals, options (parsed with node:util parseArgs) and a run
 * function returning the exit code. Option accessors turn bad values into `UsageError` (exit 2)
 * before anything is sent to the control plane.
 */
import type { ControlClient } from './client.js';
import type { Output } from './format.js';

/** Exit codes: 0 done, 1 refused or failed, 2 usage error, 130 interrupted. */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, INTERRUPTED: 130 } as const;

export interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
  /** The value's placeholder in help, e.g. `T` for `--tier T`. */
  arg?: string;
  required?: boolean;
  choices?: readonly string[];
  help: string;
}

export interface Args {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

export interface Context {
  out: Output;
  /** The admin API client; configuration is read on first use, so `--help` needs no stack. */
  client(): ControlClient;
}

export interface Command {
  /** The words that select it: `tenant create`. */
  name: string;
  /** Positionals as shown in help: `<slug>`. */
  args?: string;
  /** How many positionals it takes: [min, max]. */
  arity: [number, number];
  summary: string;
  /** Extra help text shown under the options. */
  details?: string;
  /** Invocations shown under `examples:` in its help, without the leading `tenantctl`. */
  examples?: string[];
  options?: Record<string, OptionSpec>;
  run(ctx: Context, a: Args): Promise<number>;
}

/** A mistake in the invocation: printed with the command's usage, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(message: string, readonly command?: Command) {
    super(message);
  }
}

/** A string option, checked against its choices. */
export function str(a: Args, name: string, spec?: OptionSpec): string | undefined {
  const v = a.values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(`--${name} takes a value`);
  if (spec?.choices && !spec.choices.includes(v)) throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')}`);
  return v;
}

/** A repeatable string option, as a list. */
export function strs(a: Args, name: string): string[] {
  const v = a.values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

/** A repeatable option whose values may also be comma-separated (`--allow US,CA --allow GB`). */
export function items(a: Args, name: string): string[] {
  return strs(a, name).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/** A boolean flag. */
export const flag = (a: Args, name: string): boolean => a.values[name] === true;

/** A positive integer option within [1, max]. */
export function int(a: Args, name: string, max: number): number | undefined {
  const v = str(a, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > max) throw new UsageError(`--${name} must be an integer from 1 to ${max}`);
  return n;
}

/** Checks required options, choices and the number of positionals. */
export function checkArgs(cmd: Command, a: Args): void {
  const [min, max] = cmd.arity;
  if (a.positionals.length < min) throw new UsageError(`missing ${cmd.args ?? 'arguments'}`, cmd);
  if (a.positionals.length > max) throw new UsageError(`unexpected argument ${a.positionals[max]}`, cmd);
  for (const [name, spec] of Object.entries(cmd.options ?? {})) {
    if (spec.required && a.values[name] === undefined) throw new UsageError(`--${name} is required`, cmd);
    if (spec.type === 'string' && !spec.multiple) str(a, name, spec);
  }
}
