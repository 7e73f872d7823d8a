/** Runs the real tenantctl in a child process, and reads state back through the API and Postgres. */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import type { Stack } from '../support/stack-types.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = resolve(ROOT, 'src/cli/tenantctl.mjs');
/** Written by ./global-setup.ts. */
export const STACK_FILE = resolve(ROOT, '.local/stack-cli.json');

export interface Run { code: number | null; stdout: string; stderr: string }

/** The environment without TENANTCTL_* variables, so only --stack configures the tool. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TENANTCTL_')));
}

/** How to start the CLI: with or without the test stack, where, with which environment. */
export interface SpawnOptions {
  /** false: no `--stack` (the test passes --url/--token or wants the tool's own defaults). */
  stack?: boolean;
  /** Extra environment (TENANTCTL_* included). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Another copy of the launcher (an installed one). */
  cli?: string;
}

/** Starts `tenantctl --stack .local/stack-cli.json ...args`; stdin is not a terminal. */
export function spawnCli(args: string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, [opts.cli ?? CLI, ...(opts.stack === false ? [] : ['--stack', STACK_FILE]), ...args], {
    cwd: opts.cwd ?? ROOT, env: { ...cleanEnv(), ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs tenantctl to its end. */
export function tenantctl(...args: string[]): Promise<Run> {
  return collect(spawnCli(args));
}

/** Collects a child's output and exit code. */
export function collect(child: ChildProcess): Promise<Run> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  return new Promise((done, fail) => {
    child.once('error', fail);
    child.once('close', (code) => done({ code, stdout, stderr }));
  });
}

/** One admin API call with the stack's admin token. */
export async function admin<T = any>(stack: Stack, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`${stack.control.url}/admin/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${stack.control.adminToken}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: (text.startsWith('{') ? JSON.parse(text) : text) as T };
}

/** Runs one query on a fresh connection. */
export async function query<R extends pg.QueryResultRow = any>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(sql, params)).rows;
  } finally {
    await c.end();
  }
}

/** The value of `key` in tenantctl's `key  value` output. */
export function field(stdout: string, key: string): string | undefined {
  return new RegExp(`^${key} +(.*)$`, 'm').exec(stdout)?.[1];
}
