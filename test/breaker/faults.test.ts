/**
 * Stopping a region's PostgreSQL: its breaker opens within the threshold and answers without
 * touching the database while the other regions keep serving; bringing it back closes the breaker
 * through a single probe. Pausing it (its processes SIGSTOPped: connections are accepted and never
 * answered): requests are answered 503 within the query timeout, which counts as a failure and
 * opens the breaker; the requests queued meanwhile never run once it resumes; owner-side
 * connections give up too.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_QUERY_TIMEOUT_MS } from '../../src/data/tenant-db.js';
import { withClient } from '../../src/provisioning/pg-client.js';
import { call, errorOf, platformToken, postJson, requestsWithParam, sqlAt, stack, tenant, unique } from '../support/helpers.js';
import { breakerOf } from '../support/guards.js';

const WEST = 'aws-us-west-2';
const region = async (action: 'stop' | 'start' | 'pause' | 'resume') => {
  const res = await fetch(`${stack.faults}/regions/${WEST}/${action}`, { method: 'POST' });
  expect(res.status).toBe(200);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const QUERY_TIMEOUT_MS = Number(stack.routerEnv.TENANT_QUERY_TIMEOUT_MS ?? DEFAULT_QUERY_TIMEOUT_MS);

describe('circuit breaker under a region failure', () => {
  afterAll(async () => {
    await fetch(`${stack.faults}/regions/${WEST}/resume`, { method: 'POST' });
    await fetch(`${stack.faults}/regions/${WEST}/start`, { method: 'POST' });
  });

  it('opens, fails fast, spares the healthy regions, and closes through one probe', async () => {
    const token = await platformToken('f-west');
    const west = () => call('f-west.localhost', '/api/v1/tracks', { token });
    expect((await west()).status).toBe(200);

    await region('stop');
    // f-west's breaker opens after 3 failures; reports travel in the background, so allow a few more.
    const codes: string[] = [];
    for (let i = 0; i < 12 && !codes.includes('CIRCUIT_OPEN'); i++) {
      const r = await west();
      expect(r.status).toBe(503);
      codes.push((await errorOf(r)).code);
      await sleep(20);
    }
    expect(codes.slice(0, 3)).toEqual(['UPSTREAM_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE']);
    expect(codes.at(-1)).toBe('CIRCUIT_OPEN');
    expect(codes.length).toBeLessThanOrEqual(6);
    expect((await breakerOf('db:aws-us-west-2').view()).status).toBe('open');

    // While open: refused with Retry-After, and nothing reaches the database.
    const before = await requestsWithParam(tenant('f-west').id);
    const open = await west();
    expect(open.status).toBe(503);
    expect(Number(open.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await requestsWithParam(tenant('f-west').id)).toBe(before);

    // Other regions are unaffected.
    expect((await call('acme.localhost', '/api/v1/tracks', { token: await platformToken('acme') })).status).toBe(200);
    expect((await call('globex.localhost', '/api/v1/tracks', { token: await platformToken('globex') })).status).toBe(200);

    await region('start');
    // The cool-down is 1 s; after it, a concurrent wave lets exactly one probe reach the database.
    await sleep(1200);
    const atProbe = await requestsWithParam(tenant('f-west').id);
    const wave = await Promise.all(Array.from({ length: 6 }, () => west()));
    const served = wave.filter((r) => r.status === 200).length;
    expect(served).toBe(1);
    expect(await requestsWithParam(tenant('f-west').id)).toBe(atProbe + 1);
    for (const r of wave.filter((x) => x.status !== 200)) expect((await errorOf(r)).code).toBe('CIRCUIT_OPEN');

    // The probe's success closes the circuit; within a second every isolate serves again.
    for (let i = 0; i < 20 && (await breakerOf('db:aws-us-west-2').view()).status !== 'closed'; i++) await sleep(50);
    expect((await breakerOf('db:aws-us-west-2').view()).status).toBe('closed');
    await sleep(1100);
    expect((await west()).status).toBe(200);
  });

  it('a paused region: 503 within the query timeout, the breaker opens, and nothing queued runs late', async () => {
    const token = await platformToken('f-west');
    const west = () => call('f-west.localhost', '/api/v1/tracks', { token });
    for (let i = 0; i < 20 && (await west()).status !== 200; i++) await sleep(250);
    expect((await west()).status).toBe(200);

    await region('pause');
    const titles = Array.from({ length: 4 }, () => unique('paused-'));
    try {
      const t0 = Date.now();
      const answers = await Promise.all(titles.map(async (title) => {
        const r = await postJson('f-west.localhost', '/api/v1/tracks', { title, artist: 'Pause', durationMs: 1000 }, token);
        return { status: r.status, code: (await errorOf(r)).code, ms: Date.now() - t0 };
      }));
      for (const a of answers) {
        expect(`${a.status} ${a.code}`).toBe('503 UPSTREAM_UNAVAILABLE');
        expect(a.ms).toBeGreaterThanOrEqual(QUERY_TIMEOUT_MS - 100);
        expect(a.ms).toBeLessThan(QUERY_TIMEOUT_MS + 2_000);
      }
      // Each timeout was a failure: the breaker (3 failures) is open and answers at once.
      for (let i = 0; i < 20 && (await breakerOf(`db:${WEST}`).view()).status !== 'open'; i++) await sleep(50);
      expect((await breakerOf(`db:${WEST}`).view()).status).toBe('open');
      const t1 = Date.now();
      const open = await west();
      expect(`${open.status} ${(await errorOf(open)).code}`).toBe('503 CIRCUIT_OPEN');
      expect(Date.now() - t1).toBeLessThan(1_000);
      // Provisioning-side connections are bounded as well: a connect that gets no answer gives up.
      const t2 = Date.now();
      await expect(withClient(stack.regions[WEST]!.postgresUrl, (c) => c.query('SELECT 1'), { connectTimeoutMs: 1_000 })).rejects.toThrow(/timed out/);
      expect(Date.now() - t2).toBeLessThan(4_000);
    } finally {
      await region('resume');
    }

    // The breaker lets a probe through after its cool-down, and the region serves again.
    let served = false;
    for (let i = 0; i < 40 && !served; i++) { served = (await west()).status === 200; if (!served) await sleep(250); }
    expect(served).toBe(true);
    // The writes that were queued in the paused region reached it after their deadline: none ran.
    await sleep(500);
    const rows = await sqlAt(stack.regions[WEST]!.postgresUrl).query('SELECT count(*)::int AS n FROM shared.tracks WHERE title = ANY($1)', [titles]);
    expect(rows).toEqual([{ n: 0 }]);
  });
});
