/**
 * `npm run bench`: starts the local stack, runs each worker variant under `wrangler dev` one
 * after the other on this machine, loads it with autocannon from the same machine, and prints a
 * table and, as its last line, a JSON summary. Ratios compare cases measured in this same run.
 *
 *   1. router overhead: bare Hono worker vs the full pipeline on /api/v1/me (no database work)
 *   2. TenantGuard calls per 1,000 admitted requests of one hot tenant, with and without leasing,
 *      and the over-admission measured against a tenant held at its limit
 *   3. the same router with @upstash/ratelimit (sliding window, same Redis) instead of TenantGuard
 *   4. HTTP requests reaching the Neon endpoint per tenant API call, per isolation strategy
 *      (tenant lookups included: after the first call they come from the caches)
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { cpus, totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnStack } from '../harness/spawn-stack.js';
import { signPlatformToken } from '../harness/token.js';
import type { Stack } from '../support/stack-types.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DURATION = Number(process.env.BENCH_SECONDS ?? 6);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const PORT = 8797;
const log = (m: string) => console.error(`[bench] ${m}`);

interface Load { rps: number; p50: number; p99: number; ok: number; non2xx: number; seconds: number }

async function load(host: string, path: string, token: string | null, onWarm: () => Promise<unknown> = async () => {}, seconds = DURATION): Promise<Load> {
  const headers: Record<string, string> = { host };
  if (token) headers.authorization = `Bearer ${token}`;
  const url = `http://127.0.0.1:${PORT}${path}`;
  await autocannon({ url, headers, connections: CONNECTIONS, duration: 1 }); // warm-up: isolates, caches, leases
  await onWarm();
  const r = await autocannon({ url, headers, connections: CONNECTIONS, duration: seconds });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, ok: r['2xx'], non2xx: r.non2xx, seconds };
}

let current: ChildProcess | null = null;

async function worker(config: string, env: Record<string, string>): Promise<ChildProcess> {
  const envFile = resolve(ROOT, '.local/bench.env');
  writeFileSync(envFile, Object.entries(env).map(([k, v]) => `${k}='${v}'`).join('\n') + '\n', { mode: 0o600 });
  const child = spawn(resolve(ROOT, 'node_modules/.bin/wrangler'),
    ['dev', '--config', config, '--ip', '127.0.0.1', '--port', String(PORT), '--env-file', envFile, '--persist-to', resolve(ROOT, '.local/bench-state'), '--show-interactive-dev-session=false', '--log-level', 'error'],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' } });
  current = child;
  for (let i = 0; i < 240; i++) {
    try { await fetch(`http://127.0.0.1:${PORT}/healthz`); return child; } catch { await new Promise((r) => setTimeout(r, 250)); }
  }
  throw new Error(`wrangler dev ${config} did not start`);
}

async function stop(child: ChildProcess) {
  current = null;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
}

async function guardCalls(tenantId: string): Promise<number> {
  const s = await (await fetch(`http://127.0.0.1:${PORT}/__bench/guard-stats/${tenantId}`)).json() as Record<string, number>;
  return Object.values(s).reduce((a, b) => a + b, 0);
}

async function main() {
  log('starting the local stack');
  const running = await spawnStack<Stack>(ROOT, resolve(ROOT, '.local/stack-bench.json'));
  const { stack } = running;
  const token = (slug: string) => signPlatformToken(stack.platform, stack.tenants[slug]!.id, 3600);
  const routerConfig = resolve(ROOT, 'test/bench/wrangler.router.toml');
  const results: Record<string, unknown> = {};
  try {
    // 1. Router overhead.
    let w = await worker(resolve(ROOT, 'test/bench/wrangler.bare.toml'), {});
    log('case 1: bare Hono worker');
    const bare = await load('acme.localhost', '/api/v1/me', null);
    await stop(w);

    w = await worker(routerConfig, stack.routerEnv);
    log('case 1: full pipeline (leasing on)');
    const full = await load('acme.localhost', '/api/v1/me', token('acme'));
    log('case 2: hot tenant, leasing on');
    const acmeId = stack.tenants.acme!.id;
    let before = 0;
    const hotLease = await load('acme.localhost', '/api/v1/me', token('acme'), async () => { before = await guardCalls(acmeId); });
    const callsLease = (await guardCalls(acmeId)) - before;
    log('case 2: tenant at its limit (300/s, burst 200), leasing on');
    const limited = await load('q-lease.localhost', '/api/v1/me', token('q-lease'));
    log('case 4: Neon requests per API call');
    const perCall: Record<string, number> = {};
    for (const [slug, strategy] of [['acme', 'row'], ['globex', 'schema'], ['initech', 'database']] as const) {
      const host = slug === 'initech' ? 'initech.test' : `${slug}.localhost`;
      const call = () => get(host, '/api/v1/tracks', token(slug));
      for (let i = 0; i < 5; i++) await call();
      const s0 = await neonTotal(stack);
      const n = 100;
      for (let i = 0; i < n; i++) { const status = await call(); if (status !== 200) throw new Error(`${slug}: ${status}`); }
      perCall[strategy] = ((await neonTotal(stack)) - s0) / n;
    }
    await stop(w);

    w = await worker(routerConfig, { ...stack.routerEnv, QUOTA_LEASING: 'false' });
    log('case 2: hot tenant, leasing off');
    const hotExact = await load('acme.localhost', '/api/v1/me', token('acme'), async () => { before = await guardCalls(acmeId); });
    const callsExact = (await guardCalls(acmeId)) - before;
    log('case 2: tenant at its limit, leasing off');
    const limitedExact = await load('q-lease.localhost', '/api/v1/me', token('q-lease'));
    await stop(w);

    w = await worker(routerConfig, { ...stack.routerEnv, BENCH_LIMITER: 'upstash' });
    log('case 3: @upstash/ratelimit instead of TenantGuard');
    const upstash = await load('acme.localhost', '/api/v1/me', token('acme'));
    await stop(w);

    // The most the bucket can admit in the measured window: what it held at the start (at most the
    // burst, 200) plus the refill, 300/s.
    const bound = (l: Load) => 200 + 300 * l.seconds;
    const over = (l: Load) => Math.max(0, l.ok - bound(l));
    Object.assign(results, {
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
      loadGenerator: { tool: 'autocannon', connections: CONNECTIONS, seconds: DURATION, warmupSeconds: 1, sameMachine: true },
      overhead: { bareRps: bare.rps, fullRps: full.rps, ratio: full.rps / bare.rps, addedP50ms: full.p50 - bare.p50, addedP99ms: full.p99 - bare.p99 },
      leasing: {
        withLeasing: { rps: hotLease.rps, admitted: hotLease.ok, guardCallsPer1000: (1000 * callsLease) / Math.max(1, hotLease.ok) },
        withoutLeasing: { rps: hotExact.rps, admitted: hotExact.ok, guardCallsPer1000: (1000 * callsExact) / Math.max(1, hotExact.ok) },
        rpsRatio: hotLease.rps / hotExact.rps,
        atLimit: {
          limitPerSec: 300, burst: 200,
          withLeasing: { admittedPerSec: limited.ok / limited.seconds, admitted: limited.ok, bound: bound(limited), refused: limited.non2xx, overAdmitted: over(limited) },
          withoutLeasing: { admittedPerSec: limitedExact.ok / limitedExact.seconds, admitted: limitedExact.ok, bound: bound(limitedExact), refused: limitedExact.non2xx, overAdmitted: over(limitedExact) },
        },
      },
      upstashRatelimit: { rps: upstash.rps, tenantGuardRps: full.rps, ratio: full.rps / upstash.rps, p50ms: upstash.p50, p99ms: upstash.p99 },
      neonRequestsPerApiCall: perCall,
    });
  } finally {
    if (current) await stop(current);
    await running.stop();
  }
  printTable(results);
  console.log(JSON.stringify(results));
}

/** GET with a Host header (Node's fetch refuses to set one); resolves to the status. */
function get(host: string, path: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: PORT, path, headers: { host, authorization: `Bearer ${token}` } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function neonTotal(stack: Stack): Promise<number> {
  const s = await (await fetch(`${stack.neonEndpoint}/_stats`)).json() as { httpRequestsPerDatabase: Record<string, number> };
  return Object.values(s.httpRequestsPerDatabase).reduce((a, b) => a + b, 0);
}

function printTable(r: Record<string, any>) {
  const f = (n: number, d = 0) => n.toFixed(d);
  const rows = [
    ['machine', `${r.machine.cpus} × ${r.machine.cpu}, ${r.machine.memGiB} GiB, Node ${r.machine.node}`],
    ['load', `autocannon, ${r.loadGenerator.connections} connections, ${r.loadGenerator.seconds} s (+1 s warm-up), same machine`],
    ['1 bare Hono worker', `${f(r.overhead.bareRps)} req/s`],
    ['1 full pipeline', `${f(r.overhead.fullRps)} req/s  ratio ${f(r.overhead.ratio, 2)}  +p50 ${f(r.overhead.addedP50ms, 1)} ms  +p99 ${f(r.overhead.addedP99ms, 1)} ms`],
    ['2 hot tenant, leasing', `${f(r.leasing.withLeasing.rps)} req/s  ${f(r.leasing.withLeasing.guardCallsPer1000, 1)} guard calls / 1000 admitted`],
    ['2 hot tenant, no leasing', `${f(r.leasing.withoutLeasing.rps)} req/s  ${f(r.leasing.withoutLeasing.guardCallsPer1000, 1)} guard calls / 1000 admitted  (leasing ×${f(r.leasing.rpsRatio, 2)})`],
    ['2 at limit 300/s, leasing', `${f(r.leasing.atLimit.withLeasing.admittedPerSec)} admitted/s (${r.leasing.atLimit.withLeasing.admitted} ≤ bound ${r.leasing.atLimit.withLeasing.bound}), ${r.leasing.atLimit.withLeasing.refused} refused, over-admitted ${r.leasing.atLimit.withLeasing.overAdmitted}`],
    ['2 at limit 300/s, no leasing', `${f(r.leasing.atLimit.withoutLeasing.admittedPerSec)} admitted/s (${r.leasing.atLimit.withoutLeasing.admitted} ≤ bound ${r.leasing.atLimit.withoutLeasing.bound}), ${r.leasing.atLimit.withoutLeasing.refused} refused, over-admitted ${r.leasing.atLimit.withoutLeasing.overAdmitted}`],
    ['3 @upstash/ratelimit', `${f(r.upstashRatelimit.rps)} req/s  (TenantGuard ×${f(r.upstashRatelimit.ratio, 2)})`],
    ['4 Neon HTTP requests / API call', Object.entries(r.neonRequestsPerApiCall).map(([k, v]) => `${k} ${(v as number).toFixed(2)}`).join('  ')],
  ];
  const w = Math.max(...rows.map(([a]) => a!.length));
  for (const [a, b] of rows) console.log(`${a!.padEnd(w)}  ${b}`);
}

main().catch((err) => { console.error(err); process.exit(1); });
