/**
 * Where the control plane is and how to authenticate: the local stack's description
 * (.local/stack.json, or `--stack` / TENANTCTL_STACK), overridden by `--url` / TENANTCTL_URL and
 * `--token` / TENANTCTL_TOKEN. The token is never printed, not even in an error.
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
  env: NodeJS.ProcessEnv;
}

export interface ControlConfig { url: string; token: string }

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
  return { url: url.replace(/\/+$/, ''), token };
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
