/**
 * `GET /readyz`: whether this router can serve tenants it has not seen yet, and the state of
 * what it depends on. The control database is required (new lookups need it); the L2 cache is
 * an optimisation (down: still ready, slower lookups); each region is reported by its circuit
 * breaker, without a query to it (a readiness probe must not load the tenants' databases).
 * Answers are cached per isolate for a few seconds, so probes never hammer the control database.
 */
import { neon } from '@neondatabase/serverless';
import { within } from '../flight/within.js';

export type Check = 'ok' | 'down' | 'absent';

export interface Readiness {
  status: 'ready' | 'not_ready';
  checks: { controlDatabase: Check; cache: Check; regions: Record<string, string> };
}

/** The verdict on what the checks found (pure). */
export function verdict(control: Check, cache: Check, regions: Record<string, string>): Readiness {
  return { status: control === 'ok' ? 'ready' : 'not_ready', checks: { controlDatabase: control, cache, regions } };
}

export interface ReadinessProbes {
  control: () => Promise<void>;
  cache: (() => Promise<void>) | null;
  /** Breaker status per region ('closed', 'open', 'half_open'), or throws. */
  region: (region: string) => Promise<string>;
  regions: string[];
}

/** Runs `p` for at most `ms`: true when it succeeded in time. */
async function succeeds(p: () => Promise<unknown>, ms: number): Promise<boolean> {
  const r = await within(p().then(() => true, () => false), ms);
  return r.settled && r.value;
}

/** Checks everything once (each check bounded by `timeoutMs`, all in parallel). */
export async function checkReadiness(p: ReadinessProbes, timeoutMs = 2_000): Promise<Readiness> {
  const [control, cache, ...regions] = await Promise.all([
    succeeds(p.control, timeoutMs),
    p.cache ? succeeds(p.cache, timeoutMs) : Promise.resolve(null),
    ...p.regions.map(async (r) => {
      const v = await within(p.region(r).catch(() => 'unknown'), timeoutMs);
      return v.settled ? v.value : 'unknown';
    }),
  ]);
  return verdict(control ? 'ok' : 'down', cache === null ? 'absent' : cache ? 'ok' : 'down', Object.fromEntries(p.regions.map((r, i) => [r, regions[i]!])));
}

/** `SELECT 1` on the control database, aborted after `timeoutMs`. */
export const controlPing = (url: string, timeoutMs = 2_000) => async () => {
  const sql = neon(url);
  await sql.query('SELECT 1', [], { fetchOptions: { signal: AbortSignal.timeout(timeoutMs) } });
};

/** A readiness answer reused for `ttlMs` per isolate. */
export class ReadinessCache {
  private last: { at: number; value: Readiness } | null = null;
  constructor(private readonly ttlMs = 5_000, private readonly now: () => number = Date.now) {}

  async get(check: () => Promise<Readiness>): Promise<Readiness> {
    if (this.last && this.now() - this.last.at < this.ttlMs) return this.last.value;
    const value = await check();
    this.last = { at: this.now(), value };
    return value;
  }
}
