/**
 * Bandwidth (issue 10 §4): body bytes of admitted requests and of the responses the router sent,
 * metered in the TenantGuard as exactly as the request units (flushed once, kept across a
 * restart of the object), and the tier's request-body limit (413 before any work, not metered).
 */
import { runDurableObjectAlarm } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { countingStream } from '../../src/bandwidth/counting-stream.js';
import { monthOf } from '../../src/quota/monthly.js';
import { GuardRateLimiter } from '../../src/quota/rate-limiter.js';
import { ControlStore } from '../../src/tenancy/control-store.js';
import { call, errorOf, stack } from '../support/helpers.js';
import { guardFor, meteredBy, workerEnv } from '../support/guards.js';
import { admin, createViaApi, tokenFor, within } from '../support/control.js';
import { bareTenant, control, restart } from './fixtures.js';

const encoder = new TextEncoder();
const size = (s: string) => encoder.encode(s).byteLength;

/** POSTs a track whose title makes the body `extra` bytes longer; returns request and response body bytes. */
async function post(host: string, token: string, extra: number): Promise<[number, number]> {
  const body = JSON.stringify({ title: `T${'x'.repeat(extra)}`, artist: 'Band', durationMs: 1000 });
  const res = await call(host, '/api/v1/tracks', { method: 'POST', token, body, headers: { 'content-type': 'application/json' } });
  const text = await res.text();
  expect(res.status, text).toBe(201);
  return [size(body), size(text)];
}

async function get(host: string, token: string): Promise<[number, number]> {
  const res = await call(host, '/api/v1/tracks?limit=3', { token });
  const text = await res.text();
  expect(res.status).toBe(200);
  return [0, size(text)];
}

const sum = (xs: [number, number][]) => xs.reduce((a, [q, r]) => [a[0] + q, a[1] + r], [0, 0]);

/** Waits until the guard's current state has counted `bytes` this month (reports arrive in the background). */
async function counted(t: { id: string }, bytes: [number, number]): Promise<[number, number]> {
  let seen: [number, number] = [0, 0];
  await within(5_000, async () => {
    seen = ((await guardFor(t).bandwidth())[monthOf(Date.now())] ?? [0, 0]) as [number, number];
    return seen[0] === bytes[0] && seen[1] === bytes[1];
  });
  return seen;
}

const usageRow = async (id: string) => (await control().query(
  'SELECT requests::int AS requests, request_bytes::int AS q, response_bytes::int AS r FROM tenant_usage WHERE tenant_id = $1 AND month = $2',
  [id, monthOf(Date.now())]))[0] as { requests: number; q: number; r: number } | undefined;

describe('bandwidth metering', () => {
  it('meters the exact body bytes of N requests and their responses, flushed once, also across a TenantGuard restart', async () => {
    const t = await createViaApi({ tier: 'STANDARD' });
    const host = `${t.slug}.localhost`;
    const token = await tokenFor(t.id);
    const first: [number, number][] = [];
    for (const extra of [0, 10, 100, 150]) first.push(await post(host, token, extra));
    first.push(await get(host, token));
    expect(await counted(t, sum(first))).toEqual(sum(first));
    expect(await runDurableObjectAlarm(guardFor(t))).toBe(true);
    expect(await usageRow(t.id)).toEqual({ requests: 4 * 2 + 1, q: sum(first)[0], r: sum(first)[1] });

    // The object restarts: what it counted is in its storage, and it carries on from there.
    await restart(guardFor(t), `tenant:${t.id}`);
    const second: [number, number][] = [];
    for (const extra of [5, 50]) second.push(await post(host, token, extra));
    second.push(await get(host, token));
    const all = sum([...first, ...second]);
    expect(await counted(t, all)).toEqual(all);
    expect(await runDurableObjectAlarm(guardFor(t))).toBe(true);
    // A second flush (nothing new) and a replayed alarm change nothing.
    await runDurableObjectAlarm(guardFor(t));
    expect(await usageRow(t.id)).toEqual({ requests: 6 * 2 + 2, q: all[0], r: all[1] });

    const usage = await (await admin(`/admin/v1/tenants/${t.id}/usage`)).json() as Record<string, unknown>;
    expect(usage).toMatchObject({ requests: 14, requestBytes: all[0], responseBytes: all[1], invoice: { requestBytes: all[0], responseBytes: all[1] } });
  });

  it('meters a JSON answer with multi-byte text by its exact UTF-8 length (the length it was made with)', async () => {
    const t = await createViaApi({ tier: 'STANDARD' });
    const host = `${t.slug}.localhost`;
    const token = await tokenFor(t.id);
    const body = JSON.stringify({ title: 'Ünïcødé 🎵 “quoted” €', artist: 'Bänd ✓', durationMs: 1000 });
    const res = await call(host, '/api/v1/tracks', { method: 'POST', token, body, headers: { 'content-type': 'application/json' } });
    const text = await res.text();
    expect(res.status, text).toBe(201);
    expect(text).toContain('Ünïcødé 🎵');
    expect(await counted(t, [size(body), size(text)])).toEqual([size(body), size(text)]);
  });

  it('without leasing: the release carries the bytes known by then, a meter call those counted after it; each is applied once', async () => {
    const row = await bareTenant();
    const tenant = (await new ControlStore(stack.control.routerUrl).find({ kind: 'id', value: row.id }))!;
    const limiter = new GuardRateLimiter(workerEnv.TENANT_GUARD, false);
    const a = await limiter.admit(tenant, 1);
    expect(a.ok).toBe(true);
    expect(limiter.meter(tenant, { request: 100, response: 1_000 })).toBeNull();
    await limiter.release(tenant, a.leaseId!);
    const b = await limiter.admit(tenant, 1);
    await limiter.release(tenant, b.leaseId!);
    await limiter.meter(tenant, { request: 0, response: 2_345 });
    expect((await guardFor(tenant).bandwidth())[monthOf(Date.now())]).toEqual([100, 3_345]);
    expect((await guardFor(tenant).stats()).meter).toBe(1);
  });
});

describe('bandwidth metering: exact under early answers and failed calls', () => {
  it('meters a proxied upload exactly when the origin answers (Content-Length) before the upload has ended', async () => {
    // The origins verify the context with the router's published keys (they cannot fetch them here).
    const jwks = await (await call('api.localhost', '/.well-known/jwks.json')).text();
    for (const o of Object.values(stack.origins)) expect((await fetch(`${o.url}/_origin/jwks`, { method: 'PUT', body: jwks })).status).toBe(200);
    const t = await createViaApi({ tier: 'STANDARD' });
    const token = await tokenFor(t.id);
    const CHUNK = 64 * 1024;
    const CHUNKS = 8;
    let answered!: () => void;
    const headersSeen = new Promise<void>((r) => { answered = r; });
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        // The rest of the upload only once the client holds the origin's answer.
        if (sent === 1) await headersSeen;
        if (sent === CHUNKS) { ctrl.close(); return; }
        ctrl.enqueue(new Uint8Array(CHUNK).fill(sent));
        sent++;
      },
    });
    const res = await call(`${t.slug}.localhost`, '/app/early', { method: 'POST', token, body, headers: { 'content-type': 'application/octet-stream' } });
    expect(res.status).toBe(200);
    expect(sent).toBeLessThan(CHUNKS);
    answered();
    expect(await res.text()).toBe('early\n');
    expect(await counted(t, [CHUNK * CHUNKS, 6])).toEqual([CHUNK * CHUNKS, 6]);
  });

  it('retries a meter call that failed: one that never arrived is counted, one whose answer was lost is counted once', async () => {
    const row = await bareTenant();
    const tenant = (await new ControlStore(stack.control.routerUrl).find({ kind: 'id', value: row.id }))!;
    const real = workerEnv.TENANT_GUARD;
    let calls = 0;
    let mode: 'lost-before' | 'lost-after' = 'lost-before';
    // The real namespace, whose stubs' first meter call of each round fails.
    const flaky = {
      idFromName: (n: string) => real.idFromName(n),
      get: (id: DurableObjectId) => {
        const stub = real.get(id);
        return new Proxy(stub, {
          get(s, p) {
            if (p !== 'meter') { const v = Reflect.get(s, p); return typeof v === 'function' ? v.bind(s) : v; }
            return async (c: Parameters<typeof stub.meter>[0]) => {
              calls++;
              if (calls === 1 && mode === 'lost-before') throw new Error('network connection lost');
              const r = await s.meter(c);
              if (calls === 1 && mode === 'lost-after') throw new Error('answer lost');
              return r;
            };
          },
        });
      },
    } as unknown as typeof real;
    const limiter = new GuardRateLimiter(flaky, false);
    await limiter.meter(tenant, { request: 10, response: 20 });
    expect(calls).toBe(2);
    expect((await guardFor(tenant).bandwidth())[monthOf(Date.now())]).toEqual([10, 20]);
    calls = 0;
    mode = 'lost-after';
    await limiter.meter(tenant, { request: 1, response: 2 });
    expect(calls).toBe(2);
    expect((await guardFor(tenant).bandwidth())[monthOf(Date.now())]).toEqual([11, 22]);
  });
});

describe('request body limit', () => {
  it('refuses a declared body over the tier limit with 413 PAYLOAD_TOO_LARGE before any work: nothing metered, nothing stored', async () => {
    const t = await createViaApi({ tier: 'STANDARD', overrides: { ratePerMinute: 600_000, burst: 10_000, maxBodyBytes: 1_000 } });
    const host = `${t.slug}.localhost`;
    const token = await tokenFor(t.id);
    const big = JSON.stringify({ title: 'x'.repeat(180), artist: 'y'.repeat(180), durationMs: 1, pad: 'z'.repeat(800) });
    const res = await call(host, '/api/v1/tracks', { method: 'POST', token, body: big, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect((await errorOf(res)).code).toBe('PAYLOAD_TOO_LARGE');
    expect(await meteredBy(guardFor(t))).toBe(0);
    expect(await guardFor(t).inspect()).toBeNull();

    // Without a Content-Length (chunked), counted as it is read: the same refusal once past the limit.
    const chunks = [big.slice(0, 600), big.slice(600)].map((s) => encoder.encode(s));
    const stream = new ReadableStream<Uint8Array>({ pull(c) { const next = chunks.shift(); if (next) c.enqueue(next); else c.close(); } });
    const chunked = await call(host, '/api/v1/tracks', { method: 'POST', token, body: stream, headers: { 'content-type': 'application/json' } });
    expect(chunked.status).toBe(413);
    expect((await errorOf(chunked)).code).toBe('PAYLOAD_TOO_LARGE');
    const list = await (await call(host, '/api/v1/tracks', { token })).json() as { tracks: unknown[] };
    expect(list.tracks).toEqual([]);

    // Within the limit, chunked or not, served.
    const small = JSON.stringify({ title: 'Song', artist: 'Band', durationMs: 1000 });
    expect((await call(host, '/api/v1/tracks', { method: 'POST', token, body: small, headers: { 'content-type': 'application/json' } })).status).toBe(201);
    const one = [encoder.encode(small)];
    const okStream = new ReadableStream<Uint8Array>({ pull(c) { const next = one.shift(); if (next) c.enqueue(next); else c.close(); } });
    expect((await call(host, '/api/v1/tracks', { method: 'POST', token, body: okStream, headers: { 'content-type': 'application/json' } })).status).toBe(201);
  });

  it('counting stream: passes bytes through, errors past its limit, reports once at the end or on cancel', async () => {
    const source = () => new ReadableStream<Uint8Array>({ start(c) { c.enqueue(new Uint8Array(3)); c.enqueue(new Uint8Array(4)); c.close(); } });
    const ends: number[] = [];
    const ok = countingStream(source(), { onEnd: (n) => ends.push(n) });
    expect((await new Response(ok.stream).arrayBuffer()).byteLength).toBe(7);
    expect([ok.bytes(), ends]).toEqual([7, [7]]);
    const over = countingStream(source(), { limit: 5, tooLarge: () => new Error('too large'), onEnd: (n) => ends.push(n) });
    await expect(new Response(over.stream).arrayBuffer()).rejects.toThrow('too large');
    const cancelled = countingStream(source(), { onEnd: (n) => ends.push(n) });
    const reader = cancelled.stream.getReader();
    await reader.read();
    await reader.cancel();
    expect(ends).toEqual([7, 5, 3]);
  });
});
