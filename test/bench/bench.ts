/**
 * `npm run bench`: starts the local stack and every worker variant under `wrangler dev` side by
 * side (each on its own port, idle while another is loaded), loads them with autocannon from the
 * same machine, and prints a table and, as its last line, a JSON summary. Latencies are recorded
 * per response in µs (HDR histogram, stats.ts); compared cases run interleaved, A B A B …, for
 * BENCH_ROUNDS rounds (3), and are reported as median (min–max) over the rounds.
 *
 *   1. overhead: bare Hono worker vs the full pipeline on /api/v1/me (no database work); where
 *      the time goes: Server-Timing per step (I/O waits) and a CPU profile of the router's isolate
 *   2. TenantGuard calls per 1,000 admitted requests of one hot tenant, with and without leasing,
 *      and the over-admission measured against a tenant held at its limit
 *   3. limiters: TenantGuard vs @upstash/ratelimit vs Cloudflare's Rate Limiting binding, each
 *      behind the same pipeline, and the cost of one decision
 *   4. HTTP requests reaching the Neon endpoint per tenant API call, per isolation strategy
 *   5. cost curve: 10, 1,000 and 10,000 active tenants (uniform and Zipf), a cold tenant's first
 *      request against a cached one, the router isolate's memory as tenants grow
 *   6. database route tax: /api/v1/tracks through the pipeline vs the same transaction sent by
 *      a bare worker through the Neon driver, per strategy
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { cpus, loadavg, totalmem } from 'node:os';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import WebSocket from 'ws';
import { spawnStack } from '../harness/spawn-stack.js';
import { signPlatformToken } from '../harness/token.js';
import type { Stack } from '../support/stack-types.js';
import { fmt, histogram, pairedDiff, pairedRatio, recordMs, spread, type Spread } from './stats.js';
import { distinct, picker, seedTenants, type BenchTenant } from './tenants.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const HELP = `npm run bench -- [options]   (each option also as an environment variable)
  --cases 1,6        only these cases (BENCH_CASES; default all: 1,2,3,4,5,6); only their workers start
  --seconds 4        seconds per load (BENCH_SECONDS)
  --rounds 3         interleaved rounds per compared case (BENCH_ROUNDS)
  --connections 16   autocannon connections (BENCH_CONNECTIONS)
  --baseline DIR     also run the router of another source tree (DIR/test/bench/wrangler.router.toml,
                     e.g. an earlier commit unpacked under .local/) interleaved with this one in cases
                     1 and 6: before/after in the same run (BENCH_BASELINE)
  --access-log MODE  what the measured routers (this tree's and --baseline's) do with the access-log line:
                     console (default: console.log, which wrangler dev ships over the inspector to its Node
                     process), sink (built, then dropped: the pipeline without the dev console's cost)
                     (BENCH_ROUTER_ACCESS_LOG)
  --ablate-keep-names  case 1 also runs the router bundled with keep_names = false (wrangler.router-no-keep-names.toml):
                     what esbuild's __name wrapping of every closure costs
  --help`;
function option(name: string, env: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  const eq = process.argv.find((a) => a.startsWith(`--${name}=`));
  return eq ? eq.slice(name.length + 3) : process.env[env];
}
if (process.argv.includes('--help') || process.argv.includes('-h')) { console.log(HELP); process.exit(0); }
const SECONDS = Number(option('seconds', 'BENCH_SECONDS') ?? 4);
const ROUNDS = Number(option('rounds', 'BENCH_ROUNDS') ?? 3);
const CONNECTIONS = Number(option('connections', 'BENCH_CONNECTIONS') ?? 16);
const CASES = new Set((option('cases', 'BENCH_CASES') ?? '1,2,3,4,5,6').split(',').map((c) => c.trim()).filter(Boolean));
const BASELINE = option('baseline', 'BENCH_BASELINE');
const ROUTER_LOG = option('access-log', 'BENCH_ROUTER_ACCESS_LOG') ?? 'console';
if (!['console', 'sink'].includes(ROUTER_LOG)) { console.error(HELP); process.exit(2); }
const want = (n: number) => CASES.has(String(n));
const ABLATE_KEEP_NAMES = process.argv.includes('--ablate-keep-names') || process.env.BENCH_ABLATE_KEEP_NAMES === '1';
const BASE_PORT = 8790;
const log = (m: string) => console.error(`[bench] ${m}`);

interface Target { host: string; token: string | null; path: string }
interface Load { rps: number; p50: number; p90: number; p99: number; max: number; ok: number; non2xx: number; errors: number; seconds: number }

/** One closed-loop load of `seconds` on `port` (after a 1 s warm-up), `pick` choosing each request's target. */
async function load(port: number, pick: () => Target, seconds = SECONDS, warm = true): Promise<Load> {
  const first = pick();
  const opts = (duration: number) => ({
    url: `http://127.0.0.1:${port}${first.path}`, connections: CONNECTIONS, duration,
    requests: [{ setupRequest: (req: Record<string, any>) => {
      const t = pick();
      const headers: Record<string, string> = { host: t.host };
      if (t.token) headers.authorization = `Bearer ${t.token}`;
      return { ...req, path: t.path, headers };
    } }],
  });
  if (warm) await autocannon(opts(1));
  const h = histogram();
  // Without a callback autocannon returns its instance, which is also the promise of the result.
  const inst = autocannon(opts(seconds)) as unknown as autocannon.Instance & Promise<autocannon.Result>;
  inst.on('response', (_c, _status, _bytes, ms) => recordMs(h, ms));
  const r = await inst;
  return {
    rps: h.totalCount / seconds, p50: h.getValueAtPercentile(50), p90: h.getValueAtPercentile(90), p99: h.getValueAtPercentile(99), max: h.maxValue,
    ok: r['2xx'], non2xx: r.non2xx, errors: r.errors + r.timeouts, seconds,
  };
}

/** `cases` run interleaved for ROUNDS rounds; each case's loads in round order. */
async function interleaved<K extends string>(cases: Record<K, () => Promise<Load>>, rounds = ROUNDS): Promise<Record<K, Load[]>> {
  const out = Object.fromEntries(Object.keys(cases).map((k) => [k, [] as Load[]])) as Record<K, Load[]>;
  for (let i = 0; i < rounds; i++) for (const k of Object.keys(cases) as K[]) out[k].push(await cases[k]());
  return out;
}

const summary = (ls: Load[]) => ({
  rps: spread(ls.map((l) => l.rps)), p50us: spread(ls.map((l) => l.p50)), p99us: spread(ls.map((l) => l.p99)),
  non2xx: ls.reduce((a, l) => a + l.non2xx, 0), errors: ls.reduce((a, l) => a + l.errors, 0),
});
const vs = (a: Load[], b: Load[]) => ({
  ratio: pairedRatio(a.map((l) => l.rps), b.map((l) => l.rps)),
  addedP50us: pairedDiff(a.map((l) => l.p50), b.map((l) => l.p50)),
  addedP99us: pairedDiff(a.map((l) => l.p99), b.map((l) => l.p99)),
});

// ---------------------------------------------------------------------------------------------
// Workers

interface Worker { name: string; port: number; inspector: number; child: ChildProcess }
const workers: Worker[] = [];

async function startWorker(name: string, config: string, env: Record<string, string>, index: number): Promise<Worker> {
  const port = BASE_PORT + index;
  const inspector = 9430 + index;
  const envFile = resolve(ROOT, `.local/bench-${name}.env`);
  writeFileSync(envFile, Object.entries(env).map(([k, v]) => `${k}='${v}'`).join('\n') + '\n', { mode: 0o600 });
  const child = spawn(resolve(ROOT, 'node_modules/.bin/wrangler'),
    // An absolute config (--baseline) stays as it is.
    ['dev', '--config', resolve(ROOT, 'test/bench', config), '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspector),
      '--env-file', envFile, '--persist-to', resolve(ROOT, `.local/bench-state-${name}`), '--show-interactive-dev-session=false', '--log-level', 'error'],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false', CLOUDFLARE_CF_FETCH_ENABLED: 'false' } });
  const w = { name, port, inspector, child };
  workers.push(w);
  for (let i = 0; i < 480; i++) {
    try { await fetch(`http://127.0.0.1:${port}/healthz`); return w; } catch { await new Promise((r) => setTimeout(r, 250)); }
  }
  throw new Error(`wrangler dev ${config} did not start`);
}

async function stopAll() {
  await Promise.all(workers.splice(0).map(async (w) => {
    const exited = new Promise((r) => w.child.once('exit', r));
    w.child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
  }));
}

/** Resident memory (MiB) of the workerd processes under `w`'s wrangler: the isolates it runs. */
function workerdRssMiB(w: Worker): number {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      comm.set(Number(d), stat.slice(stat.indexOf('(') + 1, close));
      parent.set(Number(d), Number(stat.slice(close + 2).split(' ')[1]));
    } catch { /* gone */ }
  }
  const under = (pid: number) => { for (let p: number | undefined = pid; p; p = parent.get(p)) if (p === w.child.pid) return true; return false; };
  let kb = 0;
  for (const [pid, name] of comm) {
    if (name !== 'workerd' || !under(pid)) continue;
    try { kb += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0); } catch { /* gone */ }
  }
  return kb / 1024;
}

/** GET with a Host header (Node's fetch refuses to set one): status, time in µs, headers. */
function get(port: number, t: Target): Promise<{ status: number; us: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const headers: Record<string, string> = { host: t.host };
    if (t.token) headers.authorization = `Bearer ${t.token}`;
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port, path: t.path, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, us: (performance.now() - t0) * 1000, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// Where the time goes

/** Mean Server-Timing per step over `n` sequential requests (ms: the I/O each step waited for). */
async function serverTimings(port: number, t: Target, n: number): Promise<Record<string, number>> {
  const sums: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await get(port, t);
    for (const part of String(r.headers['server-timing'] ?? '').split(',')) {
      const m = /^\s*([\w-]+);dur=([\d.]+)/.exec(part);
      if (m) sums[m[1]!] = (sums[m[1]!] ?? 0) + Number(m[2]) / n;
    }
  }
  return sums;
}

/** The pipeline's steps as named in the bundle (esbuild appends a digit to a renamed function). */
const STEPS = ['requestContext', 'observe', 'log', 'accessLine', 'services', 'securityAudit', 'resolveTenant', 'authenticate', 'verifyFor', 'residency',
  'storageQuota', 'requestBodyLimit', 'quota', 'meterBandwidth', 'countingStream', 'sizeBodies', 'utf8Length', 'proxy', 'breaker', 'dispatch',
  'traceFrom', 'routeOf', 'pointOf', 'serverTiming', 'statementRefusal', 'lex', 'httpBatch', 'tenantSetup', 'tenantVerify', 'view', 'validate', 'tenantCrypto'];

/** A CPU profile of `w`'s isolate while `run` loads it: each step's share of the samples (inclusive, synchronous stacks). */
async function cpuProfile(w: Worker, run: () => Promise<unknown>): Promise<{ samples: number; cpuUsPerRequest: number | null; sharePct: Record<string, number>; selfTopPct: [string, number][] } | { error: string }> {
  try {
    const list = await (await fetch(`http://127.0.0.1:${w.inspector}/json`)).json() as { webSocketDebuggerUrl: string; title?: string }[];
    const target = list.find((l) => !/ProxyWorker|__WRANGLER/i.test(l.title ?? '')) ?? list[0];
    if (!target) return { error: 'no inspector target' };
    const ws = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((r, j) => { ws.once('open', r); ws.once('error', j); });
    let id = 0;
    const pending = new Map<number, (v: any) => void>();
    ws.on('message', (d) => { const m = JSON.parse(String(d)); pending.get(m.id)?.(m); pending.delete(m.id); });
    const send = (method: string, params: object = {}) => new Promise<any>((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });
    await send('Profiler.enable');
    await send('Profiler.setSamplingInterval', { interval: 200 });
    await send('Profiler.start');
    const loaded = await run() as Partial<Load> | undefined;
    const stopped = await send('Profiler.stop');
    ws.close();
    const p = stopped.result.profile as { nodes: { id: number; callFrame: { functionName: string; url?: string; lineNumber?: number }; children?: number[] }[]; samples: number[] };
    // Self time: the function on top of each sample (where the CPU was), named with its file.
    const frame = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
    const self = new Map<string, number>();
    for (const s of p.samples) {
      const f = frame.get(s)!;
      const file = (f.url ?? '').split('/').pop() ?? '';
      const k = `${f.functionName || '(anonymous)'}${file ? ` ${file}:${(f.lineNumber ?? 0) + 1}` : ''}`;
      self.set(k, (self.get(k) ?? 0) + 1);
    }
    const parent = new Map<number, number>();
    const name = new Map<number, string>();
    for (const n of p.nodes) { name.set(n.id, n.callFrame.functionName.replace(/\d+$/, '')); for (const c of n.children ?? []) parent.set(c, n.id); }
    const counts = new Map<string, number>();
    for (const s of p.samples) {
      const seen = new Set<string>();
      for (let x: number | undefined = s; x !== undefined; x = parent.get(x)) seen.add(name.get(x)!);
      for (const k of seen) counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const total = p.samples.length;
    const busy = total - (counts.get('(idle)') ?? 0);
    const sharePct: Record<string, number> = {};
    for (const k of [...STEPS, '(garbage collector)', '(program)']) sharePct[k] = Math.round((1000 * (counts.get(k) ?? 0)) / busy) / 10;
    const selfTopPct = [...self].filter(([k]) => k !== '(idle)').sort((a, b) => b[1] - a[1]).slice(0, 15)
      .map(([k, n]) => [k, Math.round((1000 * n) / busy) / 10] as [string, number]);
    // The isolate's busy time per answered request: busy samples × the 200 µs interval (approximate,
    // but the same for every tree profiled, so comparable across them; less swayed by a
    // neighbour's load than requests per second).
    const answered = (loaded?.ok ?? 0) + (loaded?.non2xx ?? 0);
    const cpuUsPerRequest = answered ? Math.round((busy * 200) / answered) : null;
    return { samples: busy, cpuUsPerRequest, sharePct, selfTopPct };
  } catch (err) {
    return { error: String(err) };
  }
}

// ---------------------------------------------------------------------------------------------

async function guardCalls(port: number, tenantId: string): Promise<number> {
  const s = await (await fetch(`http://127.0.0.1:${port}/__bench/guard-stats/${tenantId}`)).json() as Record<string, number>;
  return Object.values(s).reduce((a, b) => a + b, 0);
}

async function neonTotal(stack: Stack): Promise<number> {
  const s = await (await fetch(`${stack.neonEndpoint}/_stats`)).json() as { httpRequestsPerDatabase: Record<string, number> };
  return Object.values(s.httpRequestsPerDatabase).reduce((a, b) => a + b, 0);
}

/** µs per limiter decision: `/__bench/decide` with n = N against n = 0, timed by the client, interleaved. */
async function decisionUs(port: number, n = 200, rounds = 5): Promise<Spread & { refused: number }> {
  const per: number[] = [];
  let refused = 0;
  for (let i = 0; i < rounds; i++) {
    const zero = await get(port, { host: 'bench', token: null, path: '/__bench/decide?n=0' });
    const full = await get(port, { host: 'bench', token: null, path: `/__bench/decide?n=${n}` });
    if (full.status !== 200) throw new Error(`decide: ${full.status} ${full.body}`);
    refused += (JSON.parse(full.body) as { refused: number }).refused;
    per.push((full.us - zero.us) / n);
  }
  return { ...spread(per), refused };
}

/** The targets of each strategy's tenant, as the router finds them, for the bare database worker. */
async function dbTargets(stack: Stack): Promise<Record<string, unknown>> {
  const c = new pg.Client({ connectionString: stack.control.postgresUrl });
  await c.connect();
  try {
    const out: Record<string, unknown> = {};
    for (const [slug, strategy] of [['acme', 'row'], ['globex', 'schema'], ['initech', 'database']] as const) {
      const t = stack.tenants[slug]!;
      const { rows: [p] } = await c.query<{ schema_name: string; role_name: string | null; connection_secret: string | null }>(
        'SELECT schema_name, role_name, connection_secret FROM tenant_placements WHERE tenant_id = $1', [t.id]);
      out[strategy] = strategy === 'database'
        ? { tenantId: t.id, sealed: p!.connection_secret, schema: p!.schema_name, role: null }
        : { tenantId: t.id, url: stack.regions[t.region]!.routerUrl, schema: p!.schema_name, role: strategy === 'schema' ? p!.role_name : null };
    }
    return out;
  } finally {
    await c.end();
  }
}

/** A case's result, or `{ error }`: one case failing does not lose the others' figures. */
async function attempt<T>(name: string, fn: () => Promise<T>): Promise<T | { error: string }> {
  try { return await fn(); } catch (err) { log(`${name} failed: ${String(err).slice(0, 500)}`); return { error: String(err).slice(0, 500) }; }
}

async function main() {
  const started = Date.now();
  log('starting the local stack');
  const running = await spawnStack<Stack>(ROOT, resolve(ROOT, '.local/stack-bench.json'));
  const { stack } = running;
  // Interrupted: the workers and the stack go too (nothing is left listening).
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => { log(`${sig}: stopping`); void stopAll().then(() => running.stop()).finally(() => process.exit(130)); });
  }
  const token = (id: string) => signPlatformToken(stack.platform, id, 3600);
  const slugToken = (slug: string) => token(stack.tenants[slug]!.id);
  const results: Record<string, unknown> = {};
  try {
    // Cold tenant lookups are rationed per isolate (50, then 20/s) against floods of unknown
    // hosts; the cost curve's first pass meets 10,000 unknown-to-it tenants, so its router gets room.
    const routerEnv = { ...stack.routerEnv, TENANT_LOOKUP_BURST: '10000', TENANT_LOOKUP_RATE: '10000' };
    log('starting the workers');
    const need = (...cases: number[]) => cases.some(want);
    const maybe = (on: boolean, start: () => Promise<Worker>) => (on ? start() : Promise.resolve(undefined as unknown as Worker));
    const [bare, router, noLease, upstash, cloudflare, noTokenCache, noAccessLog, sinkLog, base, bareDb, noKeepNames] = await Promise.all([
      maybe(need(1), () => startWorker('bare', 'wrangler.bare.toml', {}, 0)),
      startWorker('router', 'wrangler.router.toml', ROUTER_LOG === 'sink' ? { ...routerEnv, BENCH_ACCESS_LOG: 'sink' } : routerEnv, 1),
      maybe(need(2), () => startWorker('no-lease', 'wrangler.router.toml', { ...routerEnv, QUOTA_LEASING: 'false' }, 2)),
      maybe(need(3), () => startWorker('upstash', 'wrangler.router.toml', { ...routerEnv, BENCH_LIMITER: 'upstash' }, 3)),
      maybe(need(3), () => startWorker('cloudflare', 'wrangler.router.toml', { ...routerEnv, BENCH_LIMITER: 'cloudflare' }, 4)),
      maybe(need(1), () => startWorker('no-token-cache', 'wrangler.router.toml', { ...routerEnv, BENCH_TOKEN_CACHE: 'off' }, 6)),
      maybe(need(1), () => startWorker('no-access-log', 'wrangler.router.toml', { ...routerEnv, BENCH_ACCESS_LOG: 'off' }, 7)),
      // The line is built as for console.log and handed to a sink that drops it: what the line
      // costs without wrangler dev's console (which ships every console.log over the inspector).
      maybe(need(1), () => startWorker('sink-log', 'wrangler.router.toml', { ...routerEnv, BENCH_ACCESS_LOG: 'sink' }, 8)),
      maybe(!!BASELINE && need(1, 6), () => startWorker('baseline', resolve(BASELINE!, 'test/bench/wrangler.router.toml'), ROUTER_LOG === 'sink' ? { ...routerEnv, BENCH_ACCESS_LOG: 'sink' } : routerEnv, 9)),
      maybe(need(6), async () => startWorker('bare-db', 'wrangler.bare-db.toml', { BENCH_DB_TARGETS: JSON.stringify(await dbTargets(stack)), MASTER_KEY: stack.routerEnv.MASTER_KEY!, NEON_LOCAL_ENDPOINT: stack.routerEnv.NEON_LOCAL_ENDPOINT! }, 5)),
      maybe(ABLATE_KEEP_NAMES && need(1), () => startWorker('no-keep-names', 'wrangler.router-no-keep-names.toml', ROUTER_LOG === 'sink' ? { ...routerEnv, BENCH_ACCESS_LOG: 'sink' } : routerEnv, 10)),
    ]);
    const me = (slug: string): Target => ({ host: `${slug}.localhost`, token: slugToken(slug), path: '/api/v1/me' });
    const acme = me('acme');

    results.machine = { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), node: process.version };
    results.loadGenerator = { tool: 'autocannon', connections: CONNECTIONS, seconds: SECONDS, rounds: ROUNDS, warmupSeconds: 1, sameMachine: true, latency: 'µs, HDR histogram per response', cases: [...CASES], baseline: BASELINE ?? null, routerAccessLog: ROUTER_LOG, loadAverage: loadavg() };

    // 1. Overhead.
    if (want(1)) results.overhead = await attempt('overhead', async () => {
      log('case 1: bare Hono vs full pipeline, interleaved');
      const o = await interleaved({
        bare: () => load(bare.port, () => ({ host: 'acme.localhost', token: null, path: '/api/v1/me' })),
        full: () => load(router.port, () => acme),
        noTokenCache: () => load(noTokenCache.port, () => acme),
        noAccessLog: () => load(noAccessLog.port, () => acme),
        sinkLog: () => load(sinkLog.port, () => acme),
        ...(base ? { baseline: () => load(base.port, () => acme) } : {}),
        ...(noKeepNames ? { noKeepNames: () => load(noKeepNames.port, () => acme) } : {}),
      } as Record<'bare' | 'full' | 'noTokenCache' | 'noAccessLog' | 'sinkLog' | 'baseline' | 'noKeepNames', () => Promise<Load>>);
      log('case 1: where the time goes');
      const timings = await serverTimings(router.port, acme, 200);
      const profile = await cpuProfile(router, () => load(router.port, () => acme, 3, false));
      // A second pair, interleaved (this tree, baseline, this tree, baseline): CPU µs per request of each.
      const cpuPairs = base ? [
        [profile, await cpuProfile(base, () => load(base.port, () => acme, 3, false))],
        [await cpuProfile(router, () => load(router.port, () => acme, 3, false)), await cpuProfile(base, () => load(base.port, () => acme, 3, false))],
      ].map(([a, b]) => [(a as { cpuUsPerRequest?: number }).cpuUsPerRequest ?? null, (b as { cpuUsPerRequest?: number }).cpuUsPerRequest ?? null]) : null;
      return {
        bare: summary(o.bare), full: summary(o.full), ...vs(o.full, o.bare),
        // Ablations, each against the full pipeline of the same rounds.
        withoutTokenCache: { ...summary(o.noTokenCache), vsFull: vs(o.noTokenCache, o.full) },
        withoutAccessLog: { ...summary(o.noAccessLog), vsFull: vs(o.noAccessLog, o.full), vsBare: vs(o.noAccessLog, o.bare) },
        accessLogToSink: { ...summary(o.sinkLog), vsFull: vs(o.sinkLog, o.full), vsBare: vs(o.sinkLog, o.bare), vsNoLog: vs(o.sinkLog, o.noAccessLog) },
        ...(base ? { baseline: { ...summary(o.baseline), vsBare: vs(o.baseline, o.bare), fullVsBaseline: vs(o.full, o.baseline) } } : {}),
        ...(noKeepNames ? { withoutKeepNames: { ...summary(o.noKeepNames), vsFull: vs(o.noKeepNames, o.full), vsBare: vs(o.noKeepNames, o.bare) } } : {}),
        serverTimingMs: timings, cpuProfile: profile,
        ...(base ? { baselineCpuProfile: await cpuProfile(base, () => load(base.port, () => acme, 3, false)), cpuUsPerRequestPairs: cpuPairs } : {}),
      };
    });

    // 2. Leasing.
    const acmeId = stack.tenants.acme!.id;
    if (want(2)) results.leasing = await attempt('leasing', async () => {
      log('case 2: hot tenant and tenant at its limit, leasing on and off');
      const hot = async (w: Worker) => {
        await load(w.port, () => acme, 1, false);
        const before = await guardCalls(w.port, acmeId);
        const l = await load(w.port, () => acme, SECONDS, false);
        return { ...l, guardCallsPer1000: (1000 * ((await guardCalls(w.port, acmeId)) - before)) / Math.max(1, l.ok) };
      };
      const hotLease = await hot(router);
      const hotExact = await hot(noLease);
      const limited = await load(router.port, () => me('q-lease'));
      const limitedExact = await load(noLease.port, () => me('q-lease'));
      // The most the bucket can admit in the measured window: what it held at the start (at most
      // the burst, 200) plus the refill, 300/s.
      const bound = (l: Load) => 200 + 300 * l.seconds;
      const over = (l: Load) => Math.max(0, l.ok - bound(l));
      const atLimit = (l: Load) => ({ admittedPerSec: l.ok / l.seconds, admitted: l.ok, bound: bound(l), refused: l.non2xx, overAdmitted: over(l) });
      return {
        withLeasing: { rps: hotLease.rps, admitted: hotLease.ok, guardCallsPer1000: hotLease.guardCallsPer1000 },
        withoutLeasing: { rps: hotExact.rps, admitted: hotExact.ok, guardCallsPer1000: hotExact.guardCallsPer1000 },
        rpsRatio: hotLease.rps / hotExact.rps,
        atLimit: { limitPerSec: 300, burst: 200, withLeasing: atLimit(limited), withoutLeasing: atLimit(limitedExact) },
      };
    });

    // 3. Limiters.
    if (want(3)) results.limiters = await attempt('limiters', async () => {
      log('case 3: TenantGuard vs @upstash/ratelimit vs Cloudflare Rate Limiting, interleaved');
      const lim = await interleaved({
        tenantGuard: () => load(router.port, () => acme),
        upstash: () => load(upstash.port, () => acme),
        cloudflare: () => load(cloudflare.port, () => acme),
      });
      log('case 3: cost of one decision');
      const decision = (w: Worker, n: number) => attempt(`decision ${w.name}`, () => decisionUs(w.port, n));
      return {
        tenantGuard: summary(lim.tenantGuard), upstash: summary(lim.upstash), cloudflare: summary(lim.cloudflare),
        upstashVsTenantGuard: vs(lim.upstash, lim.tenantGuard), cloudflareVsTenantGuard: vs(lim.cloudflare, lim.tenantGuard),
        decisionUs: {
          tenantGuardLeasing: await decision(router, 200), tenantGuardExact: await decision(noLease, 100),
          upstash: await decision(upstash, 100), cloudflare: await decision(cloudflare, 200),
        },
      };
    });

    // 4. Neon requests per API call.
    const tracks = (slug: string): Target => ({ host: slug === 'initech' ? 'initech.test' : `${slug}.localhost`, token: slugToken(slug), path: '/api/v1/tracks' });
    if (want(4)) results.neonRequestsPerApiCall = await attempt('neon requests', async () => {
      log('case 4: Neon requests per API call');
      const perCall: Record<string, number> = {};
      for (const [slug, strategy] of [['acme', 'row'], ['globex', 'schema'], ['initech', 'database']] as const) {
        for (let i = 0; i < 5; i++) await get(router.port, tracks(slug));
        const s0 = await neonTotal(stack);
        const n = 100;
        for (let i = 0; i < n; i++) { const r = await get(router.port, tracks(slug)); if (r.status !== 200) throw new Error(`${slug}: ${r.status} ${r.body}`); }
        perCall[strategy] = ((await neonTotal(stack)) - s0) / n;
      }
      return perCall;
    });

    // 6. Database route tax.
    if (want(6)) results.dbTax = await attempt('db tax', async () => {
      log('case 6: database route tax, interleaved per strategy');
      const dbTax: Record<string, unknown> = {};
      for (const [slug, strategy] of [['acme', 'row'], ['globex', 'schema'], ['initech', 'database']] as const) {
        dbTax[strategy] = await attempt(`db tax ${strategy}`, async () => {
          const probe = await get(bareDb.port, { host: 'bare', token: null, path: `/db/${strategy}` });
          if (probe.status !== 200) throw new Error(`bare-db ${strategy}: ${probe.status} ${probe.body.slice(0, 300)}`);
          const r = await interleaved({
            bare: () => load(bareDb.port, () => ({ host: 'bare', token: null, path: `/db/${strategy}` })),
            full: () => load(router.port, () => tracks(slug)),
            ...(base ? { baseline: () => load(base.port, () => tracks(slug)) } : {}),
          } as Record<'bare' | 'full' | 'baseline', () => Promise<Load>>);
          // Where the pipeline's time goes on this route (once, for the row tenant).
          const profile = strategy === 'row' ? await cpuProfile(router, () => load(router.port, () => tracks(slug), 3, false)) : undefined;
          return {
            ...(profile ? { cpuProfile: profile } : {}),
            bare: summary(r.bare), full: summary(r.full), ...vs(r.full, r.bare),
            ...(base ? { baseline: { ...summary(r.baseline), vsBare: vs(r.baseline, r.bare), fullVsBaseline: vs(r.full, r.baseline) } } : {}),
          };
        });
      }
      return dbTax;
    });

    // 5. Cost curve.
    if (want(5)) results.costCurve = await attempt('cost curve', async () => {
      log('case 5: seeding 10,000 + 40 tenants');
      const memory: { tenants: number; rssMiB: number; cachedTokens: number }[] = [{ tenants: 0, rssMiB: workerdRssMiB(router), cachedTokens: 0 }];
      const many = await seedTenants(stack.control.postgresUrl, acmeId, 'cc', 10_000);
      const cold = await seedTenants(stack.control.postgresUrl, acmeId, 'cold', 40);
      const manyTokens = many.map((t) => token(t.id));
      const targetOf = (t: BenchTenant, i: number): Target => ({ host: `${t.slug}.localhost`, token: manyTokens[i]!, path: '/api/v1/me' });
      const curve: Record<string, unknown> = {};
      for (const n of [10, 1_000, 10_000]) {
        log(`case 5: ${n} tenants: first pass, then uniform and Zipf`);
        // The first pass: each tenant once (L3, then L2 and L1), as a deployment sees it after a start.
        let next = 0;
        const firstPass = await load(router.port, () => { const i = next++ % n; return targetOf(many[i]!, i); }, Math.max(1, Math.min(8, Math.ceil(n / 1500))), false);
        const row: Record<string, unknown> = { firstPass: { rps: firstPass.rps, p50us: firstPass.p50, p99us: firstPass.p99, non2xx: firstPass.non2xx } };
        for (const kind of ['uniform', 'zipf'] as const) {
          const pick = picker(n, kind);
          const l = await load(router.port, () => { const i = pick(); return targetOf(many[i]!, i); });
          row[kind] = { rps: l.rps, p50us: l.p50, p99us: l.p99, non2xx: l.non2xx, errors: l.errors, distinctPerRun: distinct(picker(n, kind), Math.round(l.rps * l.seconds)) };
        }
        curve[String(n)] = row;
        const iso = await (await fetch(`http://127.0.0.1:${router.port}/__bench/isolate`)).json() as { cachedTokens: number };
        memory.push({ tenants: n, rssMiB: workerdRssMiB(router), cachedTokens: iso.cachedTokens });
      }
      log('case 5: first request of a cold tenant, and of a cached one');
      const coldUs: number[] = [];
      const cachedUs: number[] = [];
      for (const t of cold) {
        const target = { host: `${t.slug}.localhost`, token: token(t.id), path: '/api/v1/me' };
        const a = await get(router.port, target);
        const b = await get(router.port, target);
        if (a.status !== 200 || b.status !== 200) throw new Error(`cold tenant ${t.slug}: ${a.status} ${b.status}`);
        coldUs.push(a.us);
        cachedUs.push(b.us);
      }
      return {
        tenants: curve, memory,
        coldFirstRequestUs: spread(coldUs), cachedRequestUs: spread(cachedUs),
        l1Bounds: { tenantsPositive: 10_000, tenantsNegative: 10_000, knownKeys: 10_000, verifiedTokens: 10_000, jwksUrls: 1_000, l1TtlMs: 5_000 },
      };
    });
    results.seconds = Math.round((Date.now() - started) / 1000);
  } finally {
    await stopAll();
    await running.stop();
  }
  printTable(results);
  console.log(JSON.stringify(results));
}

function printTable(r: Record<string, any>) {
  const rows: [string, string][] = [];
  const section = (name: string, v: any, build: () => [string, string][]) => {
    if (v === undefined) return; // a case not run (--cases)
    if (v?.error) { rows.push([name, `error: ${v.error}`]); return; }
    try { rows.push(...build()); } catch (err) { rows.push([name, `not printable: ${String(err)}`]); }
  };
  const f = (n: number, d = 0) => n.toFixed(d);
  const ms = (s: Spread, d = 2) => fmt({ median: s.median / 1000, min: s.min / 1000, max: s.max / 1000 }, d, ' ms');
  const sum = (s: any) => `${fmt(s.rps)} req/s  p50 ${ms(s.p50us)}  p99 ${ms(s.p99us)}${s.non2xx ? `  non-2xx ${s.non2xx}` : ''}${s.errors ? `  errors ${s.errors}` : ''}`;
  const cmp = (c: any) => `×${fmt(c.ratio, 2)}  +p50 ${ms(c.addedP50us)}  +p99 ${ms(c.addedP99us)}`;
  section('0', null, () => [
    ['machine', `${r.machine.cpus} × ${r.machine.cpu}, ${r.machine.memGiB} GiB, Node ${r.machine.node}`],
    ['load', `autocannon, ${r.loadGenerator.connections} connections, ${r.loadGenerator.seconds} s (+1 s warm-up) × ${r.loadGenerator.rounds} interleaved rounds, same machine; median (min–max); latency in µs per response`],
  ]);
  section('1 overhead', r.overhead, () => [
    ['1 bare Hono worker', sum(r.overhead.bare)],
    ['1 full pipeline', sum(r.overhead.full)],
    ['1 full vs bare', cmp(r.overhead)],
    ['1 ablation: no verified-token cache', `${sum(r.overhead.withoutTokenCache)}  vs full ${cmp(r.overhead.withoutTokenCache.vsFull)}`],
    ['1 ablation: no access log', `${sum(r.overhead.withoutAccessLog)}  vs full ${cmp(r.overhead.withoutAccessLog.vsFull)}  vs bare ${cmp(r.overhead.withoutAccessLog.vsBare)}`],
    ['1 ablation: access log built, not printed', `${sum(r.overhead.accessLogToSink)}  vs full ${cmp(r.overhead.accessLogToSink.vsFull)}  vs bare ${cmp(r.overhead.accessLogToSink.vsBare)}  vs no log ${cmp(r.overhead.accessLogToSink.vsNoLog)}`],
    ...(r.overhead.withoutKeepNames ? [['1 ablation: bundled without keep_names', `${sum(r.overhead.withoutKeepNames)}  vs full ${cmp(r.overhead.withoutKeepNames.vsFull)}  vs bare ${cmp(r.overhead.withoutKeepNames.vsBare)}`]] as [string, string][] : []),
    ...(r.overhead.baseline ? [['1 baseline tree (--baseline)', `${sum(r.overhead.baseline)}  vs bare ${cmp(r.overhead.baseline.vsBare)}`], ['1 this tree vs baseline', cmp(r.overhead.baseline.fullVsBaseline)]] as [string, string][] : []),
    ['1 Server-Timing (ms, I/O waits)', Object.entries(r.overhead.serverTimingMs).map(([k, v]) => `${k} ${f(v as number, 2)}`).join('  ')],
    ['1 CPU µs per request (profiled isolate)', `this tree ${r.overhead.cpuProfile.cpuUsPerRequest ?? '?'}${r.overhead.baselineCpuProfile ? `  baseline tree ${r.overhead.baselineCpuProfile.cpuUsPerRequest ?? '?'}  pairs (this, baseline) ${JSON.stringify(r.overhead.cpuUsPerRequestPairs)}` : ''}`],
    ['1 CPU profile (% of busy samples)', 'sharePct' in r.overhead.cpuProfile
      ? Object.entries(r.overhead.cpuProfile.sharePct).filter(([, v]) => (v as number) > 0).map(([k, v]) => `${k} ${v}`).join('  ') : r.overhead.cpuProfile.error],
    ...('selfTopPct' in r.overhead.cpuProfile ? [['1 CPU self time, top functions (%)', r.overhead.cpuProfile.selfTopPct.map(([k, v]: [string, number]) => `${k} ${v}`).join('  ')]] as [string, string][] : []),
    ...(r.overhead.baselineCpuProfile ? [['1 CPU profile, baseline tree', 'sharePct' in r.overhead.baselineCpuProfile
      ? Object.entries(r.overhead.baselineCpuProfile.sharePct).filter(([, v]) => (v as number) > 0).map(([k, v]) => `${k} ${v}`).join('  ') : r.overhead.baselineCpuProfile.error]] as [string, string][] : []),
  ]);
  section('2 leasing', r.leasing, () => [
    ['2 hot tenant, leasing', `${f(r.leasing.withLeasing.rps)} req/s  ${f(r.leasing.withLeasing.guardCallsPer1000, 1)} guard calls / 1000 admitted`],
    ['2 hot tenant, no leasing', `${f(r.leasing.withoutLeasing.rps)} req/s  ${f(r.leasing.withoutLeasing.guardCallsPer1000, 1)} guard calls / 1000 admitted  (leasing ×${f(r.leasing.rpsRatio, 2)})`],
    ['2 at limit 300/s, leasing', `${f(r.leasing.atLimit.withLeasing.admittedPerSec)} admitted/s (${r.leasing.atLimit.withLeasing.admitted} ≤ bound ${r.leasing.atLimit.withLeasing.bound}), ${r.leasing.atLimit.withLeasing.refused} refused, over-admitted ${r.leasing.atLimit.withLeasing.overAdmitted}`],
    ['2 at limit 300/s, no leasing', `${f(r.leasing.atLimit.withoutLeasing.admittedPerSec)} admitted/s (${r.leasing.atLimit.withoutLeasing.admitted} ≤ bound ${r.leasing.atLimit.withoutLeasing.bound}), ${r.leasing.atLimit.withoutLeasing.refused} refused, over-admitted ${r.leasing.atLimit.withoutLeasing.overAdmitted}`],
  ]);
  section('3 limiters', r.limiters, () => [
    ['3 pipeline + TenantGuard', sum(r.limiters.tenantGuard)],
    ['3 pipeline + @upstash/ratelimit', `${sum(r.limiters.upstash)}  vs TenantGuard ${cmp(r.limiters.upstashVsTenantGuard)}`],
    ['3 pipeline + CF Rate Limiting', `${sum(r.limiters.cloudflare)}  vs TenantGuard ${cmp(r.limiters.cloudflareVsTenantGuard)}`],
    ['3 one decision (µs)', Object.entries(r.limiters.decisionUs).map(([k, v]: [string, any]) => v.error ? `${k} error` : `${k} ${fmt(v, 0)}${v.refused ? ` refused ${v.refused}` : ''}`).join('  ')],
  ]);
  section('4 Neon requests', r.neonRequestsPerApiCall, () => [
    ['4 Neon HTTP requests / API call', Object.entries(r.neonRequestsPerApiCall).map(([k, v]) => `${k} ${(v as number).toFixed(2)}`).join('  ')],
  ]);
  section('6 db tax', r.dbTax, () => Object.entries(r.dbTax).flatMap(([k, v]: [string, any]) => [
    ...(v.cpuProfile && 'sharePct' in v.cpuProfile ? [
      [`6 db ${k}: CPU profile (%)`, Object.entries(v.cpuProfile.sharePct).filter(([, x]) => (x as number) > 0).map(([n, x]) => `${n} ${x}`).join('  ')],
      [`6 db ${k}: CPU self time, top (%)`, v.cpuProfile.selfTopPct.map(([n, x]: [string, number]) => `${n} ${x}`).join('  ')],
    ] as [string, string][] : []),
  ]).concat(Object.entries(r.dbTax).map(([k, v]: [string, any]) => v.error ? [`6 db ${k}`, `error: ${v.error}`] as [string, string] : [`6 db ${k}: bare → pipeline`, `${fmt(v.bare.rps)} → ${fmt(v.full.rps)} req/s  ${cmp(v)}${v.full.non2xx ? `  non-2xx ${v.full.non2xx}` : ''}${v.baseline ? `  | baseline tree ${fmt(v.baseline.rps)} req/s ${cmp(v.baseline.vsBare)}; this tree vs baseline ${cmp(v.baseline.fullVsBaseline)}` : ''}`] as [string, string])));
  section('5 cost curve', r.costCurve, () => [
    ...Object.entries(r.costCurve.tenants).flatMap(([n, v]: [string, any]) => (['uniform', 'zipf'] as const).map((k) =>
      [`5 ${n} tenants, ${k}`, `${f(v[k].rps)} req/s  p50 ${f(v[k].p50us / 1000, 2)} ms  p99 ${f(v[k].p99us / 1000, 2)} ms  (${v[k].distinctPerRun} distinct in the run${v[k].non2xx ? `, non-2xx ${v[k].non2xx}` : ''}; first pass ${f(v.firstPass.rps)} req/s${v.firstPass.non2xx ? `, non-2xx ${v.firstPass.non2xx}` : ''})`] as [string, string])),
    ['5 first request, cold tenant (L3)', ms(r.costCurve.coldFirstRequestUs)],
    ['5 next request, cached (L1)', ms(r.costCurve.cachedRequestUs)],
    ['5 router workerd RSS', r.costCurve.memory.map((m: any) => `${m.tenants} tenants ${f(m.rssMiB)} MiB (${m.cachedTokens} tokens)`).join('  ')],
  ]);
  rows.push(['run', `${r.seconds} s, cases ${r.loadGenerator.cases.join(',')}, routers' access log: ${r.loadGenerator.routerAccessLog}, load average at start ${r.loadGenerator.loadAverage.map((x: number) => x.toFixed(2)).join(' ')}`]);
  const w = Math.max(...rows.map(([a]) => a.length));
  for (const [a, b] of rows) console.log(`${a.padEnd(w)}  ${b}`);
}

main().catch(async (err) => { console.error(err); await stopAll(); process.exit(1); });
