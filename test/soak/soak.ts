/**
 * `npm run soak`: the router under traffic, tenant changes and faults, checked against its
 * invariants. It starts the local stack, a fleet of tenants over every tier, strategy and region,
 * several router isolates sharing the Durable Objects, and then for SOAK_SECONDS (default 600):
 * `SOAK_CONNECTIONS` (32) loops of reads and writes with real database work; lifecycle changes
 * (suspend/resume, tier and residency patches, custom domains, delete and re-create of a slug);
 * faults on a schedule (a region's PostgreSQL paused and killed, Redis paused, TenantGuards
 * crashed, the control database paused). It stops at the first breach of an invariant and its
 * last line is one JSON object with the figures. Exit code 0 only when every invariant held.
 */
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnStack, type RunningStack } from '../harness/spawn-stack.js';
import type { Stack as FullStack } from '../support/stack-types.js';
import { createTenant, fleetSpecs, type SoakTenant } from './fleet.js';
import { send } from './http.js';
import type { FaultWindow } from './judge.js';
import { deleteRecreate, domainCycle, moveIsolation, moveOutcomes, patchResidency, patchTier, suspendResume, type LifecycleContext, type Visibility } from './lifecycle.js';
import { commOf, findByCmdline, postgresPids, rssMb, signalAll, treeOf } from './procs.js';
import { startEdge } from './routers.js';
import { checkRows, leftovers, meteredUnits } from './checks.js';
import { Recorder, runTraffic, type TrafficOptions } from './traffic.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SECONDS = Number(process.env.SOAK_SECONDS ?? 600);
const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS ?? 32);
const ISOLATES = Number(process.env.SOAK_ISOLATES ?? 3);
const PER_CELL = Number(process.env.SOAK_PER_CELL ?? 3);
const FAULT_REGION = 'aws-us-west-2';
const L1_TTL_MS = 5_000;
const L2_TTL_MS = 60_000;
/** The documented bound: a router's L1 TTL plus a margin for the lookup itself. */
const BOUND_MS = L1_TTL_MS + 2_500;
/** After a fault ends, unavailability answers stay excused this long (breaker cool-down, caches). */
const GRACE_MS = 20_000;
/** Fence grace the control plane is given in the soak (how long a deleted tenant's fence stays). */
const PURGE_GRACE_S = 15;
const CONTINUE = process.env.SOAK_CONTINUE === '1';
/** Share of requests whose client hangs up before the answer. */
const HANGUPS = Number(process.env.SOAK_HANGUPS ?? 0.02);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (msg: string) => console.error(`[soak +${((Date.now() - t0) / 1000).toFixed(0)}s] ${msg}`);
const t0 = Date.now();

/** What main started, for the error paths: each is stopped however main ends. */
const started: { stack?: RunningStack<FullStack>; edge?: { stop(): Promise<void> } } = {};

/** Stops the edge and the stack (gracefully: the stack's closers stop its servers), then kills the stack's group. */
async function stopAll(): Promise<void> {
  await started.edge?.stop().catch(() => {});
  await started.stack?.stop().catch(() => {});
  started.stack?.killGroup('SIGKILL');
}

async function main() {
  const runId = randomBytes(2).toString('hex');
  // The control plane purges a deleted tenant's fence after this grace (the variable of the control worker).
  process.env.STACK_CONTROL_PURGE_GRACE_SECONDS = String(PURGE_GRACE_S);
  const running = await spawnStack<FullStack>(ROOT, resolve(ROOT, `.local/stack-soak-${process.pid}.json`), 'services', { group: true });
  started.stack = running;
  const stack = running.stack;
  // The last resort (an exit with no time for stopAll): the whole group, not only tsx.
  process.on('exit', () => running.killGroup('SIGKILL'));
  running.child.once('exit', (code, signal) => log(`the stack exited (${code ?? signal}); its last output:\n${running.log().slice(-3000)}`));
  log('stack ready');
  // SOAK_EDGE_BROKEN=1 makes wrangler fail to start (a missing entry point): the check that the stack is stopped then too.
  const edge = await startEdge(ROOT, stack.routerEnv, ISOLATES, { broken: !!process.env.SOAK_EDGE_BROKEN });
  started.edge = edge;
  log(`edge ready: ${ISOLATES} router isolates behind ${edge.url} (output: ${edge.logFile})`);
  const ttlSec = SECONDS + 3600;

  const specs = fleetSpecs(Object.keys(stack.regions), PER_CELL, runId);
  const fleet: SoakTenant[] = [];
  for (let i = 0; i < specs.length; i += 6) fleet.push(...await Promise.all(specs.slice(i, i + 6).map((s) => createTenant(stack, s, ttlSec))));
  log(`fleet: ${fleet.length} tenants (${[...new Set(fleet.map((t) => t.isolation))].join(', ')}) in ${Object.keys(stack.regions).length} regions`);
  const everyone = [...fleet];

  const windows: FaultWindow[] = [];
  let stopped = false;
  let firstBreach: string | null = null;
  const recorder = new Recorder((why) => {
    log(`BREACH ${why}`);
    if (!firstBreach) firstBreach = why;
    if (!CONTINUE) stopped = true;
  });
  const traffic: TrafficOptions = {
    edge: edge.url, isolates: ISOLATES, connections: CONNECTIONS, tenants: () => fleet, windows, graceMs: GRACE_MS, recorder, stop: () => stopped, hangUps: HANGUPS,
  };
  const visibility: Visibility[] = [];
  const deleted: SoakTenant[] = [];
  const redisWindows = () => windows.filter((w) => w.kind === 'redis-pause');
  const ctx: LifecycleContext = {
    stack, traffic, fleet, deleted, visibility, ttlSec,
    // A change made while the control plane could not reach Redis is bounded by the L2 TTL instead.
    boundAt: (at) => (redisWindows().some((w) => at >= w.start - BOUND_MS && at <= (w.end || Infinity) + BOUND_MS) ? L2_TTL_MS + BOUND_MS : BOUND_MS),
  };

  const memory = sampleMemory(edge.child.pid!, running.child.pid!);
  const endAt = Date.now() + SECONDS * 1000;
  const done = () => stopped || Date.now() >= endAt;
  log(`traffic: ${CONNECTIONS} connections for ${SECONDS} s`);
  const load = runTraffic({ ...traffic, stop: done });
  const changes = lifecycle(ctx, done, runId, fleet);
  const faults = faultSchedule(stack, edge.url, windows, recorder, fleet, done, SECONDS);
  await load;
  stopped = true;
  log('traffic stopped; waiting for changes and faults in progress');
  { const st = latencyByPhase(recorder.latency).steady; log(`traffic: ${recorder.requests} requests (${Math.round(recorder.requests / SECONDS)}/s), steady-state latency p50 ${st?.p50 ?? '-'} ms, p99 ${st?.p99 ?? '-'} ms`); }
  await Promise.all([changes, faults]);
  memory.stop();

  // Leases settle a second after their last use; then every object flushes its usage now.
  await sleep(3_000);
  const allTenants = [...fleet, ...deleted];
  for (const t of [...new Set(allTenants)]) {
    for (let i = 0; i < 5; i++) {
      const r = await send(edge.url, { host: 'soak.localhost', path: `/_soak/guard/${t.id}/flush`, method: 'POST' });
      if (r.status === 200) break;
      await sleep(1000);
    }
  }
  const metered = await meteredUnits(stack);
  const meteringErrors: string[] = [];
  let admittedTotal = 0;
  let meteredTotal = 0;
  let uncertainTotal = 0;
  for (const t of [...new Set([...everyone, ...fleet, ...deleted])]) {
    const a = recorder.admitted.get(t.id) ?? 0;
    const m = metered.get(t.id) ?? 0;
    // Requests whose client hung up were admitted or not: nobody saw the answer.
    const u = recorder.uncertain.get(t.id) ?? 0;
    admittedTotal += a;
    meteredTotal += m;
    uncertainTotal += u;
    if (m < a || m > a + u) meteringErrors.push(`${t.label}: admitted ${a}${u ? ` (+ up to ${u} of hung-up requests)` : ''}, metered ${m}`);
  }
  for (const e of meteringErrors) recorder.breach(`metering: ${e}`);
  log(`metering: ${admittedTotal} units admitted (+ up to ${uncertainTotal} of ${recorder.hangUps} hung-up requests), ${meteredTotal} metered`);

  const rows = await checkRows(stack, fleet, recorder.writes);
  for (const f of [...rows.foreign, ...rows.lost, ...rows.phantom]) recorder.breach(`rows: ${f}`);
  log(`rows: ${rows.rows} checked`);
  log(`moves: ${moveOutcomes.moved} moved (${moveOutcomes.byTier} by a tier change; writes paused ${moveOutcomes.fenceMs.join(', ') || '-'} ms), ${moveOutcomes.rolledBack} rolled back`);

  // Deleted tenants: the control plane purges fences after its grace, in its maintenance run.
  await sleep(PURGE_GRACE_S * 1000 + 1000);
  await fetch(`${stack.control.url}/__scheduled?cron=${encodeURIComponent('* * * * *')}`).catch(() => {});
  await sleep(2_000);
  // Objects clear themselves by alarm (a breaker once its last failure leaves its window): give
  // them up to a minute before what is left counts.
  let left = await leftovers(stack, edge.url, deleted);
  for (let i = 0; i < 8 && left.length > 0; i++) {
    await sleep(10_000);
    await fetch(`${stack.control.url}/__scheduled?cron=${encodeURIComponent('* * * * *')}`).catch(() => {});
    await sleep(1_000);
    left = await leftovers(stack, edge.url, deleted);
  }
  for (const l of left) recorder.breach(`leftover: ${l}`);
  log(`deleted tenants: ${deleted.length}, leftovers: ${left.length}`);

  const mem = memory.report();
  for (const [name, m] of Object.entries(mem)) if (!m.flat) recorder.breach(`memory of ${name} grew from ${m.firstMb} to ${m.lastMb} MiB`);

  const abuser = allTenants.find((t) => t.abuser);
  const result = {
    ok: recorder.breaches.length === 0,
    seconds: SECONDS,
    connections: CONNECTIONS,
    isolates: ISOLATES,
    tenants: everyone.length + deleted.filter((t) => !everyone.includes(t)).length,
    requests: recorder.requests,
    requestsPerSecond: Math.round(recorder.requests / SECONDS),
    byStatus: Object.fromEntries(recorder.byStatus),
    refusals: Object.fromEntries(recorder.refusals),
    hangUps: recorder.hangUps,
    devServerRestarts: restartEvents(recorder.devRestarts),
    metering: { admittedUnits: admittedTotal, hungUpUnits: uncertainTotal, meteredUnits: meteredTotal, mismatches: meteringErrors.length, abuserAdmitted: abuser ? recorder.admitted.get(abuser.id) ?? 0 : null },
    rows: { checked: rows.rows, foreign: rows.foreign.length, lost: rows.lost.length, phantom: rows.phantom.length },
    changes: summarizeVisibility(visibility),
    faults: windows.map((w) => ({ kind: w.kind, atS: Math.round((w.start - t0) / 1000), durationMs: w.end - w.start })),
    moves: { moved: moveOutcomes.moved, byTier: moveOutcomes.byTier, rolledBack: moveOutcomes.rolledBack, fenceMs: moveOutcomes.fenceMs },
    deletedTenants: deleted.length,
    leftovers: left.length,
    memoryMb: mem,
    latencyMs: latencyByPhase(recorder.latency),
    latencyByKindMs: latencyByPhase(recorder.byKind),
    firstBreach,
    breaches: recorder.breaches.slice(0, 20),
  };
  await edge.stop();
  await running.stop();
  console.log(JSON.stringify(result));
  process.exit(result.ok ? 0 : 1);
}

/** Lifecycle changes, a few at a time, until `done()`. */
async function lifecycle(ctx: LifecycleContext, done: () => boolean, runId: string, fleet: SoakTenant[]): Promise<void> {
  const inFlight = new Set<Promise<unknown>>();
  const pick = (ok: (t: SoakTenant) => boolean) => {
    const c = fleet.filter((t) => !t.busy && !t.abuser && ok(t));
    return c[Math.floor(Math.random() * c.length)] ?? null;
  };
  const fast = (t: SoakTenant) => ['PREMIUM', 'ENTERPRISE', 'ENTERPRISE_PLUS', 'WHITE_LABEL'].includes(t.tier) && t.tiers.length === 1;
  const deletable = ['STANDARD', 'PREMIUM', 'ENTERPRISE'];
  let n = 0;
  while (!done()) {
    if (inFlight.size < 3) {
      const kind = n++ % 6;
      let job: Promise<unknown> | null = null;
      if (kind === 0) { const t = pick(fast); if (t) job = suspendResume(ctx, t); }
      if (kind === 1) { const t = pick((x) => x.tiers.length > 1); if (t) { t.busy = true; job = patchTier(ctx, t).finally(() => { t.busy = false; }); } }
      if (kind === 2) { const t = pick(() => true); if (t) job = patchResidency(ctx, t); }
      if (kind === 3) { const t = pick(fast); if (t) { t.busy = true; job = domainCycle(ctx, t, runId).finally(() => { t.busy = false; }); } }
      if (kind === 5) { const t = pick((x) => x.isolation === 'row' || x.isolation === 'schema'); if (t) job = moveIsolation(ctx, t); }
      if (kind === 4) { const tier = deletable[Math.floor(n / 5) % deletable.length]; const t = pick((x) => x.tier === tier && x.tiers.length === 1); if (t) job = deleteRecreate(ctx, t); }
      if (job) {
        const p = job.catch((err) => ctx.traffic.recorder.breach(`lifecycle: ${String(err).slice(0, 200)}`));
        inFlight.add(p);
        void p.finally(() => inFlight.delete(p));
      }
    }
    await sleep(SECONDS >= 300 ? 4000 : 2500);
  }
  await Promise.all(inFlight);
}

/** Faults in turn, each a few seconds long, until `done()`. */
async function faultSchedule(stack: FullStack, edgeUrl: string, windows: FaultWindow[], recorder: Recorder, fleet: SoakTenant[], done: () => boolean, seconds: number): Promise<void> {
  const gap = seconds >= 300 ? 20_000 : 6_000;
  const hold = 6_000;
  const all = ['region-pause', 'guard-crash', 'redis-pause', 'control-pause', 'region-kill'];
  // SOAK_FAULTS=region-kill,redis-pause narrows the schedule (to chase one fault's breach).
  const kinds = process.env.SOAK_FAULTS ? process.env.SOAK_FAULTS.split(',').filter((k) => all.includes(k)) : all;
  if (kinds.length === 0) throw new Error(`SOAK_FAULTS names none of ${all.join(', ')}`);
  let i = 0;
  await sleep(gap);
  while (!done() && Date.now() < t0 + seconds * 1000 + 60_000) {
    const kind = kinds[i++ % kinds.length]!;
    const w: FaultWindow = { kind, start: Date.now(), end: 0 };
    recorder.phase = kind;
    log(`fault: ${kind}`);
    if (kind === 'region-pause' || kind === 'region-kill') {
      w.region = FAULT_REGION;
      windows.push(w);
      const dir = join(stack.dataDir, FAULT_REGION);
      const pids = postgresPids(dir);
      signalAll(pids, kind === 'region-pause' ? 'SIGSTOP' : 'SIGKILL');
      await sleep(hold);
      if (kind === 'region-pause') signalAll(pids, 'SIGCONT');
      else await fetch(`${stack.faults}/regions/${FAULT_REGION}/start`, { method: 'POST' }).catch(() => {});
    } else if (kind === 'control-pause') {
      windows.push(w);
      const pids = postgresPids(join(stack.dataDir, 'control'));
      signalAll(pids, 'SIGSTOP');
      await sleep(hold);
      signalAll(pids, 'SIGCONT');
    } else if (kind === 'redis-pause') {
      windows.push(w);
      const pids = stack.redis ? findByCmdline(`127.0.0.1:${stack.redis.port}`).filter((p) => commOf(p) === 'redis-server') : [];
      signalAll(pids, 'SIGSTOP');
      await sleep(hold);
      signalAll(pids, 'SIGCONT');
    } else {
      const victims = [...fleet].sort(() => Math.random() - 0.5).slice(0, 6);
      w.tenants = victims.map((t) => t.id);
      windows.push(w);
      await Promise.all(victims.map((t) => send(edgeUrl, { host: 'soak.localhost', path: `/_soak/guard/${t.id}/crash`, method: 'POST' })));
      await sleep(1000);
    }
    w.end = Date.now();
    recorder.phase = 'steady';
    const next = Date.now() + gap;
    while (!done() && Date.now() < next) await sleep(250);
  }
}

interface Sample { at: number; mb: Record<string, number> }

/** Samples the resident memory of the router isolates' workerd and of the stand-ins every 2 s. */
function sampleMemory(edgePid: number, stackPid: number) {
  const samples: Sample[] = [];
  const groups = () => {
    const edge = treeOf(edgePid).filter((p) => commOf(p) === 'workerd');
    const stackTree = treeOf(stackPid);
    const standIns = stackTree.filter((p) => commOf(p) === 'node' && !findByCmdline('wrangler').includes(p));
    const redis = stackTree.filter((p) => commOf(p) === 'redis-server');
    return { 'router-workerd': edge, 'stand-ins (node)': standIns, redis };
  };
  const tick = () => {
    const mb: Record<string, number> = {};
    for (const [name, pids] of Object.entries(groups())) mb[name] = Math.round(pids.reduce((s, p) => s + (rssMb(p) ?? 0), 0));
    samples.push({ at: Date.now(), mb });
  };
  tick();
  const timer = setInterval(tick, 2_000);
  return {
    stop: () => clearInterval(timer),
    /** Flat: the median of the last third is within 30 % (or 48 MiB) of the median of the middle third. */
    report: () => {
      const out: Record<string, { firstMb: number; lastMb: number; maxMb: number; flat: boolean }> = {};
      const usable = samples.slice(Math.floor(samples.length / 3));
      const mid = usable.slice(0, Math.floor(usable.length / 2));
      const last = usable.slice(Math.floor(usable.length / 2));
      for (const name of Object.keys(samples[0]?.mb ?? {})) {
        const a = median(mid.map((s) => s.mb[name] ?? 0));
        const b = median(last.map((s) => s.mb[name] ?? 0));
        out[name] = { firstMb: a, lastMb: b, maxMb: Math.max(...samples.map((s) => s.mb[name] ?? 0)), flat: b <= a * 1.3 || b - a <= 48 };
      }
      return out;
    },
  };
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[Math.floor(s.length / 2)]! : 0; };
const pct = (s: number[], p: number) => s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : 0;

function latencyByPhase(l: Map<string, number[]>) {
  return Object.fromEntries([...l].map(([phase, xs]) => {
    const s = [...xs].sort((a, b) => a - b);
    return [phase, { n: s.length, p50: Math.round(pct(s, 50)), p99: Math.round(pct(s, 99)) }];
  }));
}

function summarizeVisibility(v: Visibility[]) {
  const by: Record<string, { n: number; maxMs: number; boundMs: number }> = {};
  for (const x of v) {
    const e = (by[x.change] ??= { n: 0, maxMs: 0, boundMs: x.boundMs });
    e.n++;
    e.maxMs = Math.max(e.maxMs, x.ms);
    e.boundMs = Math.max(e.boundMs, x.boundMs);
  }
  return by;
}

// Stopped from outside (Ctrl-C, a timeout): the exit hooks stop the stack and the edge.
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => { void stopAll().finally(() => process.exit(130)); });

main().catch(async (err) => {
  console.error(`[soak] failed: ${err instanceof Error ? err.stack : String(err)}`);
  console.log(JSON.stringify({ ok: false, error: String(err).slice(0, 500) }));
  // Any error path (the edge failing to start included): nothing of the stack is left running.
  await stopAll();
  process.exit(1);
});

/** Drops of the local dev server as events (drops within 3 s of each other are one restart) and requests. */
function restartEvents(at: number[]): { events: number; requests: number } {
  let events = 0;
  let last = -Infinity;
  for (const t of [...at].sort((a, b) => a - b)) {
    if (t - last > 3000) events++;
    last = t;
  }
  return { events, requests: at.length };
}
