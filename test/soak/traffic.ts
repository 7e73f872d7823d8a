/**
 * The soak's load: `connections` loops sending reads and writes with real database work to
 * random tenants (within their pacing) through random isolates, checking every answer, and a
 * recorder of what was admitted (units), refused (by reason) and how long it took (by phase).
 */
import type { SoakTenant } from './fleet.js';
import { tryPace } from './fleet.js';
import { send, type Reply } from './http.js';
import { devServerRestart, judge, type FaultWindow } from './judge.js';

export class Recorder {
  readonly admitted = new Map<string, number>();
  /** Units of requests whose client hung up before the answer: admitted or not, nobody saw. */
  readonly uncertain = new Map<string, number>();
  hangUps = 0;
  /** Requests the local dev server dropped when its runtime restarted (see devServerRestart), and when. */
  readonly devRestarts: number[] = [];
  readonly refusals = new Map<string, number>();
  readonly byStatus = new Map<number, number>();
  readonly latency = new Map<string, number[]>();
  /** Latencies by request kind and isolation strategy (where the time goes). */
  readonly byKind = new Map<string, number[]>();
  readonly breaches: string[] = [];
  readonly writes = new Map<string, { ok: number; uncertain: number }>();
  requests = 0;
  phase = 'steady';

  constructor(private readonly onBreach: (why: string) => void) {}

  /** Records one answer to a request for `t` and returns it; breaches are reported at once. */
  note(t: SoakTenant, reply: Reply, cost: number, at: number, windows: FaultWindow[], graceMs: number, extra?: (body: any) => string | null, kind?: string): Reply {
    this.requests++;
    this.byStatus.set(reply.status, (this.byStatus.get(reply.status) ?? 0) + 1);
    const v = judge(t, reply, cost, at, windows, graceMs);
    if (v.admittedUnits) this.admitted.set(t.id, (this.admitted.get(t.id) ?? 0) + v.admittedUnits);
    if (v.refusal) this.refusals.set(v.refusal, (this.refusals.get(v.refusal) ?? 0) + 1);
    let why = v.ok ? null : v.why!;
    if (!why && extra && reply.status >= 200 && reply.status < 300) {
      try { why = extra(JSON.parse(reply.body)); } catch { why = 'unparseable success body'; }
    }
    if (why) this.breach(`${t.label} (${t.id}) at ${new Date(at).toISOString()}: ${why}`);
    let l = this.latency.get(this.phase);
    if (!l) this.latency.set(this.phase, (l = []));
    l.push(reply.ms);
    if (kind) {
      let k = this.byKind.get(kind);
      if (!k) this.byKind.set(kind, (k = []));
      k.push(reply.ms);
    }
    return reply;
  }

  /** A request whose client hung up on purpose: nothing to judge, its units may or may not be metered. */
  hungUp(t: SoakTenant, cost: number): void {
    this.requests++;
    this.hangUps++;
    this.uncertain.set(t.id, (this.uncertain.get(t.id) ?? 0) + cost);
  }

  /** A request the local dev server dropped: nothing to judge, its units may or may not be metered. */
  droppedByDevServer(t: SoakTenant, cost: number): void {
    this.requests++;
    this.devRestarts.push(Date.now());
    this.uncertain.set(t.id, (this.uncertain.get(t.id) ?? 0) + cost);
  }

  breach(why: string): void {
    this.breaches.push(why);
    this.onBreach(why);
  }
}

export interface TrafficOptions {
  edge: string;
  isolates: number;
  connections: number;
  tenants: () => SoakTenant[];
  windows: FaultWindow[];
  graceMs: number;
  recorder: Recorder;
  stop: () => boolean;
  /** Share of requests whose client hangs up after 20–320 ms. */
  hangUps: number;
}

/** Checks a list of tracks: every row must carry this tenant's marker. */
export const ownRows = (t: SoakTenant) => (body: any): string | null => {
  if (!Array.isArray(body?.tracks)) return 'list without tracks';
  const foreign = body.tracks.find((r: { title?: string }) => !String(r.title).startsWith(`${t.id}:`));
  return foreign ? `cross-tenant read: ${String(foreign.title).slice(0, 60)}` : null;
};

let seq = 0;

/** One request for `t` through isolate `isolate` (random when omitted); recorded and judged. */
export async function hit(o: TrafficOptions, t: SoakTenant, kind: 'read' | 'write' | 'me', isolate?: number, token = t.token, host?: string, hangUpAfterMs?: number): Promise<Reply> {
  const at = Date.now();
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...(isolate !== undefined ? { 'x-soak-isolate': String(isolate) } : {}) };
  const h = host ?? (t.domains.length > 0 && Math.random() < 0.2 ? t.domains[0]! : `${t.slug}.localhost`);
  if (kind === 'write') {
    const title = `${t.id}:${++seq}`;
    const reply = await send(o.edge, { host: h, path: '/api/v1/tracks', method: 'POST', headers, body: JSON.stringify({ title, artist: t.label, durationMs: 1000 }), hangUpAfterMs });
    const w = o.recorder.writes.get(t.id) ?? { ok: 0, uncertain: 0 };
    if (reply.status === 201) w.ok++; else if (reply.status === 0 || reply.status === 503) w.uncertain++;
    o.recorder.writes.set(t.id, w);
    if (reply.hungUp) { o.recorder.hungUp(t, 2); return reply; }
    if (devServerRestart(reply)) { o.recorder.droppedByDevServer(t, 2); return reply; }
    return o.recorder.note(t, reply, 2, at, o.windows, o.graceMs, (b) => (b?.track?.title === title ? null : 'write answered with another row'), `write:${t.isolation}`);
  }
  const path = kind === 'me' ? '/api/v1/me' : '/api/v1/tracks?limit=20';
  const reply = await send(o.edge, { host: h, path, headers, hangUpAfterMs });
  if (reply.hungUp) { o.recorder.hungUp(t, 1); return reply; }
  if (devServerRestart(reply)) { o.recorder.droppedByDevServer(t, 1); return reply; }
  return o.recorder.note(t, reply, 1, at, o.windows, o.graceMs, kind === 'me' ? (b) => (b?.tenant?.id === t.id ? null : 'me names another tenant') : ownRows(t), `${kind}:${t.isolation}`);
}

/** Runs the load until `stop()`; resolves when every loop has ended. */
export async function runTraffic(o: TrafficOptions): Promise<void> {
  const loop = async () => {
    while (!o.stop()) {
      const now = Date.now();
      const pool = o.tenants().filter((t) => !t.busy);
      const r = Math.random();
      const kind = r < 0.65 ? 'read' : r < 0.95 ? 'write' : 'me';
      const cost = kind === 'write' ? 2 : 1;
      let picked: SoakTenant | null = null;
      for (let i = 0; i < 8 && !picked; i++) {
        const t = pool[Math.floor(Math.random() * pool.length)];
        if (t && tryPace(t, cost, now)) picked = t;
      }
      if (!picked) { await new Promise((res) => setTimeout(res, 5)); continue; }
      // Some clients hang up before the answer (a closed tab, a client timeout): the router must
      // give their concurrency slots back, or the tenant is refused later within its limits.
      const hangUp = Math.random() < o.hangUps ? 20 + Math.floor(Math.random() * 300) : undefined;
      try { await hit(o, picked, kind, undefined, picked.token, undefined, hangUp); } finally { picked.pace.inflight--; }
    }
  };
  await Promise.all(Array.from({ length: o.connections }, loop));
}
