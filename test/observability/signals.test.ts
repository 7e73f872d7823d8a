/**
 * The router's signals end to end, in workerd against the real stack: the caller's trace is taken
 * up and returned, reaches the tenant's database session, Server-Timing names each step, one
 * access-log line per request (refusals included), and /readyz reports the dependencies.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { buildRouter } from '../../workers/router/index.js';
import { platformToken, stack } from '../support/helpers.js';

const TRACE = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const lines: Record<string, unknown>[] = [];
const app = buildRouter(undefined, { accessLog: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });

async function send(host: string, path: string, headers: Record<string, string> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://${host}${path}`, { headers: { host, ...headers } }), env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe('router signals', () => {
  it('takes up the trace, returns its span, times each step, and names the trace in the database session', async () => {
    const token = await platformToken('acme');
    const res = await send('acme.localhost', '/api/v1/tracks', { authorization: `Bearer ${token}`, traceparent: `00-${TRACE}-00f067aa0ba902b7-01` });
    expect(res.status, await res.clone().text()).toBe(200);
    const tp = res.headers.get('traceparent')!;
    expect(tp).toMatch(new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
    expect(tp.split('-')[2]).not.toBe('00f067aa0ba902b7');
    const timing = res.headers.get('server-timing')!;
    for (const step of ['tenant', 'auth', 'policy', 'quota', 'breaker', 'db', 'total']) expect(timing).toMatch(new RegExp(`(^|, )${step};dur=[0-9.]+`));
    expect(timing).toMatch(/tenant;dur=[0-9.]+;desc="(l1|l2|l3|joined)"/);
    // The database saw the trace as the session's application_name (a bound parameter, not SQL text).
    const seen = await (await fetch(`${stack.neonEndpoint}/_stats?${new URLSearchParams({ contains: `tenant-router trace=${TRACE}` })}`)).json() as { count: number };
    expect(seen.count).toBeGreaterThanOrEqual(1);
    const line = lines.find((l) => l.traceId === TRACE)!;
    expect(line).toMatchObject({ msg: 'request', method: 'GET', route: '/api/v1/tracks', status: 200, code: null, tenant: stack.tenants.acme!.id, guard: 'admitted', breaker: 'closed', dbCalls: 1 });
    expect(['l1', 'l2', 'l3', 'joined']).toContain(line.cache);
    expect(JSON.stringify(line)).not.toContain(token);
  });

  it('logs refusals with their code, and starts a trace when the caller sent none', async () => {
    const before = lines.length;
    const res = await send('acme.localhost', '/api/v1/tracks?secret=x', { authorization: 'Bearer not-a-token' });
    expect(res.status).toBe(401);
    expect(res.headers.get('traceparent')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(res.headers.get('server-timing')).toBeNull();
    const line = lines.slice(before).at(-1)!;
    expect(line).toMatchObject({ status: 401, code: 'INVALID_TOKEN', guard: null, dbCalls: 0 });
    expect(line.traceId).toBe(res.headers.get('traceparent')!.split('-')[1]);
    expect(JSON.stringify(line)).not.toContain('secret=x');
  });

  it('answers /readyz with the control database, the cache and each region', async () => {
    const res = await send('acme.localhost', '/readyz');
    expect(res.status).toBe(200);
    const body = await res.json() as { status: string; checks: { controlDatabase: string; cache: string; regions: Record<string, string> } };
    expect(body.status).toBe('ready');
    expect(body.checks.controlDatabase).toBe('ok');
    expect(body.checks.cache).toBe('ok');
    expect(Object.keys(body.checks.regions).sort()).toEqual(Object.keys(stack.regions).sort());
    for (const v of Object.values(body.checks.regions)) expect(['closed', 'open', 'half_open']).toContain(v);
    expect(JSON.stringify(body)).not.toMatch(/postgres(ql)?:\/\//);
  });
});
