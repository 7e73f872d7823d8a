/**
 * Tenants changing under traffic: suspend/resume, tier and residency patches, custom domains
 * added and removed, delete and re-create of a slug. Each change is made through the control API
 * and then watched on every isolate until it shows; the time it took is measured against the
 * documented bound.
 */
import { createTenant, paceFor, TIERS, type SoakTenant, type Stack } from './fleet.js';
import { adminCall, send, type Reply } from './http.js';
import { hit, type TrafficOptions } from './traffic.js';

export interface Visibility { change: string; tenant: string; ms: number; boundMs: number }

export interface LifecycleContext {
  /** With the Cloudflare stand-in's test hooks: a custom domain is published there before it is served. */
  stack: Stack & { cloudflare: { hooks: string } };
  traffic: TrafficOptions;
  fleet: SoakTenant[];
  deleted: SoakTenant[];
  visibility: Visibility[];
  ttlSec: number;
  /** The bound for a change answered at `at` (longer when Redis was unreachable around it). */
  boundAt(at: number): number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An admin call retried while the control plane is unavailable (its database may be paused). */
async function adminRetry(c: LifecycleContext, path: string, init: { method?: string; json?: unknown }) {
  for (let i = 0; ; i++) {
    const r = await adminCall(c.stack.control.url, c.stack.control.adminToken, path, { ...init, timeoutMs: 60_000 });
    // A 409 OPERATION_IN_PROGRESS (a scheduled backup holds the tenant) is retried, as its Retry-After asks.
    const busy = r.status === 409 && (r.body as { error?: { code?: string } } | null)?.error?.code === 'OPERATION_IN_PROGRESS';
    if ((r.status !== 0 && r.status < 500 && !busy) || i >= 30) return r;
    await sleep(1000);
  }
}

/**
 * Watches `t` on every isolate (in parallel) until `seen(reply)` holds on each. The time recorded
 * for an isolate is when the first probe that saw the change was sent, so the probe's own latency
 * does not count; the slowest isolate's time after `answeredAt` is the change's visibility.
 */
async function watch(c: LifecycleContext, t: SoakTenant, change: string, answeredAt: number, seen: (r: Reply) => boolean, opts: { token?: string; host?: string; kind?: 'read' | 'me' } = {}) {
  const bound = c.boundAt(answeredAt);
  const deadline = answeredAt + bound + 30_000;
  // Probes stay inside half the tenant's rate, on top of its paced traffic.
  const rate = Math.min(...t.tiers.map((x) => TIERS[x]!.rate)) / 60;
  const round = Math.max(200, (c.traffic.isolates * 1000) / (rate * 0.5));
  // A probe is sent every round without waiting for the one before: a probe held up (its
  // tenant's region paused, say) must not delay the next, or the sampling, not the router,
  // would set the time measured. At most three per isolate are out at once.
  const times = await Promise.all([...Array(c.traffic.isolates).keys()].map(async (i) => {
    let first = Infinity;
    const out = new Set<Promise<void>>();
    while (Date.now() < deadline && first === Infinity) {
      const sentAt = Date.now();
      if (out.size < 3) {
        const p: Promise<void> = hit(c.traffic, t, opts.kind ?? 'me', i, opts.token, opts.host)
          .then((r) => { if (seen(r)) first = Math.min(first, sentAt); })
          .finally(() => { out.delete(p); });
        out.add(p);
      }
      await Promise.race([sleep(round), ...(out.size >= 3 ? out : [])]);
    }
    await Promise.all(out);
    return first;
  }));
  const ms = Math.max(...times) - answeredAt;
  c.visibility.push({ change, tenant: t.label, ms: Number.isFinite(ms) ? Math.max(0, ms) : -1, boundMs: bound });
  if (!(ms <= bound)) c.traffic.recorder.breach(`${change} of ${t.label} seen after ${Number.isFinite(ms) ? `${ms} ms` : 'never'} (bound ${bound} ms)`);
}

const code = (r: Reply) => { try { return JSON.parse(r.body)?.error?.code as string | undefined; } catch { return undefined; } };

/** Suspends `t`, waits until every isolate refuses it, resumes it, waits until every isolate serves it. */
export async function suspendResume(c: LifecycleContext, t: SoakTenant): Promise<void> {
  t.busy = true;
  try {
    t.state = 'suspended';
    t.transitionUntil = Infinity;
    const s = await adminRetry(c, `/admin/v1/tenants/${t.id}/suspend`, { method: 'POST' });
    if (s.status !== 200) { c.traffic.recorder.breach(`suspend ${t.label}: ${s.status}`); return; }
    const at = Date.now();
    t.transitionUntil = at + c.boundAt(at);
    await watch(c, t, 'suspend', at, (r) => r.status === 503 && code(r) === 'TENANT_SUSPENDED');
    t.transitionUntil = Infinity;
    const r = await adminRetry(c, `/admin/v1/tenants/${t.id}/resume`, { method: 'POST' });
    if (r.status !== 200) { c.traffic.recorder.breach(`resume ${t.label}: ${r.status}`); return; }
    const at2 = Date.now();
    t.state = 'active';
    t.transitionUntil = at2 + c.boundAt(at2);
    // Seen once no isolate says suspended (a fault in the tenant's region may answer 503 otherwise).
    await watch(c, t, 'resume', at2, (x) => !(x.status === 503 && code(x) === 'TENANT_SUSPENDED'));
  } finally { t.busy = false; }
}

/**
 * Patches the tier. A tier of another isolation (PREMIUM's schema, ENTERPRISE's database) moves the
 * tenant's data first, under its traffic, like moveIsolation: writes may be refused 503
 * TENANT_MIGRATING meanwhile; a move that fails rolls back and changes neither tier nor placement.
 */
export async function patchTier(c: LifecycleContext, t: SoakTenant): Promise<void> {
  const next = t.tiers.find((x) => x !== t.tier) ?? t.tier;
  const moves = TIERS[next]!.isolation !== t.isolation;
  t.moving = moves;
  try {
    const r = await adminRetry(c, `/admin/v1/tenants/${t.id}`, { method: 'PATCH', json: { tier: next } });
    const body = r.body as { isolation?: string; error?: { code?: string } } | null;
    if (r.status === 200) {
      t.tier = next;
      if (moves) { moveOutcomes.moved++; moveOutcomes.byTier++; }
      t.isolation = body?.isolation ?? t.isolation;
    } else if (moves && r.status === 409 && ['MOVE_FAILED', 'MOVE_CLEANUP_PENDING'].includes(body?.error?.code ?? '')) {
      moveOutcomes.rolledBack++;
    } else {
      c.traffic.recorder.breach(`tier patch ${t.label}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
    }
    if (moves) { const at = Date.now(); t.transitionUntil = at + c.boundAt(at); }
  } finally { t.moving = false; }
}

/** What the soak's moves came to: a move may fail (and roll back) when a fault hits it, never break the tenant. */
export const moveOutcomes = { moved: 0, byTier: 0, rolledBack: 0, fenceMs: [] as number[] };

/**
 * Moves a row tenant to a schema of its own or back, in its region, under traffic. Its writes may be
 * refused 503 TENANT_MIGRATING while it moves and for a cache TTL after; its rows are counted by
 * checkRows wherever they are, so a lost or duplicated row is a breach.
 */
export async function moveIsolation(c: LifecycleContext, t: SoakTenant): Promise<void> {
  t.busy = true;
  t.moving = true;
  try {
    const to = t.isolation === 'row' ? 'schema' : 'row';
    const r = await adminRetry(c, `/admin/v1/tenants/${t.id}/move`, { method: 'POST', json: { isolation: to } });
    const body = r.body as { fenceMs?: number; error?: { code?: string } } | null;
    if (r.status === 200) {
      t.isolation = to;
      moveOutcomes.moved++;
      moveOutcomes.fenceMs.push(body?.fenceMs ?? -1);
    } else if ((r.status === 409 && body?.error?.code === 'MOVE_FAILED') || r.status === 503) {
      moveOutcomes.rolledBack++;
    } else {
      c.traffic.recorder.breach(`move ${t.label}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
    }
    const at = Date.now();
    t.transitionUntil = at + c.boundAt(at);
  } finally { t.moving = false; t.busy = false; }
}

/** Toggles the residency between none and the region's jurisdiction; the quota state must not change. */
export async function patchResidency(c: LifecycleContext, t: SoakTenant): Promise<void> {
  const jurisdiction = t.region.includes('-eu-') ? 'EU' : 'US';
  const next = t.residency ? null : jurisdiction;
  const r = await adminRetry(c, `/admin/v1/tenants/${t.id}`, { method: 'PATCH', json: { residency: next } });
  if (r.status !== 200) { c.traffic.recorder.breach(`residency patch ${t.label}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`); return; }
  t.residency = next;
}

type DomainRecord = { type: string; name: string; value: string };

/** Publishes a domain's records in the Cloudflare stand-in's DNS (as the tenant would) and asks for the check; true once active. */
async function activate(c: LifecycleContext, t: SoakTenant, host: string, records: DomainRecord[]): Promise<boolean> {
  for (const r of records.filter((x) => x.type !== 'HTTP')) {
    const url = `${c.stack.cloudflare.hooks}/_dns/${r.type}/${encodeURIComponent(r.name)}`;
    // A loopback connection the machine's load dropped is retried, as admin calls are; the cause is reported.
    for (let i = 0; ; i++) {
      const status = await fetch(url, { method: 'PUT', body: r.value }).then((res) => res.status,
        (err: unknown) => { if (i >= 4) throw new Error(`publishing ${r.type} ${r.name}: ${String((err as { cause?: unknown }).cause ?? err)}`); return 0; });
      if (status === 200) break;
      if (status !== 0) { c.traffic.recorder.breach(`domain publish ${t.label}: ${status}`); return false; }
      await sleep(500);
    }
  }
  const r = await adminRetry(c, `/admin/v1/tenants/${t.id}/domains/${host}/refresh`, { method: 'POST' });
  const status = (r.body as { status?: string } | null)?.status;
  if (r.status !== 200 || status !== 'active') { c.traffic.recorder.breach(`domain refresh ${t.label}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`); return false; }
  return true;
}

/**
 * Adds a custom domain (pending: its Cloudflare custom hostname is not verified yet), publishes its
 * records and has it checked; from the answer that made it active, waits until every isolate
 * serves it; removes it, waits until none does.
 */
export async function domainCycle(c: LifecycleContext, t: SoakTenant, runId: string): Promise<void> {
  const host = `${t.slug}.soak${runId}.test`;
  const a = await adminRetry(c, `/admin/v1/tenants/${t.id}/domains`, { method: 'POST', json: { hostname: host } });
  if (a.status !== 201) { c.traffic.recorder.breach(`domain add ${t.label}: ${a.status} ${JSON.stringify(a.body).slice(0, 200)}`); return; }
  if (!(await activate(c, t, host, (a.body as { records: DomainRecord[] }).records))) return;
  const at = Date.now();
  // Until every isolate sees the domain, a request on it may still be 404.
  const probe = { ...t, state: 'deleted' as const, transitionUntil: Infinity };
  await watch(c, probe, 'domain add', at, (r) => !(r.status === 404 && code(r) === 'TENANT_NOT_FOUND'), { host });
  const d = await adminRetry(c, `/admin/v1/tenants/${t.id}/domains/${host}`, { method: 'DELETE' });
  if (d.status !== 200) { c.traffic.recorder.breach(`domain remove ${t.label}: ${d.status}`); return; }
  const at2 = Date.now();
  await watch(c, probe, 'domain remove', at2, (r) => r.status === 404 && code(r) === 'TENANT_NOT_FOUND', { host });
}

/** Deletes `t`, waits until every isolate answers 404, re-creates its slug as a new tenant; the old token must not work on it. */
export async function deleteRecreate(c: LifecycleContext, t: SoakTenant): Promise<SoakTenant | null> {
  t.busy = true;
  t.state = 'deleted';
  t.transitionUntil = Infinity;
  const r = await adminRetry(c, `/admin/v1/tenants/${t.id}?confirm=${t.slug}`, { method: 'DELETE' });
  if (r.status !== 200 && r.status !== 202) { c.traffic.recorder.breach(`delete ${t.label}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`); t.busy = false; return null; }
  const at = Date.now();
  t.transitionUntil = at + c.boundAt(at);
  await watch(c, t, 'delete', at, (x) => x.status === 404 && code(x) === 'TENANT_NOT_FOUND');
  c.fleet.splice(c.fleet.indexOf(t), 1);
  c.deleted.push(t);
  const fresh = await createTenant(c.stack, { label: `${t.label}-r`, slug: t.slug, tier: t.tier, tiers: t.tiers, region: t.region, residency: t.residency }, c.ttlSec);
  fresh.pace = paceFor(t.tiers, 0.4, Date.now());
  fresh.busy = true;
  fresh.transitionUntil = Infinity;
  const at2 = Date.now();
  await watch(c, fresh, 'recreate', at2, (x) => !(x.status === 404 && code(x) === 'TENANT_NOT_FOUND'));
  fresh.transitionUntil = 0;
  // The deleted tenant's token names its id: on the new tenant of the same slug it must be refused.
  for (let i = 0; i < c.traffic.isolates; i++) {
    const old = await send(c.traffic.edge, { host: `${t.slug}.localhost`, path: '/api/v1/me', headers: { authorization: `Bearer ${t.token}`, 'x-soak-isolate': String(i) } });
    if (old.status !== 403 && old.status !== 401) c.traffic.recorder.breach(`the deleted tenant's token on the re-created ${t.slug}: ${old.status} ${old.body.slice(0, 120)}`);
  }
  fresh.busy = false;
  c.fleet.push(fresh);
  return fresh;
}

