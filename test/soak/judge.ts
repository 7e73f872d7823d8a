/**
 * What the soak accepts as an answer, pure: given what the driver knows (the tenant's state, the
 * fault windows in force), is this response correct? Anything else is a breach.
 */
import type { SoakTenant } from './fleet.js';

export interface FaultWindow { kind: string; start: number; end: number; region?: string; tenants?: string[] }

export interface Verdict { ok: boolean; why?: string; admittedUnits: number; refusal?: string }

/**
 * Fault windows that excuse an unavailability answer for `t` to a request in flight from `at` to
 * `until` (a request already running when a fault began may fail too; each window plus `graceMs`).
 */
export function excusedBy(windows: FaultWindow[], t: Pick<SoakTenant, 'id' | 'region'>, at: number, graceMs: number, until = at): FaultWindow | null {
  for (const w of windows) {
    if (until < w.start || at > (w.end === 0 ? Infinity : w.end + graceMs)) continue;
    if (w.region && w.region !== t.region) continue;
    if (w.tenants && !w.tenants.includes(t.id)) continue;
    return w;
  }
  return null;
}

/**
 * Whether `reply` is the local dev server's own doing, not the router's: wrangler dev answering
 * that its runtime restarted under the request, or the connection dropped with no answer at all
 * (the runtime process went away; a Worker's exception is a 500, never a hang-up). Production has
 * no such server; the soak counts these apart, excuses them like a client's hang-up, and caps them.
 */
export function devServerRestart(reply: { status: number; body: string; error?: string; hungUp?: boolean }): boolean {
  if (reply.hungUp) return false;
  if (reply.status === 503) return reply.body.startsWith('Your worker restarted mid-request.');
  return reply.status === 0 && /socket hang up|ECONNRESET/.test(reply.error ?? '');
}

/** The verdict on one response to a tenant request made at `at` with `cost` units. */
export function judge(t: SoakTenant, reply: { status: number; headers: Record<string, string>; body: string; error?: string; ms?: number }, cost: number, at: number, windows: FaultWindow[], graceMs: number): Verdict {
  const admitted = reply.headers['ratelimit-limit'] !== undefined && reply.status !== 429 && reply.headers['x-quota-mode'] !== 'fail-open';
  const admittedUnits = admitted ? cost : 0;
  const inTransition = at <= t.transitionUntil;
  const fault = excusedBy(windows, t, at, graceMs, at + (reply.ms ?? 0));
  if (reply.status === 0) return fault ? { ok: true, admittedUnits, refusal: 'NO_ANSWER' } : { ok: false, why: `no answer: ${reply.error}`, admittedUnits };
  let body: any;
  try { body = JSON.parse(reply.body); } catch { return { ok: false, why: `status ${reply.status} with a body that is not JSON: ${JSON.stringify(reply.body.slice(0, 300))}`, admittedUnits }; }
  if (reply.status >= 200 && reply.status < 300) {
    if (t.state === 'deleted' && !inTransition) return { ok: false, why: 'a deleted tenant was served', admittedUnits };
    if (t.state === 'suspended' && !inTransition) return { ok: false, why: 'a suspended tenant was served', admittedUnits };
    return { ok: true, admittedUnits };
  }
  const code = body?.error?.code;
  if (typeof code !== 'string' || typeof body.error.message !== 'string' || !('requestId' in body.error)) {
    return { ok: false, why: `error without the documented shape: ${reply.body.slice(0, 200)}`, admittedUnits };
  }
  const refusal = `${reply.status} ${code}`;
  if (reply.status >= 500 && reply.status !== 503) return { ok: false, why: `server error ${refusal}`, admittedUnits, refusal };
  if (reply.status === 429) return t.abuser ? { ok: true, admittedUnits, refusal } : { ok: false, why: `refused within limits: ${refusal}`, admittedUnits, refusal };
  if (code === 'TENANT_SUSPENDED') return t.state === 'suspended' || inTransition ? { ok: true, admittedUnits, refusal } : { ok: false, why: `active tenant refused ${refusal}`, admittedUnits, refusal };
  if (code === 'TENANT_NOT_FOUND') return t.state === 'deleted' || inTransition ? { ok: true, admittedUnits, refusal } : { ok: false, why: `live tenant refused ${refusal}`, admittedUnits, refusal };
  if (code === 'TENANT_MIGRATING' && (t.moving || inTransition)) return { ok: true, admittedUnits, refusal };
  if (reply.status === 503 && fault) return { ok: true, admittedUnits, refusal };
  return { ok: false, why: `unexpected ${refusal} (state ${t.state})`, admittedUnits, refusal };
}
