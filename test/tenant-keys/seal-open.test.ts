/**
 * Per-tenant data keys and c.var.crypto end to end in workerd, on the stack's real databases and
 * Redis: a tenant gets a wrapped key when it is created; an app behind the router seals and opens
 * fields with it; a value sealed for one tenant or field does not open for another; a tenant
 * without a key (made before migration 0013) gets one on first use, the same for every router;
 * a MASTER_KEY rotation re-wraps the keys (POST /admin/v1/keys/rewrap) and every value sealed
 * before it still opens on a router that no longer holds the old ring key.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Env } from 'edge-tenant-router';
import { importMasterKey } from '../../src/crypto/secret-box.js';
import { unwrapRaw } from '../../src/tenant-keys/data-key.js';
import type { KeyStatus, ResealReport } from '../../src/crypto/reseal.js';
import { call as controlCall, controlEnv } from '../control/in-process.js';
import { createViaApi, tokenFor, admin, type CreatedTenant } from '../support/control.js';
import { errorOf, sqlAt, stack, unique } from '../support/helpers.js';
import { vaultRouter } from './vault-app.js';

const app = vaultRouter();
const control = sqlAt(stack.control.postgresUrl);
const key = () => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
const [OLD, NEW] = [key(), key()];
const routerWith = (ring: string): Env => ({ ...(env as unknown as Env), MASTER_KEY: ring });

type Target = { id: string; slug: string };
async function send(t: Target, path: string, body?: unknown, router: Env = env as unknown as Env): Promise<Response> {
  const host = `${t.slug}.localhost`;
  const headers = new Headers({ host, authorization: `Bearer ${await tokenFor(t.id)}` });
  if (body !== undefined) headers.set('content-type', 'application/json');
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://${host}/api/v1/vault${path}`, { method: body === undefined ? 'GET' : 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) }), router, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}
async function seal(t: Target, field: string, value: string, router?: Env): Promise<string> {
  const res = await send(t, '/seal', { field, value }, router);
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json() as { sealed: string }).sealed;
}
const open = (t: Target, field: string, sealed: string, router?: Env) => send(t, '/open', { field, sealed }, router);
const wrappedOf = async (id: string) => ((await control.query('SELECT wrapped FROM tenant_keys WHERE tenant_id = $1', [id])) as { wrapped: string }[])[0]?.wrapped ?? null;

let a: CreatedTenant;
let b: CreatedTenant;
const made: Target[] = [];

beforeAll(async () => {
  [a, b] = await Promise.all([createViaApi(), createViaApi()]);
  made.push(a, b);
}, 120_000);

afterAll(async () => {
  for (const t of made) await admin(`/admin/v1/tenants/${t.id}?confirm=${t.slug}`, { method: 'DELETE' });
}, 120_000);

describe('tenant data keys and c.var.crypto', () => {
  it('gives every new tenant its own data key, stored only wrapped under MASTER_KEY and bound to the tenant', async () => {
    const [wa, wb] = [await wrappedOf(a.id), await wrappedOf(b.id)];
    expect(wa).toMatch(/^v[12]\./);
    expect(wb).toMatch(/^v[12]\./);
    const ring = await importMasterKey(stack.routerEnv.MASTER_KEY!);
    const [ka, kb] = [await unwrapRaw(ring, wa!, a.id), await unwrapRaw(ring, wb!, b.id)];
    expect(ka.byteLength).toBe(32);
    expect(Buffer.from(ka).equals(Buffer.from(kb))).toBe(false);
    // A's wrapped key copied onto B does not unwrap: the wrapping is bound to the tenant id.
    await expect(unwrapRaw(ring, wa!, b.id)).rejects.toThrow();
  });

  it('seals and opens a field through an app route; the sealed form is not the plaintext and differs each time', async () => {
    const secret = unique('iban-');
    const s1 = await seal(a, 'customer.iban', secret);
    const s2 = await seal(a, 'customer.iban', secret);
    expect(s1).toMatch(/^tk1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(s1).not.toContain(secret);
    expect(s1).not.toBe(s2);
    for (const s of [s1, s2]) {
      const res = await open(a, 'customer.iban', s);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ value: secret });
    }
  });

  it('stores a sealed column in the tenant database and reads it back opened', async () => {
    const artist = unique('artist-');
    const created = await send(a, '/tracks', { title: 'Sealed', artist });
    expect(created.status, await created.clone().text()).toBe(201);
    const { id, stored } = await created.json() as { id: string; stored: string };
    expect(stored).toMatch(/^tk1\./);
    const [row] = await sqlAt(stack.regions['aws-us-east-2']!.postgresUrl).query('SELECT artist FROM shared.tracks WHERE id = $1', [id]) as { artist: string }[];
    expect(row!.artist).toBe(stored);
    const list = await (await send(a, '/tracks')).json() as { tracks: { id: string; artist: string }[] };
    expect(list.tracks.find((t) => t.id === id)?.artist).toBe(artist);
  });

  it('refuses a value sealed for another tenant or another field (422 SEALED_VALUE_INVALID), and a tampered or malformed one', async () => {
    const sealed = await seal(a, 'email', 'a@example.com');
    const cross = await open(b, 'email', sealed);
    expect(cross.status).toBe(422);
    expect(await errorOf(cross)).toMatchObject({ code: 'SEALED_VALUE_INVALID' });
    const field = await open(a, 'phone', sealed);
    expect(field.status).toBe(422);
    expect((await errorOf(field)).code).toBe('SEALED_VALUE_INVALID');
    const last = sealed.at(-2) === 'A' ? 'B' : 'A';
    const tampered = `${sealed.slice(0, -2)}${last}${sealed.at(-1)}`;
    expect((await open(a, 'email', tampered)).status).toBe(422);
    expect((await open(a, 'email', 'not-sealed')).status).toBe(422);
    expect((await open(a, 'email', sealed)).status).toBe(200);
  });

  it('creates the key of a tenant that has none on first use, once: every router gets the same key', async () => {
    const t = await createViaApi();
    made.push(t);
    await control.query('DELETE FROM tenant_keys WHERE tenant_id = $1', [t.id]);
    // Two isolates (fresh services each), racing on the first use.
    const [r1, r2] = [routerWith(stack.routerEnv.MASTER_KEY!), routerWith(stack.routerEnv.MASTER_KEY!)];
    const [s1, s2] = await Promise.all([seal(t, 'x', 'one', r1), seal(t, 'x', 'two', r2)]);
    expect(await wrappedOf(t.id)).toMatch(/^v[12]\./);
    expect(await (await open(t, 'x', s1, r2)).json()).toEqual({ value: 'one' });
    expect(await (await open(t, 'x', s2, r1)).json()).toEqual({ value: 'two' });
    expect(await (await open(t, 'x', s1)).json()).toEqual({ value: 'one' });
  });

  it("the router's control role creates keys only through tenant_key_ensure(), never for a tenant that does not exist or is being deleted, and never replaces one", async () => {
    const asRouter = sqlAt(stack.control.routerUrl);
    await expect(asRouter.query("INSERT INTO tenant_keys (tenant_id, wrapped) VALUES ($1, 'v1.x.y')", [crypto.randomUUID()])).rejects.toMatchObject({ code: '42501' });
    await expect(asRouter.query("UPDATE tenant_keys SET wrapped = 'v1.x.y' WHERE tenant_id = $1", [a.id])).rejects.toMatchObject({ code: '42501' });
    expect(await asRouter.query("SELECT tenant_key_ensure($1::uuid, 'v1.AAAA.BBBB') AS k", [crypto.randomUUID()])).toEqual([{ k: null }]);
    const before = await wrappedOf(a.id);
    expect(await asRouter.query("SELECT tenant_key_ensure($1::uuid, 'v1.AAAA.BBBB') AS k", [a.id])).toEqual([{ k: before }]);
    await expect(asRouter.query("SELECT tenant_key_ensure($1::uuid, 'plain') AS k", [a.id])).rejects.toMatchObject({ code: '22023' });
  });
});

describe('MASTER_KEY rotation re-wraps tenant keys without touching sealed data', () => {
  const SEALING_K1 = controlEnv({ MASTER_KEY: `r1:${OLD}` });
  const ROTATING = controlEnv({ MASTER_KEY: `r2:${NEW},r1:${OLD}` });
  const ROUTER_BOTH = routerWith(`r2:${NEW},r1:${OLD}`);
  const ROUTER_NEW = routerWith(`r2:${NEW}`);

  it('counts keys under r1, re-wraps them under r2 (version bumped, routers invalidated), and values sealed before still open with r2 alone', async () => {
    const res = await controlCall(SEALING_K1, '/admin/v1/tenants', { method: 'POST', json: { slug: unique('rw-'), tier: 'STANDARD', region: 'aws-us-east-2' } });
    expect(res.status, await res.clone().text()).toBe(201);
    const t = await res.json() as Target & { version: number };
    made.push(t);
    expect(await wrappedOf(t.id)).toMatch(/^v2\.r1\./);
    const sealed = await seal(t, 'ssn', '078-05-1120', ROUTER_BOTH);
    // Without r1 the key cannot be unwrapped yet: the deploy-order answer, as for connection secrets.
    const early = await open(t, 'ssn', sealed, ROUTER_NEW);
    expect(early.status).toBe(503);
    expect(early.headers.get('retry-after')).toBe('30');
    expect((await errorOf(early)).code).toBe('UPSTREAM_UNAVAILABLE');

    const status = await (await controlCall(ROTATING, '/admin/v1/keys')).json() as KeyStatus;
    expect(status.tenantKeys.r1).toBeGreaterThanOrEqual(1);
    expect(status.retirable).not.toContain('r1');
    const version = Number(((await control.query('SELECT version FROM tenants WHERE id = $1', [t.id])) as { version: string }[])[0]!.version);

    let cursor: string | undefined;
    let rewrapped = 0;
    do {
      const r = await controlCall(ROTATING, '/admin/v1/keys/rewrap', { method: 'POST', json: cursor ? { cursor } : {} });
      expect(r.status, await r.clone().text()).toBe(200);
      const body = await r.json() as ResealReport & { status: KeyStatus };
      rewrapped += body.resealed;
      cursor = body.nextCursor ?? undefined;
      if (!cursor) expect(body.status.tenantKeys.r1 ?? 0).toBe(0);
    } while (cursor);
    expect(rewrapped).toBeGreaterThanOrEqual(1);
    expect(await wrappedOf(t.id)).toMatch(/^v2\.r2\./);
    expect(Number(((await control.query('SELECT version FROM tenants WHERE id = $1', [t.id])) as { version: string }[])[0]!.version)).toBe(version + 1);

    // A fresh router holding only r2 opens what was sealed before the rotation.
    const FRESH_NEW = routerWith(`r2:${NEW}`);
    const opened = await open(t, 'ssn', sealed, FRESH_NEW);
    expect(opened.status, await opened.clone().text()).toBe(200);
    expect(await opened.json()).toEqual({ value: '078-05-1120' });
    // A second run re-wraps nothing.
    const again = await (await controlCall(ROTATING, '/admin/v1/keys/rewrap', { method: 'POST', json: {} })).json() as ResealReport;
    expect(again.resealed).toBe(0);
    expect(await wrappedOf(t.id)).toMatch(/^v2\.r2\./);
    const audit = await control.query("SELECT count(*)::int AS n FROM audit_log WHERE action = 'keys.rewrap'") as { n: number }[];
    expect(audit[0]!.n).toBeGreaterThanOrEqual(1);
  });
});
