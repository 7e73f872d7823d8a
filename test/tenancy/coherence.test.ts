/**
 * Cache coherence under races: a change made through the control API is seen by this router
 * within its L1 TTL (+ 1.5 s), whichever way the change interleaves with a router's L2 epoch read,
 * its L3 read and its L2 write-back. The Neon and Upstash stand-ins hold chosen requests so each
 * interleaving happens for certain; every test makes its own tenant, so no other test is touched.
 */
import { describe, expect, it } from 'vitest';
import { cacheKey } from '../../src/tenancy/tenant.js';
import { activateDomain, admin, createViaApi, L1_TTL_MS, tokenFor, type CreatedTenant } from '../support/control.js';
import { call, errorOf, unique } from '../support/helpers.js';
import { heldAtNeon, holdAtNeon, holdAtUpstash, redis, sleep, until } from './race-support.js';

const BOUND_MS = L1_TTL_MS + 1500;

/** A fresh tenant, a token for it and its host. */
async function fresh(): Promise<{ t: CreatedTenant; token: string; host: string; l2Key: string }> {
  const t = await createViaApi();
  return { t, token: await tokenFor(t.id), host: `${t.slug}.localhost`, l2Key: cacheKey({ kind: 'slug', value: t.slug }) };
}

async function suspend(id: string): Promise<number> {
  const res = await admin(`/admin/v1/tenants/${id}/suspend`, { method: 'POST' });
  expect(res.status).toBe(200);
  return Date.now();
}

/** True when the router refuses the tenant as suspended. */
async function refusedAsSuspended(host: string, token: string): Promise<boolean> {
  const res = await call(host, '/api/v1/me', { token });
  if (res.status !== 503) { await res.body?.cancel(); return false; }
  return (await errorOf(res)).code === 'TENANT_SUSPENDED';
}

/** Asserts `changed` holds within the bound counted from `since` (the change's answer), and still after another L1 TTL. */
async function expectWithinBound(what: string, since: number, changed: () => Promise<boolean>): Promise<void> {
  const seen = await until(since + BOUND_MS, changed);
  expect(seen, `old record still served ${BOUND_MS} ms after the change`).toBe(true);
  console.log(JSON.stringify({ interleaving: what, changeSeenAfterMs: Date.now() - since, boundMs: BOUND_MS }));
  // Nothing stale is left at any level.
  await sleep(L1_TTL_MS + 200);
  expect(await changed()).toBe(true);
}

const expectSuspendedWithinBound = (what: string, host: string, token: string, since: number) =>
  expectWithinBound(what, since, () => refusedAsSuspended(host, token));

/** The L2 entry must be absent or the current (suspended) record, never the old one. */
async function expectL2NotStale(l2Key: string): Promise<void> {
  const value = await redis(['GET', l2Key]) as string | null;
  if (value !== null) expect((JSON.parse(value) as { status: string }).status).toBe('suspended');
}

describe('cache coherence: a change races a router lookup', () => {
  it('change after the epoch read, while the L3 answer (the old record) is on its way', async () => {
    const { t, token, host, l2Key } = await fresh();
    const before = await heldAtNeon();
    await holdAtNeon({ param: t.slug, ms: 2500, phase: 'after', times: 1 });
    const first = call(host, '/api/v1/me', { token });
    // The router's read has run at the database: what it carries back is the active record.
    expect(await until(Date.now() + 5000, async () => (await heldAtNeon()).executed > before.executed)).toBe(true);
    const since = await suspend(t.id);
    expect((await first).status).toBe(200);
    await sleep(300); // the write-back, in the background
    await expectL2NotStale(l2Key);
    await expectSuspendedWithinBound('slow L3 answer', host, token, since);
    await expectL2NotStale(l2Key);
  });

  it('change after the epoch read, before the L3 query runs: the late read is current', async () => {
    const { t, token, host, l2Key } = await fresh();
    const before = await heldAtNeon();
    await holdAtNeon({ param: t.slug, ms: 2000, phase: 'before', times: 1 });
    const first = call(host, '/api/v1/me', { token });
    expect(await until(Date.now() + 5000, async () => (await heldAtNeon()).arrived > before.arrived)).toBe(true);
    const since = await suspend(t.id);
    const res = await first;
    expect(res.status).toBe(503);
    expect((await errorOf(res)).code).toBe('TENANT_SUSPENDED');
    await sleep(300);
    await expectL2NotStale(l2Key);
    await expectSuspendedWithinBound('late L3 query', host, token, since);
  });

  it('change before the epoch read: served at once, and the write-back fills L2 with the current record', async () => {
    const { t, token, host, l2Key } = await fresh();
    await suspend(t.id);
    expect(await refusedAsSuspended(host, token)).toBe(true);
    await sleep(300);
    const value = await redis(['GET', l2Key]) as string;
    expect((JSON.parse(value) as { status: string }).status).toBe('suspended');
    expect(Number(await redis(['TTL', l2Key]))).toBeLessThanOrEqual(60);
  });

  it('a write-back that reaches Redis after the invalidation is a no-op', async () => {
    const { t, token, host, l2Key } = await fresh();
    // The router reads L3 at once; its write-back of the active record is held 2 s at Redis.
    await holdAtUpstash({ key: l2Key, command: 'eval', ms: 2000, times: 1 });
    expect((await call(host, '/api/v1/me', { token })).status).toBe(200);
    await sleep(200);
    const since = await suspend(t.id);
    await sleep(2200); // the held write-back has run
    await expectL2NotStale(l2Key);
    await expectSuspendedWithinBound('late write-back', host, token, since);
    await expectL2NotStale(l2Key);
  });

  it('a custom domain removed while a lookup by that domain is in flight stops resolving within the bound', async () => {
    const domain = `${unique('rd')}.example.org`;
    const t = await createViaApi({ domains: [domain] });
    await activateDomain(t.id, domain);
    const token = await tokenFor(t.id);
    const l2Key = cacheKey({ kind: 'domain', value: domain });
    const before = await heldAtNeon();
    await holdAtNeon({ param: domain, ms: 2500, phase: 'after', times: 1 });
    const first = call(domain, '/api/v1/me', { token });
    expect(await until(Date.now() + 5000, async () => (await heldAtNeon()).executed > before.executed)).toBe(true);
    const removed = await admin(`/admin/v1/tenants/${t.id}/domains/${domain}`, { method: 'DELETE' });
    expect(removed.status).toBeLessThan(300);
    const since = Date.now();
    expect((await first).status).toBe(200);
    await expectWithinBound('domain removed during a slow L3 answer', since, async () => {
      const res = await call(domain, '/api/v1/me', { token });
      if (res.status !== 404) { await res.body?.cancel(); return false; }
      return (await errorOf(res)).code === 'TENANT_NOT_FOUND';
    });
    expect([null, '~']).toContain(await redis(['GET', l2Key]));
  });
});
