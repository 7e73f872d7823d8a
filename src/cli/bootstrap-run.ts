/**
 * The `bootstrap` command's work, loaded only when the command runs (it pulls in the Neon driver and
 * the bootstrap modules, which every other tenantctl command would otherwise pay for at start).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { neonConfig } from '@neondatabase/serverless';
import { bootstrap, bootstrapTargets, formatReport, planLines, type BootstrapEnv, type EnvMap } from '../bootstrap/index.js';
import { packageMigrations } from '../bootstrap/migrations-dir.js';
import { parseDotenv } from '../dotenv/dotenv.js';
import { useLocalNeonEndpoint } from '../data/neon-config.js';
import { EXIT, flag, str, UsageError, type Args, type Context } from './command.js';

export async function runBootstrap(ctx: Context, a: Args): Promise<number> {
  const files = envFiles(str(a, 'env'), str(a, 'router-env'), str(a, 'control-env'));
  let env: BootstrapEnv | undefined;
  try {
    env = { router: readEnv(files.router, 'router'), control: readEnv(files.control, 'control') };
    const targets = bootstrapTargets(env);
    const migrations = packageMigrations();
    if (flag(a, 'dry-run')) {
      ctx.out.result({ dryRun: true, plan: planLines(targets, migrations) }, () => ['dry run: nothing is changed', ...planLines(targets, migrations)]);
      return EXIT.OK;
    }
    await useWebSocket(targets.localEndpoint);
    const r = await bootstrap(env, migrations, { retireIdle: flag(a, 'retire-idle') });
    ctx.out.result(r, () => formatReport(r));
    if (!r.ok) ctx.out.note('error: a role is not safe to serve the router (see NOT SAFE above); fix it by hand and run bootstrap again');
    return r.ok ? EXIT.OK : EXIT.FAILED;
  } catch (err) {
    ctx.out.note(`error: ${scrub(err instanceof Error ? err.message : String(err), env)}`);
    return EXIT.FAILED;
  }
}

function envFiles(name: string | undefined, router: string | undefined, control: string | undefined): { router: string; control: string } {
  if (name !== undefined && !/^[A-Za-z0-9_-]{1,40}$/.test(name)) throw new UsageError('--env must be a plain name such as production');
  if (name !== undefined && (router || control)) throw new UsageError('give either --env or --router-env/--control-env');
  if (name !== undefined) return { router: resolve('.secrets', name, 'router.env'), control: resolve('.secrets', name, 'control.env') };
  if (!router || !control) throw new UsageError('give --env NAME, or both --router-env and --control-env');
  return { router: resolve(router), control: resolve(control) };
}

function readEnv(file: string, which: string): EnvMap {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (err) {
    throw new Error(`cannot read the ${which} variables from ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`);
  }
  try { return parseDotenv(text); } catch (err) { throw new Error(`${file}: ${(err as Error).message}`); }
}

/** The driver's WebSocket in Node: the runtime's own (Node ≥ 22), else the `ws` package. */
async function useWebSocket(localEndpoint: string | undefined): Promise<void> {
  let ctor: unknown = (globalThis as { WebSocket?: unknown }).WebSocket;
  if (!ctor) {
    try { ctor = (await import('ws')).default; } catch {
      throw new Error('this Node has no WebSocket: use Node 22 or later, or install the ws package');
    }
  }
  neonConfig.webSocketConstructor = ctor as typeof neonConfig.webSocketConstructor;
  useLocalNeonEndpoint(localEndpoint, ctor);
}

/** `message` without URL credentials or any password of the variables. */
function scrub(message: string, env: BootstrapEnv | undefined): string {
  let out = message.replace(/(\/\/[^:/@\s]+):[^@\s]*@/g, '$1:***@');
  for (const map of env ? [env.router, env.control] : []) {
    for (const v of Object.values(map)) {
      for (const m of (v ?? '').matchAll(/:\/\/[^:/@\s]+:([^@\s]+)@/g)) out = out.split(decodeURIComponent(m[1]!)).join('***').split(m[1]!).join('***');
    }
  }
  return out;
}
