/**
 * Where the control plane is and how to authenticate: the local stack's description
 * (.local/stack.json, or `--stack` / TENANTCTL_STACK), overridden by `--url` / TENANTCTL_URL and
 * `--token` / TENANTCTL_TOKEN. The token is never printed, not even in an error. Every call is
 * bounded by `--timeout` / TENANTCTL_TIMEOUT seconds (default 30).
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: relative paths such as migrations/tenant resolve against it, not the cwd. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface ConfigSources {
  stack?: string;
  url?: string;
  token?: string;
  /** Seconds, already checked (`--timeout`); else TENANTCTL_TIMEOUT, else the default. */
  timeout?: number;
  env: NodeJS.ProcessEnv;
}

export interface ControlConfig { url: string; token: string; timeoutSeconds: number }

/** How long one admin call may take when nothing says otherwise. */
export const DEFAULT_TIMEOUT_SECONDS = 30;
/** The longest timeout accepted: an hour. */
export const MAX_TIMEOUT_SECONDS = 3600;

/** A timeout in seconds (`30`, `0.5`), or null when the text is not one in (0, 3600]. */
export function parseSeconds(text: string): number | null {
  if (!/^\d+(\.\d+)?$/.test(text.trim())) return null;
  const n = Number(text);
  return n > 0 && n <= MAX_TIMEOUT_SECONDS ? n : null;
}

/** A problem with the configuration (exit 1, no usage text): the stack is not running, say. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Resolves the control plane's URL and admin token; the stack file is read only when needed. */
export function loadConfig(src: ConfigSources): ControlConfig {
  let url = src.url ?? src.env.TENANTCTL_URL;
  let token = src.token ?? src.env.TENANTCTL_TOKEN;
  if (!url || !token) {
    const file = src.stack ?? src.env.TENANTCTL_STACK ?? resolve(REPO_ROOT, '.local/stack.json');
    const control = readStack(resolve(file));
    url ??= control.url;
    token ??= control.adminToken;
  }
  if (!/^https?:\/\//.test(url)) throw new ConfigError(`control URL must be http(s): ${url.slice(0, 100)}`);
  return { url: url.replace(/\/+$/, ''), token, timeoutSeconds: src.timeout ?? envTimeout(src.env) };
}

function envTimeout(env: NodeJS.ProcessEnv): number {
  const text = env.TENANTCTL_TIMEOUT;
  if (text === undefined || text === '') return DEFAULT_TIMEOUT_SECONDS;
  const n = parseSeconds(text);
  if (n === null) throw new ConfigError(`TENANTCTL_TIMEOUT must be seconds, more than 0 and at most ${MAX_TIMEOUT_SECONDS}: ${text.slice(0, 20)}`);
  return n;
}

function readStack(file: string): { url: string; adminToken: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(`no stack file at ${file}: start the stack (npm start), or pass --url and --token`);
  }
  let control: unknown;
  try {
    control = (JSON.parse(text) as { control?: unknown }).control;
  } catch {
    throw new ConfigError(`${file} is not JSON`);
  }
  const c = control as { url?: unknown; adminToken?: unknown } | undefined;
  if (typeof c?.url !== 'string' || typeof c.adminToken !== 'string') {
    throw new ConfigError(`${file} has no control.url and control.adminToken`);
  }
  return { url: c.url, adminToken: c.adminToken };
}
