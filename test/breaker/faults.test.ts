/**
 * Stopping a region's PostgreSQL: its breaker opens within the threshold and answers without
 * touching the database while the other regions keep serving; bringing it back closes the breaker
 * through a single probe.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { call, errorOf, platformToken, queriesWithParam, stack, tenant } from '../support/helpers.js';
import { breakerOf } from '../support/guards.js';

const region = async (action: 'stop' | 'start') => {
  const res = await fetch(`${stack.faults}/regions/aws-us-west-2/${action}`, { method: 'POST' });
  expect(res.status).toBe(200);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('circuit breaker under a region failure', () => {
  afterAll(async () => { await fetch(`${stack.faults}/regions/aws-us-west-2/start`, { method: 'POST' }); });

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
    const before = await queriesWithParam(tenant('f-west').id);
    const open = await west();
    expect(open.status).toBe(503);
    expect(Number(open.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await queriesWithParam(tenant('f-west').id)).toBe(before);

    // Other regions are unaffected.
    expect((await call('acme.localhost', '/api/v1/tracks', { token: await platformToken('acme') })).status).toBe(200);
    expect((await call('globex.localhost', '/api/v1/tracks', { token: await platformToken('globex') })).status).toBe(200);

    await region('start');
    // The cool-down is 1 s; after it, a concurrent wave lets exactly one probe reach the database.
    await sleep(1200);
    const atProbe = await queriesWithParam(tenant('f-west').id);
    const wave = await Promise.all(Array.from({ length: 6 }, () => west()));
    const served = wave.filter((r) => r.status === 200).length;
    expect(served).toBe(1);
    expect(await queriesWithParam(tenant('f-west').id)).toBe(atProbe + 1);
    for (const r of wave.filter((x) => x.status !== 200)) expect((await errorOf(r)).code).toBe('CIRCUIT_OPEN');

    // The probe's success closes the circuit; within a second every isolate serves again.
    for (let i = 0; i < 20 && (await breakerOf('db:aws-us-west-2').view()).status !== 'closed'; i++) await sleep(50);
    expect((await breakerOf('db:aws-us-west-2').view()).status).toBe('closed');
    await sleep(1100);
    expect((await west()).status).toBe(200);
  });
});
