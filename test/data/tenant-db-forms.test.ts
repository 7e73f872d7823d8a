/**
 * The handle's batch and interactive forms against the stack's databases, on a dedicated database
 * made for this file (so the endpoint's per-database counters are this file's alone): each
 * statement's rows in order, all or nothing, errors in the one error shape, one HTTP request per
 * batch and one WebSocket session per transaction, timeouts on both sides, the per-tenant bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importMasterKey, open } from '../../src/crypto/secret-box.js';
import { StatementRefused } from '../../src/data/db-errors.js';
import { interactive } from '../../src/data/interactive.js';
import { tenantSetup } from '../../src/data/setup.js';
import { TenantDataRouter, type DataRouterOptions } from '../../src/data/tenant-db.js';
import { AppError } from '../../src/errors.js';
import { LocalProvisioner } from '../../src/provisioning/local-provisioner.js';
import type { Placement } from '../../src/provisioning/provisioner.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { stack, unique } from '../support/helpers.js';

const EU = 'aws-eu-central-1';
const TRACKS = { name: '0001_tracks.sql', sql: `CREATE TABLE tracks (id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL DEFAULT (current_setting('app.tenant_id'))::uuid, title text NOT NULL, duration_ms int NOT NULL CHECK (duration_ms > 0));
  ALTER TABLE tracks ENABLE ROW LEVEL SECURITY; ALTER TABLE tracks FORCE ROW LEVEL SECURITY;
  CREATE POLICY own ON tracks USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)` };
const regionUrls = Object.fromEntries(Object.entries(stack.regions).map(([r, x]) => [r, x.routerUrl]));
const router = (o: Partial<DataRouterOptions> = {}) => new TenantDataRouter({ regionUrls, masterKey: importMasterKey(stack.routerEnv.MASTER_KEY!), ...o });

let provisioner: LocalProvisioner;
let tenant: Tenant;
let placement: Placement;
const db = (o: Partial<DataRouterOptions> = {}) => router(o).for(tenant);

interface Stats { count: number; requests: number; httpRequestsPerDatabase: Record<string, number>; wsSessionsPerDatabase: Record<string, number>; wsReadyPerDatabase: Record<string, number> }
async function stats(): Promise<{ http: number; sessions: number; ready: number }> {
  const s = await (await fetch(`${stack.neonEndpoint}/_stats`)).json() as Stats;
  const name = placement.databaseName!;
  return { http: s.httpRequestsPerDatabase[name] ?? 0, sessions: s.wsSessionsPerDatabase[name] ?? 0, ready: s.wsReadyPerDatabase[name] ?? 0 };
}
async function delta<T>(work: () => Promise<T>): Promise<{ value: T; http: number; sessions: number; ready: number }> {
  const before = await stats();
  const value = await work();
  const after = await stats();
  return { value, http: after.http - before.http, sessions: after.sessions - before.sessions, ready: after.ready - before.ready };
}
async function refusal(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}
const titles = async (title: string) => (await db().query<{ n: number }>('SELECT count(*)::int AS n FROM tracks WHERE title = $1', [title]))[0]!.n;

beforeAll(async () => {
  provisioner = new LocalProvisioner({
    regions: { [EU]: { adminUrl: stack.regions[EU]!.postgresUrl } }, routerRole: 'app_router',
    masterKey: await importMasterKey(stack.routerEnv.MASTER_KEY!),
  });
  const id = crypto.randomUUID();
  placement = await provisioner.provision({ tenantId: id, region: EU, isolation: 'database', migrations: [TRACKS] });
  tenant = { id, isolation: 'database', placement, tier: { connection_limit: 200 }, limits: { connections: 200 } } as unknown as Tenant;
});
afterAll(async () => { await provisioner.deprovision(tenant.id, placement).catch(() => {}); });

describe('batch', () => {
  it("returns each statement's rows in order, sees its own writes, and costs one HTTP request", async () => {
    const title = unique('batch-');
    const { value, http, sessions } = await delta(() => db().batch([
      { text: 'INSERT INTO tracks (title, duration_ms) VALUES ($1, 1) RETURNING title', params: [title] },
      { text: 'INSERT INTO tracks (title, duration_ms) VALUES ($1, 2) RETURNING duration_ms', params: [title] },
      { text: 'SELECT count(*)::int AS n, current_setting($2) AS tenant FROM tracks WHERE title = $1', params: [title, 'app.tenant_id'] },
    ]));
    expect(value).toEqual([[{ title }], [{ duration_ms: 2 }], [{ n: 2, tenant: tenant.id }]]);
    expect([http, sessions]).toEqual([1, 0]);
    expect(await titles(title)).toBe(2);
  });

  it('rolls back every statement when one fails, and answers in the one error shape', async () => {
    const title = unique('batch-fail-');
    const err = await refusal(db().batch([
      { text: 'INSERT INTO tracks (title, duration_ms) VALUES ($1, 1)', params: [title] },
      { text: 'INSERT INTO tracks (title, duration_ms) VALUES ($1, -1)', params: [title] },
    ]));
    expect([err.status, err.code]).toEqual([400, 'BAD_REQUEST']);
    expect(await titles(title)).toBe(0);
  });

  it('sends nothing for an empty batch, or for one with a refused statement anywhere in it', async () => {
    const title = unique('batch-refused-');
    const { value, http } = await delta(async () => [
      await db().batch([]),
      await refusal(db().batch([{ text: 'INSERT INTO tracks (title, duration_ms) VALUES ($1, 1)', params: [title] }, { text: 'COMMIT' }])),
    ]);
    expect(value[0]).toEqual([]);
    expect(value[1]).toBeInstanceOf(StatementRefused);
    expect((value[1] as StatementRefused).reason).toMatch(/^statement 2: COMMIT/);
    expect(http).toBe(0);
    expect(await titles(title)).toBe(0);
  });

  it('is read-only or serializable when asked', async () => {
    expect(await db().batch([{ text: 'SELECT current_setting($1) AS level', params: ['transaction_isolation'] }], { isolationLevel: 'Serializable' }))
      .toEqual([[{ level: 'serializable' }]]);
    const err = await refusal(db().batch([{ text: "INSERT INTO tracks (title, duration_ms) VALUES ('ro', 1)" }], { readOnly: true }));
    expect(err.status).toBe(500);
    expect(await titles('ro')).toBe(0);
  });
});

describe('transaction', () => {
  it("commits when the callback resolves, returns its value, and costs one WebSocket session", async () => {
    const title = unique('tx-');
    const { value, http, sessions, ready } = await delta(() => db().transaction(async (tx) => {
      const [row] = await tx.query<{ id: string }>('INSERT INTO tracks (title, duration_ms) VALUES ($1, 1) RETURNING id', [title]);
      const [seen] = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM tracks WHERE id = $1', [row!.id]);
      return seen!.n;
    }));
    expect(value).toBe(1);
    // One session; its round trips: the handshake's ReadyForQuery, BEGIN, the setup, 2 statements, router.verify, COMMIT.
    expect([http, sessions, ready]).toEqual([0, 1, 7]);
    expect(await titles(title)).toBe(1);
  });

  it('applies the isolation and the server-side bounds inside the transaction', async () => {
    const [row] = await router({ transactionTimeoutMs: 4_000 }).for(tenant).transaction((tx) => tx.query<Record<string, string>>(
      `SELECT current_setting('app.tenant_id') AS tenant, current_setting('search_path') AS path, current_setting('statement_timeout') AS st,
              current_setting('idle_in_transaction_session_timeout') AS idle, current_setting('transaction_isolation') AS level`), { isolationLevel: 'RepeatableRead' });
    expect(row).toMatchObject({ tenant: tenant.id, path: 'public, pg_temp', level: 'repeatable read' });
    // Both bounded by what was left of the 4 s when the setup ran.
    for (const v of [row!.st!, row!.idle!]) expect(Number(v.replace(/s$/, '')) * (v.endsWith('ms') ? 1 : 1000)).toBeLessThanOrEqual(4_000);
  });

  it("rolls back when the callback throws, and rethrows the callback's own error", async () => {
    const title = unique('tx-throw-');
    const mine = new AppError(404, 'NOT_FOUND', 'track not found');
    const err = await refusal(db().transaction(async (tx) => {
      await tx.query('INSERT INTO tracks (title, duration_ms) VALUES ($1, 1)', [title]);
      throw mine;
    }));
    expect(err).toBe(mine);
    expect(await titles(title)).toBe(0);
  });

  it('does not commit a transaction whose callback swallowed a failed statement', async () => {
    const title = unique('tx-swallow-');
    const err = await refusal(db().transaction(async (tx) => {
      await tx.query('INSERT INTO tracks (title, duration_ms) VALUES ($1, 1)', [title]);
      await tx.query('INSERT INTO tracks (title, duration_ms) VALUES ($1, -1)', [title]).catch(() => {});
      return 'done';
    }));
    expect([err.status, err.code]).toEqual([400, 'BAD_REQUEST']);
    expect(await titles(title)).toBe(0);
  });

  it('refuses statements once the transaction is over', async () => {
    let kept: { query: (t: string) => Promise<unknown> } | undefined;
    await db().transaction(async (tx) => { kept = tx; });
    const err = await refusal(kept!.query('SELECT 1'));
    expect(err).toBeInstanceOf(StatementRefused);
  });

  it('gives up at its deadline, whether the database or the callback is slow, and closes the session', async () => {
    for (const slow of [(tx: { query: (t: string) => Promise<unknown> }) => tx.query('SELECT pg_sleep(3)'), () => new Promise(() => {})]) {
      const t0 = Date.now();
      const err = await refusal(router({ transactionTimeoutMs: 500 }).for(tenant).transaction(slow));
      expect([err.status, err.code]).toEqual([503, 'UPSTREAM_UNAVAILABLE']);
      expect(Date.now() - t0).toBeLessThan(2_500);
    }
  });

  it("is bounded by the server alone too: a statement at statement_timeout, a quiet session at idle_in_transaction_session_timeout", async () => {
    const url = await open(await importMasterKey(stack.routerEnv.MASTER_KEY!), placement.connectionSecret!, tenant.id);
    const setup = (o: { timeoutMs: number; idleMs: number }) => tenantSetup({ tenantId: tenant.id, schema: 'public', role: null, check: false, deadline: new Date(Date.now() + 10_000), ...o });
    // The client would wait 10 s; the server stops each at 300 ms.
    const t0 = Date.now();
    const slow = await refusal(interactive({ url, setup: setup({ timeoutMs: 300, idleMs: 10_000 }), totalMs: 10_000 }, (tx) => tx.query('SELECT pg_sleep(3)')));
    expect([slow.status, slow.code]).toEqual([503, 'UPSTREAM_UNAVAILABLE']);
    const quiet = await refusal(interactive({ url, setup: setup({ timeoutMs: 10_000, idleMs: 300 }), totalMs: 10_000 }, async (tx) => {
      await new Promise((r) => setTimeout(r, 1_000));
      return tx.query('SELECT 1');
    }));
    expect([quiet.status, quiet.code]).toEqual([503, 'UPSTREAM_UNAVAILABLE']);
    expect(Date.now() - t0).toBeLessThan(4_000);
  });

  it('holds at most maxTransactions open per tenant (or its own lower limit), refusing more with 429', async () => {
    for (const [opts, allowed] of [[{ maxTransactions: 2 }, 2], [{ transactionLimit: () => 1 }, 1], [{ transactionLimit: () => Number.NaN, maxTransactions: 1 }, 1]] as const) {
      const r = router(opts);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      const open = Array.from({ length: allowed }, () => r.for(tenant).transaction(async (tx) => { await tx.query('SELECT 1'); await gate; }));
      await expect.poll(() => r.openTransactions(tenant.id)).toBe(allowed);
      const err = await refusal(r.for(tenant).transaction(async () => 'never'));
      expect([err.status, err.code, err.headers['Retry-After']]).toEqual([429, 'CONCURRENCY_LIMIT', '1']);
      release();
      await Promise.all(open);
      expect(r.openTransactions(tenant.id)).toBe(0);
      expect(await r.for(tenant).transaction(async () => 'again')).toBe('again');
    }
  });
});
