/**
 * The write fence (router.enter, src/provisioning/router-objects.ts), what a move of a tenant's
 * data stands on: while a tenant's writes are fenced its transactions are READ ONLY (reads served,
 * a write refused 25006), fenced durably by a row in router.write_fences or for a while by a
 * session holding the tenant's write lock, which first waits for the read-write transactions in
 * flight. Through the router: writes are 503 TENANT_MIGRATING with Retry-After, reads 200, and the
 * region's breaker does not count the refusals.
 */
import { Client, NeonDbError } from '@neondatabase/serverless';
import { describe, expect, it } from 'vitest';
import { addWriteFence, removeWriteFence, withWriteFence } from '../../src/provisioning/router-objects.js';
import { createViaApi, tokenFor } from '../support/control.js';
import { call, errorOf, sqlAt, stack } from '../support/helpers.js';

const US = 'aws-us-east-2';
const routerSql = () => sqlAt(stack.regions[US]!.routerUrl);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const soon = () => new Date(Date.now() + 5_000).toISOString();

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(NeonDbError);
  return (err as NeonDbError).code;
}

/** A client of `url`, connected. */
async function client(url: string): Promise<Client> {
  const c = new Client(url);
  c.on('error', () => {});
  await c.connect();
  return c;
}

/** One transaction of row tenant `id` through the router's role: enter, then `sql`; its SQLSTATE or 'ok'. */
async function attempt(id: string, sql: string): Promise<string> {
  const c = await client(stack.regions[US]!.routerUrl);
  try {
    await c.query('BEGIN');
    await c.query("SELECT router.enter($1, $2, false), set_config('search_path', 'shared', true), set_config('app.tenant_id', $3, true)", [id, soon(), id]);
    await c.query(sql);
    await c.query('COMMIT');
    return 'ok';
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  } finally {
    await c.end().catch(() => {});
  }
}

const WRITE = "INSERT INTO tracks (title, artist, duration_ms) VALUES ('fenced?', 'x', 1)";
const READ = 'SELECT count(*) FROM tracks';

describe('write fence in SQL', () => {
  it("a durable fence makes the tenant's transactions read-only, only that tenant's, until removed; the router's role cannot touch it", async () => {
    const id = crypto.randomUUID();
    const other = crypto.randomUUID();
    const owner = await client(stack.regions[US]!.postgresUrl);
    try {
      await addWriteFence(owner, id, 'test');
      expect(await attempt(id, READ)).toBe('ok');
      expect(await attempt(id, WRITE)).toBe('25006');
      // A transaction cannot switch itself back to read-write after router.enter.
      expect(await attempt(id, "SELECT set_config('transaction_read_only', 'off', true)")).not.toBe('ok');
      expect(await attempt(other, WRITE)).toBe('ok');
      expect(await codeOf(routerSql().query('DELETE FROM router.write_fences WHERE tenant_id = $1', [id]))).toBe('42501');
      expect(await codeOf(routerSql().query("INSERT INTO router.write_fences (tenant_id, reason) VALUES ($1, 'x')", [other]))).toBe('42501');
      await removeWriteFence(owner, id);
      expect(await attempt(id, WRITE)).toBe('ok');
    } finally {
      await owner.end().catch(() => {});
    }
  });

  it('a session fence waits for the read-write transaction in flight; meanwhile and while held every new one is read-only; released, writes resume', async () => {
    const id = crypto.randomUUID();
    const inFlight = await client(stack.regions[US]!.routerUrl);
    const mover = await client(stack.regions[US]!.postgresUrl);
    try {
      await inFlight.query('BEGIN');
      await inFlight.query("SELECT router.enter($1, $2, false), set_config('search_path', 'shared', true), set_config('app.tenant_id', $3, true)", [id, soon(), id]);
      await inFlight.query("INSERT INTO tracks (title, artist, duration_ms) VALUES ('in flight', 'x', 1)");
      let held = false;
      let release!: () => void;
      const released = new Promise<void>((r) => { release = r; });
      const fence = withWriteFence(mover, id, async () => { held = true; await released; });
      await sleep(500);
      expect(held).toBe(false); // it waits for the transaction that entered read-write before it
      expect(await attempt(id, WRITE)).toBe('25006'); // a new one is read-only already
      expect(await attempt(id, READ)).toBe('ok');
      await inFlight.query('COMMIT'); // the write in flight lands
      for (let i = 0; i < 50 && !held; i++) await sleep(50);
      expect(held).toBe(true);
      expect(await attempt(id, WRITE)).toBe('25006');
      release();
      await fence;
      expect(await attempt(id, WRITE)).toBe('ok');
      const rows = await sqlAt(stack.regions[US]!.postgresUrl).query(
        "SELECT count(*)::int AS n FROM shared.tracks WHERE tenant_id = $1 AND title IN ('in flight', 'fenced?')", [id]);
      expect(rows).toEqual([{ n: 2 }]);
    } finally {
      await inFlight.end().catch(() => {});
      await mover.end().catch(() => {});
    }
  });

  it('a mover that dies leaves no fence: its session ends and the tenant writes again', async () => {
    const id = crypto.randomUUID();
    const mover = await client(stack.regions[US]!.postgresUrl);
    const fence = withWriteFence(mover, id, () => new Promise(() => {}));
    fence.catch(() => {});
    await sleep(300);
    expect(await attempt(id, WRITE)).toBe('25006');
    await mover.end().catch(() => {});
    let outcome = '';
    for (let i = 0; i < 40 && outcome !== 'ok'; i++) { outcome = await attempt(id, WRITE); if (outcome !== 'ok') await sleep(100); }
    expect(outcome).toBe('ok');
  });
});

describe('write fence through the router', () => {
  it("writes are 503 TENANT_MIGRATING with Retry-After, reads are served, and the region's breaker does not count the refusals", async () => {
    const t = await createViaApi({ isolation: 'row' });
    const token = await tokenFor(t.id);
    const host = `${t.slug}.localhost`;
    const post = () => call(host, '/api/v1/tracks', { method: 'POST', token, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'during move', artist: 'x', durationMs: 1000 }) });
    expect((await post()).status).toBe(201);
    const owner = await client(stack.regions[US]!.postgresUrl);
    try {
      await addWriteFence(owner, t.id, 'test');
      // More refusals than STANDARD's breaker threshold (10 in 30 s).
      for (let i = 0; i < 12; i++) {
        const res = await post();
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toBe('5');
        expect((await errorOf(res)).code).toBe('TENANT_MIGRATING');
      }
      const read = await call(host, '/api/v1/tracks?limit=5', { token });
      expect(read.status).toBe(200);
      expect(((await read.json()) as { tracks: { title: string }[] }).tracks.map((x) => x.title)).toContain('during move');
    } finally {
      await removeWriteFence(owner, t.id);
      await owner.end().catch(() => {});
    }
    expect((await post()).status).toBe(201);
  });
});

describe('placement floor', () => {
  it('refuses a router whose record of the tenant is older than the floor (TR004), admits the current one and routers that send no version', async () => {
    const id = crypto.randomUUID();
    const owner = await client(stack.regions[US]!.postgresUrl);
    const enterAt = (version: string) => routerSql().query("SELECT set_config('router.tenant_version', $4, true), router.enter($1, $2, $3)", [id, soon(), 'false', version]);
    try {
      await owner.query('INSERT INTO router.placement_floors (tenant_id, min_version) VALUES ($1, 7)', [id]);
      expect(await codeOf(enterAt('6'))).toBe('TR004');
      await enterAt('7');
      await enterAt('8');
      await enterAt(''); // a router deployed before versions: not checked
      await routerSql().query('SELECT router.enter($1, $2, false)', [id, soon()]);
      expect(await codeOf(routerSql().query('DELETE FROM router.placement_floors WHERE tenant_id = $1', [id]))).toBe('42501');
    } finally {
      await owner.query('DELETE FROM router.placement_floors WHERE tenant_id = $1', [id]);
      await owner.end().catch(() => {});
    }
  });

  it('through the router: a floor above the cached version is 503 TENANT_MIGRATING with Retry-After 1, not a breaker failure', async () => {
    const t = await createViaApi({ isolation: 'row' });
    const token = await tokenFor(t.id);
    const host = `${t.slug}.localhost`;
    expect((await call(host, '/api/v1/tracks', { token })).status).toBe(200);
    const owner = await client(stack.regions[US]!.postgresUrl);
    try {
      await owner.query('INSERT INTO router.placement_floors (tenant_id, min_version) VALUES ($1, $2)', [t.id, t.version + 1]);
      const res = await call(host, '/api/v1/tracks', { token });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect((await errorOf(res)).code).toBe('TENANT_MIGRATING');
    } finally {
      await owner.query('DELETE FROM router.placement_floors WHERE tenant_id = $1', [t.id]);
      await owner.end().catch(() => {});
    }
    expect((await call(host, '/api/v1/tracks', { token })).status).toBe(200);
  });
});
