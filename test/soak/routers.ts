/**
 * Starts the soak's edge: N router isolates (the production entry, workers/router/index.ts, as N
 * separate workers), the object host (guard-host.ts) and the balancer, in one `wrangler dev`
 * session (multi-config), so the isolates share the Durable Objects as edge isolates do.
 * The generated configs carry the stack's throwaway secrets: they live in .local/soak (0600) and
 * are removed when the session ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../harness/ports.js';
import { waitForHttp } from '../harness/workers.js';

export interface Edge { url: string; isolates: number; child: ChildProcess; logFile: string; stop(): Promise<void> }

const COMPAT = 'compatibility_date = "2026-04-20"\ncompatibility_flags = ["nodejs_compat", "enable_request_signal"]';
const lit = (v: string) => {
  if (v.includes("'") || v.includes('\n')) throw new Error('value cannot be a TOML literal string');
  return `'${v}'`;
};
const vars = (env: Record<string, string>) => `[vars]\n${Object.entries(env).map(([k, v]) => `${k} = ${lit(v)}`).join('\n')}`;
const objects = (scriptName: string | null) => ['TENANT_GUARD:TenantGuard', 'CIRCUIT_BREAKER:CircuitBreaker'].map((b) => {
  const [name, cls] = b.split(':');
  return `[[durable_objects.bindings]]\nname = "${name}"\nclass_name = "${cls}"${scriptName ? `\nscript_name = "${scriptName}"` : ''}`;
}).join('\n\n');

/** Writes the configs and starts the session; resolves once the balancer answers. */
export async function startEdge(root: string, env: Record<string, string>, isolates: number, opts: { broken?: boolean } = {}): Promise<Edge> {
  const dir = join(root, '.local', `soak-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  const write = (name: string, text: string) => { writeFileSync(join(dir, name), text + '\n', { mode: 0o600 }); return join(dir, name); };
  const configs = [write('balancer.toml', [
    'name = "soak-balancer"', `main = "../../test/soak/edge/${opts.broken ? 'missing' : 'balancer'}.ts"`, COMPAT,
    // Top-level keys before the first table: after `[vars]` they would belong to it.
    `services = [\n${[...Array(isolates).keys()].map((i) => `  { binding = "ROUTER_${i}", service = "soak-router-${i}" },`).join('\n')}\n  { binding = "GUARD_HOST", service = "soak-guard-host" },\n]`,
    vars({ ISOLATES: String(isolates) }),
  ].join('\n\n'))];
  for (let i = 0; i < isolates; i++) {
    configs.push(write(`router-${i}.toml`, [`name = "soak-router-${i}"`, 'main = "../../workers/router/index.ts"', COMPAT, vars(env), objects('soak-guard-host')].join('\n\n')));
  }
  configs.push(write('guard-host.toml', ['name = "soak-guard-host"', 'main = "../../test/soak/edge/guard-host.ts"', COMPAT, vars(env), objects(null),
    '[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["TenantGuard", "CircuitBreaker"]'].join('\n\n')));
  const port = await freePort();
  // The session's output is kept (it names the exception behind a 500) unless SOAK_DEBUG shows it live.
  const logDir = join(root, '.local', 'soak-logs');
  mkdirSync(logDir, { recursive: true });
  for (const f of readdirSync(logDir)) if (Date.now() - statSync(join(logDir, f)).mtimeMs > 86_400_000) rmSync(join(logDir, f), { force: true });
  const logFile = join(logDir, `edge-${process.pid}.log`);
  const out = process.env.SOAK_DEBUG ? 'inherit' : openSync(logFile, 'w', 0o600);
  const child = spawn(join(root, 'node_modules/.bin/wrangler'), ['dev', ...configs.flatMap((c) => ['-c', c]),
    '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(await freePort()),
    '--persist-to', join(dir, 'state'), '--show-interactive-dev-session=false', '--log-level', 'info'], {
    // Its own process group: stopping it stops workerd too (killing wrangler alone orphans workerd).
    cwd: root, stdio: ['ignore', out, out], detached: true,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' },
  });
  const url = `http://127.0.0.1:${port}`;
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const killGroup = (signal: NodeJS.Signals) => { try { process.kill(-child.pid!, signal); } catch { /* gone */ } };
  process.on('exit', () => { killGroup('SIGKILL'); cleanup(); });
  await waitForHttp(`${url}/healthz`, 120_000, child);
  return {
    url, isolates, child, logFile,
    stop: async () => {
      const exited = new Promise((r) => child.once('exit', r));
      killGroup('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      killGroup('SIGKILL');
      cleanup();
    },
  };
}
