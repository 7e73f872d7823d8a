/**
 * Property test of token leasing (defect 1): the real LeasingRateLimiter of several simulated
 * isolates against the pure guard state, under random interleavings of arrivals, releases,
 * deliveries of object calls (in any order across isolates, some answers or calls lost) and time.
 *
 * Stated bounds (C = concurrency, B = burst, r = rate):
 *  - tokens: admitted units never exceed B + r·elapsed (leasing never over-admits);
 *  - one isolate: never refused CONCURRENCY_LIMIT unless C requests of it were running during
 *    the wait, never RATE_LIMITED unless an ideal bucket fed with the same admissions was short,
 *    never QUOTA_EXCEEDED unless the month was used up;
 *  - several isolates: the object refuses for concurrency only when the asking isolate's running
 *    requests + 1 + the others' peaks since their last report exceed ⌈C/2⌉ (so never while the
 *    total in flight, counted that way, is within C/2); refused for rate only while the ideal bucket
 *    was short by less than one lease per other isolate;
 *  - metering: once everything is released and settled, the object meters exactly the units admitted,
 *    and exactly the body bytes (bandwidth) the isolates counted, whatever calls or answers were lost.
 */
import { describe, expect, it } from 'vitest';
import { leaseSize } from '../../src/quota/lease-size.js';
import { guardLimits } from '../../src/quota/rate-limiter.js';
import { rng, Sim, simTenant, type Req } from './sim.js';

interface Run { seed: number; isolates: number; fail: boolean; steps: number }

async function run({ seed, isolates, fail, steps }: Run) {
  const random = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
  const concurrency = 1 + Math.floor(random() * 40);
  const rate = pick([300, 1_200, 3_000, 12_000, 60_000]);
  const burst = pick([5, 50, 500, 2_000]);
  const hardCap = isolates === 1 && random() < 0.3;
  const monthly = hardCap ? 50 + Math.floor(random() * 400) : undefined;
  const tenant = simTenant({ rate, burst, concurrency, monthly, hardCap });
  const want = leaseSize(guardLimits(tenant.tier));
  const sim = new Sim(tenant, isolates, random);
  const where = `seed ${seed} (isolates ${isolates}, C ${concurrency}, rate ${rate}/min, burst ${burst}, lease ${want}${hardCap ? `, monthly ${monthly}` : ''})`;

  sim.onResult = (req: Req) => {
    const r = req.result!;
    if (r.ok) {
      expect(sim.admittedUnits, `tokens over-admitted, ${where}`).toBeLessThanOrEqual(burst + ((sim.now - sim.start) * rate) / 60_000 + 1e-6);
      if (isolates === 1) expect(sim.isos[0]!.running.length, `concurrency exceeded, ${where}`).toBeLessThanOrEqual(concurrency);
      return;
    }
    if (isolates === 1 && r.reason === 'CONCURRENCY_LIMIT') expect(req.maxRunning, `refused for concurrency, ${where}`).toBeGreaterThanOrEqual(concurrency);
    if (isolates === 1 && r.reason === 'QUOTA_EXCEEDED') expect(sim.admittedUnits + req.cost, `refused for quota, ${where}`).toBeGreaterThan(monthly!);
    if (r.reason === 'RATE_LIMITED' && (isolates === 1 || !fail)) {
      expect(req.minIdeal, `refused for rate, ${where}`).toBeLessThan(req.cost + (isolates - 1) * want);
    }
  };

  for (let step = 0; step < steps; step++) {
    const x = random();
    const i = Math.floor(random() * isolates);
    if (x < 0.35) sim.arrive(i, random() < 0.8 ? 1 : 2);
    else if (x < 0.6) sim.finish(i);
    else if (x < 0.85) {
      if (sim.calls.length) {
        const y = random();
        sim.deliver(Math.floor(random() * sim.calls.length), fail && y < 0.04 ? 'answer-lost' : fail && y < 0.08 ? 'call-lost' : 'ok');
      }
    } else sim.advance(pick([0, 1, 5, 20, 100, 400, 1_200]));
    await sim.settle();
    for (let k = 0; k < isolates; k++) expect(sim.calls.filter((c) => c.iso === k).length, `two calls in flight from one isolate, ${where}`).toBeLessThanOrEqual(1);
  }
  for (const o of sim.objectRefusals) {
    if (isolates === 1) expect(o.inflight + 1, `object refused a lone isolate for concurrency, ${where}`).toBeGreaterThan(concurrency);
    else expect(o.inflight + 1 + o.othersPeak, `object refused for concurrency within C/2, ${where}`).toBeGreaterThan(Math.ceil(concurrency / 2));
  }

  // Drain: every request ends, calls are delivered, leases expire and settle, retries go out.
  for (let round = 0; round < 200 && (sim.calls.length || sim.timersPending || sim.isos.some((s) => s.running.length || s.waiting.size)); round++) {
    for (let k = 0; k < isolates; k++) while (sim.isos[k]!.running.length) sim.finish(k);
    await sim.settle();
    while (sim.calls.length) { sim.deliver(0); await sim.settle(); }
    sim.advance(700);
    await sim.settle();
  }
  await Promise.all(sim.background);
  const metered = Object.values(sim.state.usage).reduce((n, u) => n + u.admitted, 0);
  expect(metered, `metering, ${where}`).toBe(sim.admittedUnits);
  expect(sim.bytesCounted(), `bandwidth metering, ${where}`).toEqual(sim.bytesMetered);
  expect(sim.state.grants, `grants left, ${where}`).toEqual({});
  expect(Object.values(sim.state.holders).every((h) => h.inflight === 0), `holders left, ${where}`).toBe(true);
  return sim;
}

describe('leasing under random interleavings', () => {
  it('one isolate: never refused within its limits, never over its tokens, metered exactly', async () => {
    let admitted = 0;
    for (let seed = 1; seed <= 40; seed++) admitted += (await run({ seed, isolates: 1, fail: seed % 2 === 0, steps: 500 })).admittedUnits;
    expect(admitted).toBeGreaterThan(1_000);
  });

  it('several isolates: refusals only past the stated bounds, never over its tokens, metered exactly', async () => {
    let admitted = 0;
    for (let seed = 101; seed <= 140; seed++) admitted += (await run({ seed, isolates: 2 + (seed % 3), fail: seed % 2 === 0, steps: 500 })).admittedUnits;
    expect(admitted).toBeGreaterThan(1_000);
  });
});
