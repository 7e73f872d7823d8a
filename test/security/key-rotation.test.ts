/**
 * MASTER_KEY rotation end to end, on the stack's real databases and Redis: database tenants
 * sealed under k1 (an in-process control plane whose ring is `k1:OLD`) are served by a router
 * whose ring is `k2:NEW,k1:OLD` and refused by one without k1; `GET /admin/v1/keys` counts them
 * under k1; `POST /admin/v1/keys/reseal` (ring `k2:NEW,k1:OLD`) re-seals them under k2 to the
 * same connection string, invalidates the routers' caches, and a second run re-seals nothing.
 * The stack's own secrets (k0, not in these rings) are reported and never touched.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importMasterKey, open } from '../../src/crypto/secret-box.js';
import type { Env } from '../../src/env.js';
import { buildRouter } from '../../workers/router/index.js';
import { call as controlCall, controlEnv } from '../control/in-process.js';
import { L1_TTL_MS, tokenFor, within } from '../support/control.js';
import { call, errorOf, sqlAt, stack, unique } from '../support/helpers.js';
import type { KeyStatus, ResealReport } from '../../src/crypto/reseal.js';

const key = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
const [OLD, NEW] = [key(), key()];
const SEALING_K1 = controlEnv({ MASTER_KEY: `k1:${OLD}` });
const ROTATING = controlEnv({ MASTER_KEY: `k2:${NEW},k1:${OLD}` });
const routerWith = (ring: string): Env => ({ ...(env as unknown as Env), MASTER_KEY: ring });
const ROUTER_BOTH = routerWith(`k2:${NEW},k1:${OLD}`);
const ROUTER_NEW = routerWith(`k2:${NEW}`);
const app = buildRouter(undefined, { accessLog: null });
const control = sqlAt(stack.control.postgresUrl);

interface Made { id: string; slug: string; url?: string }
const made: Made[] = [];

async function route(router: Env, t: Made, init: RequestInit = {}): Promise<Response> {
  const host = `${t.slug}.localhost`;
  const headers = new Headers(init.headers);
  headers.set('host', host);
  headers.set('authorization', `Bearer ${await tokenFor(t.id)}`);
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://${host}/api/v1/tracks`, { ...init, headers }), router, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const secretOf = async (id: string) =>
  ((await control.query('SELECT connection_secret FROM tenant_placements WHERE tenant_id = $1', [id])) as { connection_secret: string }[])[0]!.connection_secret;
const versionOf = async (id: string) => Number(((await control.query('SELECT version FROM tenants WHERE id = $1', [id])) as { version: string }[])[0]!.version);
const status = async () => (await (await controlCall(ROTATING, '/admin/v1/keys')).json()) as KeyStatus;
const reseal = async (json: Record<string, unknown> = {}) => {
  const res = await controlCall(ROTATING, '/admin/v1/keys/reseal', { method: 'POST', json });
  expect(res.status, await res.clone().text()).toBe(200);
  return { body: await res.json() as ResealReport & { status: KeyStatus }, requestId: res.headers.get('x-request-id')! };
};

beforeAll(async () => {
  for (let i = 0; i < 2; i++) {
    const res = await controlCall(SEALING_K1, '/admin/v1/tenants', { method: 'POST', json: { slug: unique('rot-'), tier: 'ENTERPRISE', region: 'aws-us-east-2' } });
    expect(res.status, await res.clone().text()).toBe(201);
    const t = await res.json() as Made & { isolation: string };
    expect(t.isolation).toBe('database');
    made.push({ id: t.id, slug: t.slug });
  }
  for (const t of made) t.url = await open(await importMasterKey(`k1:${OLD}`), await secretOf(t.id), t.id);
}, 120_000);

afterAll(async () => {
  for (const t of made) await controlCall(ROTATING, `/admin/v1/tenants/${t.id}?confirm=${t.slug}`, { method: 'DELETE' });
}, 120_000);

describe('MASTER_KEY rotation', () => {
  it('serves a tenant sealed under k1 from a router whose ring is k2,k1; a ring without k1 is a 503 with Retry-After (a deploy-order problem a retry may find mended)', async () => {
    for (const t of made) {
      expect(await secretOf(t.id)).toMatch(/^v2\.k1\./);
      const res = await route(ROUTER_BOTH, t, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'Old key', artist: 'Band', durationMs: 1000 }) });
      expect(res.status, await res.clone().text()).toBe(201);
      expect((await route(ROUTER_BOTH, t)).status).toBe(200);
      const refused = await route(ROUTER_NEW, t);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('30');
      expect(await errorOf(refused)).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    }
    // The stack's router holds k0 only: the same refusal, and nothing of the key in the answer.
    const res = await call(`${made[0]!.slug}.localhost`, '/api/v1/tracks', { token: await tokenFor(made[0]!.id) });
    expect(res.status).toBe(503);
    expect(await res.text()).not.toMatch(/k1|postgres:/);
  });

  it('GET /keys names the ring and counts the sealed secrets per key id, never a key', async () => {
    const res = await controlCall(ROTATING, '/admin/v1/keys');
    expect(res.status).toBe(200);
    const text = await res.text();
    for (const k of [OLD, NEW]) expect(text).not.toContain(k);
    const s = JSON.parse(text) as KeyStatus;
    expect(s).toMatchObject({ current: 'k2', kids: ['k2', 'k1'], unrecognised: 0, retirable: [] });
    expect(s.sealed.k1).toBe(made.length);
    expect(s.sealed.k2).toBe(0);
    expect(s.sealed.k0).toBeGreaterThanOrEqual(1);
  });

  it('re-seals under k2 in batches: the same connection string, versions bumped, routers told; the old ring serves throughout', async () => {
    const before = await Promise.all(made.map((t) => versionOf(t.id)));
    const total = { resealed: 0, examined: 0, calls: 0 };
    let cursor: string | undefined;
    let last;
    do {
      last = await reseal({ limit: 1, ...(cursor ? { cursor } : {}) });
      total.resealed += last.body.resealed;
      total.examined += last.body.examined;
      total.calls++;
      for (const f of last.body.failed) expect(f).toMatchObject({ kid: 'k0', reason: 'key-not-in-ring' });
      cursor = last.body.nextCursor ?? undefined;
    } while (cursor);
    expect(total.resealed).toBe(made.length);
    expect(total.calls).toBeGreaterThan(made.length);
    expect(last.body.status.sealed).toMatchObject({ k1: 0, k2: made.length });
    // Their data keys (src/tenant-keys/) are still wrapped under k1: k1 cannot go yet.
    expect(last.body.status.tenantKeys).toMatchObject({ k1: made.length });
    expect(last.body.status.retirable).toEqual([]);

    const ringNew = await importMasterKey(`k2:${NEW}`);
    for (const [i, t] of made.entries()) {
      const sealed = await secretOf(t.id);
      expect(sealed).toMatch(/^v2\.k2\./);
      expect(await open(ringNew, sealed, t.id)).toBe(t.url);
      expect(await versionOf(t.id)).toBe(before[i]! + 1);
      // No downtime: the router with both keys serves, whichever sealed value it holds.
      expect((await route(ROUTER_BOTH, t)).status).toBe(200);
    }
    // Routers' caches were invalidated: a router with k2 alone serves them from a fresh lookup
    // (the L2 held the old record), and the one that refused them serves within its L1 TTL.
    const freshNew = routerWith(`k2:${NEW}`);
    for (const t of made) {
      const res = await route(freshNew, t);
      expect(res.status, await res.clone().text()).toBe(200);
      expect((await res.json() as { tracks: { title: string }[] }).tracks.map((x) => x.title)).toEqual(['Old key']);
      expect(await within(L1_TTL_MS + 1500, async () => (await route(ROUTER_NEW, t)).status === 200)).not.toBeNull();
    }
  });

  it('k1 is retirable once the tenant data keys are re-wrapped under k2 as well', async () => {
    let cursor: string | undefined;
    let body: ResealReport & { status: KeyStatus };
    do {
      const res = await controlCall(ROTATING, '/admin/v1/keys/rewrap', { method: 'POST', json: cursor ? { cursor } : {} });
      expect(res.status, await res.clone().text()).toBe(200);
      body = await res.json() as ResealReport & { status: KeyStatus };
      cursor = body.nextCursor ?? undefined;
    } while (cursor);
    expect(body.status.tenantKeys).toMatchObject({ k1: 0 });
    expect(body.status.tenantKeys.k2).toBeGreaterThanOrEqual(made.length);
    expect(body.status.retirable).toEqual(['k1']);
  });

  it('a second run re-seals nothing; each run is in the audit log, with counts only', async () => {
    const { body, requestId } = await reseal();
    expect(body).toMatchObject({ current: 'k2', resealed: 0, raced: 0, nextCursor: null });
    expect(body.examined).toBe(body.failedCount);
    expect(body.status.sealed).toMatchObject({ k1: 0, k2: made.length });
    const [entry] = await control.query("SELECT actor, entry FROM audit_log WHERE action = 'keys.reseal' AND request_id = $1", [requestId]) as { actor: string; entry: string }[];
    expect(entry!.actor).toBe('admin-token');
    expect(JSON.parse(entry!.entry).detail).toMatchObject({ current: 'k2', resealed: 0, status: 200 });
    for (const k of [OLD, NEW]) expect(entry!.entry).not.toContain(k);
  });

  it('is documented with its operation ids, needs the admin credential, and refuses a bad request body', async () => {
    const doc = await (await controlCall(ROTATING, '/admin/v1/openapi.json', { token: null })).json() as { paths: Record<string, Record<string, { operationId?: string }>> };
    expect(doc.paths['/admin/v1/keys']!.get!.operationId).toBe('getKeys');
    expect(doc.paths['/admin/v1/keys/reseal']!.post!.operationId).toBe('resealKeys');
    expect((await controlCall(ROTATING, '/admin/v1/keys', { token: null })).status).toBe(401);
    expect((await controlCall(ROTATING, '/admin/v1/keys/reseal', { method: 'POST', token: 'x'.repeat(40) })).status).toBe(401);
    for (const json of [{ limit: 0 }, { limit: 10_001 }, { cursor: 'not-an-id' }, { from: 'k1' }]) {
      const res = await controlCall(ROTATING, '/admin/v1/keys/reseal', { method: 'POST', json });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).code).toBe('BAD_REQUEST');
    }
  });

  it('leaves a secret changed between reading and writing as it is now (compare-and-set)', async () => {
    const res = await controlCall(SEALING_K1, '/admin/v1/tenants', { method: 'POST', json: { slug: unique('rot-'), tier: 'ENTERPRISE', region: 'aws-us-east-2' } });
    expect(res.status).toBe(201);
    const t = await res.json() as Made;
    made.push(t);
    const { servicesFor } = await import('../control/in-process.js');
    const s = await servicesFor(ROTATING);
    const { resealSecrets } = await import('../../src/crypto/reseal.js');
    const { seal } = await import('../../src/crypto/secret-box.js');
    // A re-provisioning lands right after the batch was read: its new secret must survive.
    const reprovisioned = await seal(s.masterKeys, 'postgres://reprovisioned@h/db', t.id);
    const racing = {
      query: async (text: string, params?: unknown[]) => {
        const rows = await s.sql.query(text, params);
        if (text.includes('SELECT tenant_id::text AS id')) await control.query('UPDATE tenant_placements SET connection_secret = $2 WHERE tenant_id = $1', [t.id, reprovisioned]);
        return rows;
      },
    } as unknown as typeof s.sql;
    const version = await versionOf(t.id);
    const report = await resealSecrets({ ...s, sql: racing }, { limit: 10_000 });
    expect(report).toMatchObject({ resealed: 0, raced: 1 });
    expect(await secretOf(t.id)).toBe(reprovisioned);
    expect(await versionOf(t.id)).toBe(version);
    expect((await status()).sealed.k1).toBe(0);
  });
});
