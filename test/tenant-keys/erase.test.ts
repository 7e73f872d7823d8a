/**
 * Erasure end to end in workerd against the stack's real PostgreSQL, Redis and TenantGuard
 * objects, through an in-process control plane with a zero purge grace and the TenantGuard
 * binding: every store holds something of tenant A (rows with a sealed column, usage, the kept
 * answer of an idempotent call, guard state, router cache keys); the erase removes all of it,
 * lifts the storage fence, destroys A's data key so a value sealed before can never be opened
 * again, leaves tenant B untouched, and appends a signed receipt (verified through the API) to
 * the audit log.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Env } from 'edge-tenant-router';
import type { ErasureReceipt } from '../../src/tenant-data/erase.js';
import { countControlRows } from '../../src/tenant-data/stores.js';
import { guardStub } from '../../src/quota/rate-limiter.js';
import { cacheKey } from '../../src/tenancy/tenant.js';
import { call as controlCall, controlEnv } from '../control/in-process.js';
import { tokenFor } from '../support/control.js';
import { errorOf, sqlAt, stack, unique } from '../support/helpers.js';
import { vaultRouter } from './vault-app.js';

const REGION = 'aws-us-east-2';
const app = vaultRouter();
const control = sqlAt(stack.control.postgresUrl);
const region = sqlAt(stack.regions[REGION]!.postgresUrl);
const testEnv = env as unknown as Env;
const CONTROL = controlEnv({ PURGE_GRACE_SECONDS: '0', TENANT_GUARD: testEnv.TENANT_GUARD, DO_JURISDICTIONS: 'false' });
/** A fresh router isolate's worth of services (no L1 entries of earlier requests). */
const freshRouter = (): Env => ({ ...testEnv });

type T = { id: string; slug: string };
async function send(t: T, path: string, body?: unknown, router: Env = testEnv): Promise<Response> {
  const host = `${t.slug}.localhost`;
  const headers = new Headers({ host, authorization: `Bearer ${await tokenFor(t.id)}` });
  if (body !== undefined) headers.set('content-type', 'application/json');
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://${host}/api/v1/vault${path}`, { method: body === undefined ? 'GET' : 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) }), router, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}
async function create(slug = unique('er-')): Promise<T> {
  const res = await controlCall(CONTROL, '/admin/v1/tenants', { method: 'POST', json: { slug, tier: 'STANDARD', region: REGION } });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json() as Promise<T>;
}
const redisExists = async (key: string): Promise<number> => {
  if (!stack.upstash) return 0;
  const res = await fetch(stack.upstash.url, { method: 'POST', headers: { authorization: `Bearer ${stack.upstash.token}` }, body: JSON.stringify(['EXISTS', key]) });
  return ((await res.json()) as { result: number }).result;
};
const guardOf = (t: T) => guardStub(testEnv.TENANT_GUARD, { id: t.id, guardJurisdiction: 'global' }, false);

let a: T;
let b: T;
let sealed: string;

beforeAll(async () => {
  [a, b] = [await create(), await create()];
  for (const t of [a, b]) {
    const res = await send(t, '/tracks', { title: `of ${t.slug}`, artist: 'Secret Band' });
    expect(res.status, await res.clone().text()).toBe(201);
  }
  const res = await send(a, '/seal', { field: 'email', value: 'a@example.com' });
  sealed = (await res.json() as { sealed: string }).sealed;
  // Usage as a TenantGuard flush writes it (its alarm would, a few seconds later).
  for (const t of [a, b]) {
    await control.query("INSERT INTO usage_flushes (tenant_id, month, source, requests, flush_seq) VALUES ($1, '2026-11', 'erase-test', 42, 1)", [t.id]);
  }
  // The alerts' telemetry of both, as a scheduled alerts run writes it.
  for (const t of [a, b]) {
    await control.query("INSERT INTO alert_baselines (tenant_id, signal, mean, variance, samples, updated_at) VALUES ($1, 'requests', 10, 1, 5, now())", [t.id]);
    await control.query("INSERT INTO alert_snapshots (tenant_id, region, counters) VALUES ($1, 'aws-us-east-2', '{}')", [t.id]);
  }
  // The kept answer of an idempotent call about A.
  const idem = await controlCall(CONTROL, `/admin/v1/tenants/${a.id}/migrate`, { method: 'POST', headers: { 'idempotency-key': unique('k-') } });
  expect(idem.status, await idem.clone().text()).toBe(200);
}, 120_000);

describe('POST /admin/v1/tenants/{id}/erase', () => {
  it('refuses without the slug repeated as confirm (400 CONFIRMATION_REQUIRED) and erases nothing', async () => {
    const res = await controlCall(CONTROL, `/admin/v1/tenants/${a.id}/erase`, { method: 'POST' });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe('CONFIRMATION_REQUIRED');
    expect((await send(a, '/open', { field: 'email', sealed })).status).toBe(200);
  });

  it('removes the tenant from every store, destroys its key, and answers a signed receipt whose scan finds nothing left', async () => {
    const before = await countControlRows(control as never, a.id);
    expect(before).toMatchObject({ tenants: 1, tenant_keys: 1, tenant_placements: 1 });
    expect(before.usage_flushes).toBeGreaterThanOrEqual(1);
    expect(before.idempotency_keys).toBeGreaterThanOrEqual(1);
    expect([before.alert_baselines, before.alert_snapshots]).toEqual([1, 1]);
    expect(await guardOf(a).inspect()).not.toBeNull();
    const slugKey = cacheKey({ kind: 'slug', value: a.slug });
    if (stack.upstash) expect(await redisExists(slugKey)).toBe(1);

    const res = await controlCall(CONTROL, `/admin/v1/tenants/${a.id}/erase?confirm=${a.slug}`, { method: 'POST' });
    expect(res.status, await res.clone().text()).toBe(200);
    const receipt = await res.json() as ErasureReceipt;
    expect(receipt).toMatchObject({
      type: 'tenant-erasure', tenantId: a.id, slug: a.slug, keyDestroyed: true, fencePendingUntil: null,
      removed: { control: { tenants: 1, tenant_keys: 1, usage_flushes: before.usage_flushes }, storage: { rows: 1 }, guard: 'erased' },
      verification: { complete: true, storage: { rows: 0 } },
      signature: { alg: 'HS256', kid: expect.stringMatching(/^master:/) },
    });
    expect(Object.values(receipt.verification.control).every((n) => n === 0)).toBe(true);

    // Every store, scanned again here: control rows, the shared table, the fence, the guard, the cache.
    expect(Object.values(await countControlRows(control as never, a.id)).every((n) => n === 0)).toBe(true);
    expect(await region.query('SELECT count(*)::int AS n FROM shared.tracks WHERE tenant_id = $1', [a.id])).toEqual([{ n: 0 }]);
    expect(await region.query('SELECT count(*)::int AS n FROM router.fences WHERE tenant_id = $1', [a.id])).toEqual([{ n: 0 }]);
    expect(await guardOf(a).inspect()).toBeNull();
    if (stack.upstash) expect(await redisExists(slugKey)).toBe(0);

    // B is untouched.
    expect(await region.query('SELECT count(*)::int AS n FROM shared.tracks WHERE tenant_id = $1', [b.id])).toEqual([{ n: 1 }]);
    const rowsOfB = await countControlRows(control as never, b.id);
    expect(rowsOfB).toMatchObject({ tenants: 1, tenant_keys: 1, alert_baselines: 1, alert_snapshots: 1 });
    expect(rowsOfB.usage_flushes).toBeGreaterThanOrEqual(1);
    const list = await (await send(b, '/tracks')).json() as { tracks: { artist: string }[] };
    expect(list.tracks.map((t) => t.artist)).toEqual(['Secret Band']);

    // The receipt is in the audit log, and its signature verifies through the API; altered, it does not.
    const [entry] = await control.query("SELECT entry FROM audit_log WHERE action = 'tenant.erased' AND tenant_id = $1", [a.id]) as { entry: string }[];
    expect(JSON.parse(entry!.entry).detail.receipt).toEqual(receipt);
    const ok = await controlCall(CONTROL, '/admin/v1/exports/verify', { method: 'POST', json: receipt });
    expect(await ok.json()).toMatchObject({ valid: true });
    const forged = await controlCall(CONTROL, '/admin/v1/exports/verify', { method: 'POST', json: { ...receipt, keyDestroyed: false } });
    expect(await forged.json()).toMatchObject({ valid: false });
  });

  it('crypto-shreds: the key is never re-created, and a value sealed before the erase opens for nobody, not even a new tenant of the same slug', async () => {
    const asRouter = sqlAt(stack.control.routerUrl);
    expect(await asRouter.query("SELECT tenant_key_ensure($1::uuid, 'v1.AAAA.BBBB') AS k", [a.id])).toEqual([{ k: null }]);
    const gone = await send(a, '/open', { field: 'email', sealed }, freshRouter());
    expect(gone.status).toBe(404);
    expect((await errorOf(gone)).code).toBe('TENANT_NOT_FOUND');
    const again = await create(a.slug);
    const res = await send(again, '/open', { field: 'email', sealed }, freshRouter());
    expect(res.status).toBe(422);
    expect((await errorOf(res)).code).toBe('SEALED_VALUE_INVALID');
    await controlCall(CONTROL, `/admin/v1/tenants/${again.id}/erase?confirm=${again.slug}`, { method: 'POST' });
  });

  it('a second erase of the same tenant is 404: nothing of it is left to find', async () => {
    const res = await controlCall(CONTROL, `/admin/v1/tenants/${a.id}/erase?confirm=${a.slug}`, { method: 'POST' });
    expect(res.status).toBe(404);
    expect((await errorOf(res)).code).toBe('TENANT_NOT_FOUND');
    await controlCall(CONTROL, `/admin/v1/tenants/${b.id}/erase?confirm=${b.slug}`, { method: 'POST' });
  });
});
