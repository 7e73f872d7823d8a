/**
 * Alerts end to end in workerd: traffic driven through the real router pipeline (its metrics
 * flushed to the MetricsAggregator shards after every request), the scheduled evaluation run with
 * a stepped clock (`now`, one minute per step: warm-up without sleeping), read back through the
 * admin API, the audit log and a real HTTP receiver on loopback (test/harness/webhook-receiver.ts).
 *
 * Tenant A sends the same steady traffic every minute and never gets an alert. Tenant B does the
 * same for the warm-up, then a burst of bad tokens (and a few tokens of A): credential stuffing
 * opens, is audited (with the rare TENANT_MISMATCH refusals in an aggregated entry), its webhook
 * is refused twice by the receiver and retried with backoff, then delivered with a valid Standard
 * Webhooks signature; it is acknowledged and remediated through the API and resolves after three
 * calm minutes. Tenant C in the EU region is proxied to an origin that answers slowly: its latency
 * alert opens on the second slow minute (hysteresis), not the first, and resolves once it is quiet.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import { runAlerts } from '../../src/alerts/run.js';
import type { AlertView } from '../../src/alerts/store.js';
import { runScheduled } from '../../src/control/maintenance.js';
import { buildRouter } from '../../workers/router/index.js';
import { call as control, controlEnv, servicesFor } from '../control/in-process.js';
import { createViaApi, tokenFor, type CreatedTenant } from '../support/control.js';
import { workerEnv } from '../support/guards.js';
import { stack, unique } from '../support/helpers.js';

const SECRET = `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
const HOOK = unique('alerts-');
const RECEIVER = `${stack.webhooks.url}/_hooks/${HOOK}`;
// The SLO is raised for every tier so a loaded machine's ordinary latency is never slow; C's origin answers in 800 ms.
const cenv = controlEnv({
  METRICS_AGGREGATOR: workerEnv.METRICS_AGGREGATOR!, ALERT_WEBHOOK_URL: `${stack.webhooks.url}/hooks/${HOOK}`, ALERT_WEBHOOK_SECRET: SECRET,
  ALERT_SLO_P95_MS: '500',
});
// The isolate's metrics batch is flushed once per simulated minute (flush() moves the recorder's clock past its interval).
let skew = 0;
const app = buildRouter(undefined, { accessLog: null, metrics: { flushIntervalMs: 3_600_000, now: () => Date.now() + skew } });
const T0 = Date.now();
const at = (step: number, extraMs = 0) => T0 + step * 60_000 + extraMs;

async function send(host: string, path: string, token: string): Promise<number> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://${host}${path}`, { headers: { host, authorization: `Bearer ${token}` } }), env, ctx);
  await res.arrayBuffer();
  await waitOnExecutionContext(ctx);
  return res.status;
}

/** Runs `jobs` twenty-five at a time; returns their statuses. */
async function all(jobs: (() => Promise<number>)[]): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < jobs.length; i += 25) out.push(...await Promise.all(jobs.slice(i, i + 25).map((j) => j())));
  return out;
}

/** Hands the isolate's batch to the aggregator: one request for a host no tenant has (counted under `none`, which no rule judges). */
async function flush(): Promise<void> {
  skew += 3_600_001;
  expect(await send('nobody-here.localhost', '/api/v1/me', 'x')).toBe(404);
}

let a: CreatedTenant;
let b: CreatedTenant;
let c: CreatedTenant;
const tok: Record<string, string> = {};
const host = (t: CreatedTenant) => `${t.slug}.localhost`;

/** One minute of traffic: A and B steady (20 requests each, the least a ratio is judged on); B's burst; C's slow proxied requests. */
async function minute(f: { burst?: boolean; slow?: boolean } = {}): Promise<void> {
  const steady = [a, b].flatMap((t) => Array.from({ length: 20 }, () => () => send(host(t), '/api/v1/me', tok[t.id]!)));
  expect(new Set(await all(steady))).toEqual(new Set([200]));
  if (f.burst) {
    expect(new Set(await all(Array.from({ length: 40 }, () => () => send(host(b), '/api/v1/me', 'not-a-token'))))).toEqual(new Set([401]));
    expect(await all(Array.from({ length: 3 }, () => () => send(host(b), '/api/v1/me', tok[a.id]!)))).toEqual([403, 403, 403]);
  }
  if (f.slow) expect(new Set(await all(Array.from({ length: 20 }, () => () => send(host(c), '/app/slow?ms=800', tok[c.id]!))))).toEqual(new Set([200]));
  await flush();
}

async function evaluate(step: number, extraMs = 0) {
  const r = await runAlerts(await servicesFor(cenv), { now: at(step, extraMs) });
  expect(r.skipped).toBeUndefined();
  return r;
}

async function alertsOf(t: CreatedTenant, state = 'all'): Promise<AlertView[]> {
  const res = await control(cenv, `/admin/v1/alerts?tenant=${t.id}&state=${state}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { alerts: AlertView[] }).alerts;
}

type Received = { at: number; headers: Record<string, string>; body: string; answered: number };
const received = async (): Promise<Received[]> => (await fetch(RECEIVER)).json() as Promise<Received[]>;

/** The receiver's own Standard Webhooks check: HMAC-SHA256 of `id.timestamp.body` under the secret's bytes. */
async function signatureValid(h: Record<string, string>, body: string): Promise<boolean> {
  const key = await crypto.subtle.importKey('raw', Uint8Array.from(atob(SECRET.slice('whsec_'.length)), (ch) => ch.charCodeAt(0)), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  const sigs = (h['webhook-signature'] ?? '').split(' ').filter((s) => s.startsWith('v1,')).map((s) => Uint8Array.from(atob(s.slice(3)), (ch) => ch.charCodeAt(0)));
  const signed = new TextEncoder().encode(`${h['webhook-id']}.${h['webhook-timestamp']}.${body}`);
  for (const sig of sigs) if (await crypto.subtle.verify('HMAC', key, sig, signed)) return true;
  return false;
}

const hooksFor = async (alertId: string) => (await received()).filter((r) => r.headers['webhook-id']?.startsWith(`msg_${alertId}_`));

beforeAll(async () => {
  // The origins verify the tenant context with the router's published keys (they cannot fetch them from this workerd).
  const ctx = createExecutionContext();
  const jwks = await (await app.fetch(new Request('http://api.localhost/.well-known/jwks.json', { headers: { host: 'api.localhost' } }), env, ctx)).text();
  await waitOnExecutionContext(ctx);
  for (const o of Object.values(stack.origins)) expect((await fetch(`${o.url}/_origin/jwks`, { method: 'PUT', body: jwks })).status).toBe(200);
  [a, b, c] = await Promise.all([createViaApi({ tier: 'STANDARD' }), createViaApi({ tier: 'STANDARD' }), createViaApi({ tier: 'STANDARD', region: 'aws-eu-central-1' })]);
  for (const t of [a, b, c]) tok[t.id] = await tokenFor(t.id);
}, 120_000);

describe('alerts from driven traffic', () => {
  it('opens nothing during steady traffic and warm-up; a slow region opens its latency alert on the second slow minute and resolves once quiet', async () => {
    await minute({ slow: true });
    // The Cron Trigger's run carries the alerts part (first sight of the counters: nothing to judge yet).
    const first = await runScheduled(await servicesFor(cenv), { now: at(0) });
    expect(first.alerts).toMatchObject({ opened: expect.any(Number), shardsUnavailable: 0 });
    await minute({ slow: true });
    expect((await evaluate(1)).intervals).toBeGreaterThanOrEqual(3);
    expect(await alertsOf(c)).toEqual([]);
    await minute({ slow: true });
    await evaluate(2);
    const [slow, ...more] = await alertsOf(c);
    expect(more).toEqual([]);
    expect(slow).toMatchObject({ rule: 'latency_p95', scope: 'tenant', tenantId: c.id, region: 'aws-eu-central-1', state: 'open', severity: 'warning', remediation: null });
    expect(slow!.detail.p95Seconds as number).toBeGreaterThan(0.5);
    for (let step = 3; step <= 10; step++) {
      await minute();
      await evaluate(step);
      if (step === 4) expect((await alertsOf(c, 'open')).length).toBe(1);
    }
    expect((await alertsOf(c))[0]).toMatchObject({ id: slow!.id, state: 'resolved', resolvedAt: new Date(at(5)).toISOString() });
    expect(await alertsOf(a)).toEqual([]);
    expect(await alertsOf(b)).toEqual([]);
    // The slow alert's webhooks: opened, then resolved, both signed.
    const hooks = await hooksFor(slow!.id);
    expect(hooks.map((h) => (JSON.parse(h.body) as { type: string }).type)).toEqual(['alert.opened', 'alert.resolved']);
    for (const h of hooks) expect(await signatureValid(h.headers, h.body)).toBe(true);
  }, 90_000);

  let stuffing: AlertView;

  it('opens credential stuffing for B on a burst of bad tokens, audits it with the rare refusals, and suggests tightening its rate', async () => {
    // The receiver refuses this alert's first two deliveries.
    expect((await fetch(`${RECEIVER}?fail=2&status=503&match=${b.id}&match=anomaly_auth_failures`, { method: 'PUT' })).status).toBe(200);
    await minute({ burst: true });
    await evaluate(11);
    const open = await alertsOf(b, 'open');
    stuffing = open.find((x) => x.rule === 'anomaly_auth_failures')!;
    expect(stuffing).toMatchObject({ scope: 'tenant', tenantId: b.id, severity: 'critical', state: 'open', openedAt: new Date(at(11)).toISOString(), occurrences: 1 });
    expect(stuffing.summary).toMatch(/credential stuffing/);
    expect(stuffing.detail).toMatchObject({ signal: 'auth_failures', warm: true, events: 43 });
    expect(stuffing.detail.z as number).toBeGreaterThanOrEqual(4);
    expect(stuffing.remediation).toEqual({ action: 'tighten_rate', params: { ratePerMinute: 150_000, burst: 2_500 }, state: 'suggested' });
    // The burst is also a request-rate spike; nothing else opened for B, nothing at all for A.
    expect(open.map((x) => x.rule).sort()).toEqual(['anomaly_auth_failures', 'anomaly_request_rate']);
    expect(await alertsOf(a)).toEqual([]);

    const auditOf = async (action: string) => {
      const res = await control(cenv, `/admin/v1/audit?tenant=${b.id}&action=${action}`);
      expect(res.status).toBe(200);
      return ((await res.json()) as { entries: { actor: string; detail: Record<string, unknown> }[] }).entries;
    };
    const opened = (await auditOf('alert.opened')).find((e) => e.detail.alertId === stuffing.id);
    expect(opened).toMatchObject({ actor: 'system:alerts', detail: { rule: 'anomaly_auth_failures', severity: 'critical', remediation: 'tighten_rate' } });
    expect(await auditOf('security.refusals')).toEqual([
      expect.objectContaining({ actor: 'system:alerts', detail: { counts: { TENANT_MISMATCH: 3 }, regions: [b.region], intervalSeconds: 60 } }),
    ]);

    const page1 = await control(cenv, `/admin/v1/alerts?tenant=${b.slug}&limit=1`);
    const p1 = await page1.json() as { alerts: AlertView[]; nextCursor: string | null };
    expect(p1.alerts.length).toBe(1);
    const p2 = await (await control(cenv, `/admin/v1/alerts?tenant=${b.slug}&limit=1&cursor=${p1.nextCursor}`)).json() as { alerts: AlertView[]; nextCursor: string | null };
    expect(p2.nextCursor).toBeNull();
    expect([p1.alerts[0]!.id, p2.alerts[0]!.id].sort()).toEqual(open.map((x) => x.id).sort());
  });

  it('retries a refused delivery with exponential backoff, then delivers it signed, the same webhook-id every time', async () => {
    expect((await hooksFor(stuffing.id)).map((h) => h.answered)).toEqual([503]);
    // Fifteen seconds later the retry is not due yet (first backoff: 30 s).
    await evaluate(11, 15_000);
    expect((await hooksFor(stuffing.id)).length).toBe(1);
    await minute();
    await evaluate(12);
    const row = await servicesFor(cenv).then((s) => s.sql.query('SELECT attempts, next_attempt_at, delivered_at, last_status FROM alert_deliveries WHERE alert_id = $1', [stuffing.id])) as
      { attempts: number; next_attempt_at: string; delivered_at: string | null; last_status: number }[];
    expect(row).toEqual([{ attempts: 2, next_attempt_at: expect.anything(), delivered_at: null, last_status: 503 }]);
    // The second backoff is twice the first.
    expect(new Date(row[0]!.next_attempt_at).getTime()).toBe(at(12) + 60_000);
    await minute();
    await evaluate(13);
    const hooks = await hooksFor(stuffing.id);
    expect(hooks.map((h) => h.answered)).toEqual([503, 503, 200]);
    expect(hooks.map((h) => Number(h.headers['webhook-timestamp']))).toEqual([at(11), at(12), at(13)].map((t) => Math.floor(t / 1000)));
    expect(new Set(hooks.map((h) => h.headers['webhook-id']))).toEqual(new Set([`msg_${stuffing.id}_opened`]));
    for (const h of hooks) expect(await signatureValid(h.headers, h.body)).toBe(true);
    expect(await signatureValid(hooks[2]!.headers, hooks[2]!.body.replace('critical', 'warning'))).toBe(false);
    const body = JSON.parse(hooks[2]!.body) as { type: string; timestamp: string; data: AlertView };
    expect(body).toMatchObject({ type: 'alert.opened', timestamp: new Date(at(11)).toISOString(), data: { id: stuffing.id, rule: 'anomaly_auth_failures', tenantId: b.id } });
  });

  it('acknowledges and remediates through the API, then resolves after three calm minutes and notifies that too', async () => {
    const ack = await control(cenv, `/admin/v1/alerts/${stuffing.id}/acknowledge`, { method: 'POST' });
    expect(ack.status).toBe(200);
    expect(await ack.json()).toMatchObject({ id: stuffing.id, state: 'acknowledged', acknowledgedBy: 'admin-token' });
    expect((await alertsOf(b, 'acknowledged')).map((x) => x.id)).toEqual([stuffing.id]);
    expect((await alertsOf(b, 'open')).map((x) => x.rule)).toEqual(['anomaly_request_rate']);

    const wrong = await control(cenv, `/admin/v1/alerts/${stuffing.id}/remediate`, { method: 'POST', json: { action: 'suspend' } });
    expect(wrong.status).toBe(400);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('CONFIRMATION_REQUIRED');
    const done = await control(cenv, `/admin/v1/alerts/${stuffing.id}/remediate`, { method: 'POST', json: { action: 'tighten_rate' } });
    expect(done.status).toBe(200);
    const r = await done.json() as { alert: AlertView; tenant: { id: string; version: number } };
    expect(r.alert.remediation).toMatchObject({ action: 'tighten_rate', state: 'applied', appliedBy: 'admin-token' });
    expect(r.tenant.version).toBeGreaterThan(b.version);
    const t = await (await control(cenv, `/admin/v1/tenants/${b.id}`)).json() as { overrides: Record<string, number> };
    expect(t.overrides).toMatchObject({ ratePerMinute: 150_000, burst: 2_500 });
    const again = await control(cenv, `/admin/v1/alerts/${stuffing.id}/remediate`, { method: 'POST', json: { action: 'tighten_rate' } });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('INVALID_STATE');
    const remAudit = await (await control(cenv, `/admin/v1/audit?tenant=${b.id}&action=alert.remediate`)).json() as { entries: { detail: Record<string, unknown> }[] };
    expect(remAudit.entries[0]!.detail).toMatchObject({ alertId: stuffing.id, action: 'tighten_rate', ratePerMinute: 150_000 });

    // Steps 12 and 13 were calm already: the third calm minute resolves it.
    await minute();
    await evaluate(14);
    const after = (await alertsOf(b)).find((x) => x.id === stuffing.id)!;
    expect(after).toMatchObject({ state: 'resolved', resolvedAt: new Date(at(14)).toISOString(), acknowledgedBy: 'admin-token' });
    expect(after.occurrences).toBe(1);
    expect(await alertsOf(b, 'open')).toEqual([]);
    const resolved = (await hooksFor(stuffing.id)).filter((h) => h.headers['webhook-id'] === `msg_${stuffing.id}_resolved`);
    expect(resolved.length).toBe(1);
    expect(await signatureValid(resolved[0]!.headers, resolved[0]!.body)).toBe(true);
    expect(JSON.parse(resolved[0]!.body)).toMatchObject({ type: 'alert.resolved', data: { id: stuffing.id, state: 'resolved' } });
    const late = await control(cenv, `/admin/v1/alerts/${stuffing.id}/acknowledge`, { method: 'POST' });
    expect(late.status).toBe(409);
    // The steady tenant never had an alert, in any state.
    expect(await alertsOf(a)).toEqual([]);
  });

  it('refuses unknown and malformed alert ids, remediation without a suggestion, and callers without the admin credential', async () => {
    const unknown = await control(cenv, `/admin/v1/alerts/${crypto.randomUUID()}/acknowledge`, { method: 'POST' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    const bad = await control(cenv, '/admin/v1/alerts/not-an-id');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
    const [slow] = await alertsOf(c);
    const none = await control(cenv, `/admin/v1/alerts/${slow!.id}/remediate`, { method: 'POST', json: { action: 'suspend' } });
    expect(none.status).toBe(409);
    expect((await control(cenv, '/admin/v1/alerts?state=bogus')).status).toBe(400);
    const anon = await control(cenv, '/admin/v1/alerts', { token: null });
    expect(anon.status).toBe(401);
  });
});
