/**
 * Isolation of the handle's batch and interactive forms, per strategy, as isolation.test.ts proves
 * it for single queries: tenant A's batch or transaction cannot read or write tenant B's rows; a
 * statement that would end the transaction or change its settings is never sent (and, in the
 * interactive form, a statement that ended it anyway closes the session before anything else
 * runs); RESET ROLE leads nowhere; nothing of A's settings is left on a pooled connection; the
 * WebSocket session of a transaction is gone when the call returns, however it ended; and, with
 * the guard switched off, router.verify alone refuses a statement that switched the tenant, role or
 * search path (ISOLATION_CHANGED), keeping nothing.
 */
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { importMasterKey, open } from '../../src/crypto/secret-box.js';
import { StatementRefused } from '../../src/data/db-errors.js';
import { interactive } from '../../src/data/interactive.js';
import { tenantSetup } from '../../src/data/setup.js';
import { TenantDataRouter, type Statement, type TenantDb } from '../../src/data/tenant-db.js';
import { AppError, onError } from '../../src/errors.js';
import { ControlStore } from '../../src/tenancy/control-store.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { call, platformToken, postJson, queriesWithParam, sqlAt, stack, tenant as seeded, unique } from '../support/helpers.js';

const PAIRS = [
  { strategy: 'row', a: 'acme', b: 'umbrella', hostA: 'acme.localhost', hostB: 'umbrella.localhost' },
  { strategy: 'schema', a: 'globex', b: 'soylent', hostA: 'globex.localhost', hostB: 'soylent.localhost' },
  { strategy: 'database', a: 'initech', b: 'wayne', hostA: 'initech.test', hostB: 'wayne.localhost' },
] as const;

const regionUrls = Object.fromEntries(Object.entries(stack.regions).map(([r, x]) => [r, x.routerUrl]));
const data = new TenantDataRouter({ regionUrls, masterKey: importMasterKey(stack.routerEnv.MASTER_KEY!) });
const store = new ControlStore(stack.control.routerUrl);
const record = async (slug: string) => (await store.find({ kind: 'slug', value: slug }))!;

/** Runs the statements through `form`: one batch, or one transaction with a tx.query each. */
const FORMS = {
  batch: (db: TenantDb, s: Statement[]) => db.batch(s),
  transaction: (db: TenantDb, s: Statement[]) => db.transaction(async (tx) => {
    const out: unknown[][] = [];
    for (const x of s) out.push(await tx.query(x.text, x.params));
    return out;
  }),
} as const;

async function failure(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

async function createTrack(host: string, slug: string, title: string): Promise<string> {
  const res = await postJson(host, '/api/v1/tracks', { title, artist: 'Isolation', durationMs: 1234 }, await platformToken(slug));
  expect(res.status).toBe(201);
  return ((await res.json()) as { track: { id: string } }).track.id;
}

/** The connection URL the router uses for `t` (its own database's, opened, for `database`). */
async function urlOf(t: Tenant): Promise<string> {
  if (t.placement!.strategy !== 'database') return stack.regions[t.placement!.region]!.routerUrl;
  return open(await importMasterKey(stack.routerEnv.MASTER_KEY!), t.placement!.connectionSecret!, t.id);
}

const ATTACKS = [
  'COMMIT', 'END', 'ROLLBACK', 'ABORT', 'BEGIN', '/* hidden */ commit', "PREPARE TRANSACTION 'escape'",
  'RESET ROLE', 'SET ROLE NONE', "SET LOCAL app.tenant_id = '00000000-0000-4000-8000-000000000000'",
  "SELECT set_config('app.tenant_id', '00000000-0000-4000-8000-000000000000', true)", 'DISCARD ALL',
  "SELECT 1; SELECT set_config('role', 'none', false)", "DO $$BEGIN PERFORM set_config('role', 'none', false); END$$",
  'CREATE TEMP TABLE tracks (id uuid)', "ALTER ROLE CURRENT_USER SET app.tenant_id = '00000000-0000-4000-8000-000000000000'",
];

describe.each(PAIRS)('$strategy: batch and transaction isolation', ({ strategy, a, b, hostA, hostB }) => {
  it.each(Object.keys(FORMS) as (keyof typeof FORMS)[])("%s: tenant A cannot read, change or delete tenant B's rows", async (form) => {
    const titleB = unique('secret-of-b-');
    const idB = await createTrack(hostB, b, titleB);
    const [ta, tb] = [await record(a), await record(b)];
    expect([ta.isolation, tb.isolation]).toEqual([strategy, strategy]);
    const results = await FORMS[form](data.for(ta), [
      { text: 'SELECT id FROM tracks WHERE id = $1', params: [idB] },
      { text: 'SELECT count(*)::int AS n FROM tracks WHERE title = $1', params: [titleB] },
      { text: "UPDATE tracks SET title = 'taken' WHERE id = $1 RETURNING id", params: [idB] },
      { text: 'DELETE FROM tracks WHERE id = $1 RETURNING id', params: [idB] },
    ]);
    expect(results).toEqual([[], [{ n: 0 }], [], []]);
    // Reaching past the first wall fails on the second: RLS for rows, rights for schemas.
    const reach: Statement = strategy === 'row'
      ? { text: "INSERT INTO tracks (tenant_id, title, artist, duration_ms) VALUES ($1, 'x', 'y', 1)", params: [tb.id] }
      : strategy === 'schema' ? { text: `SELECT count(*) FROM ${tb.placement!.schemaName}.tracks` }
        : { text: `SELECT count(*) FROM ${tb.placement!.databaseName}.public.tracks` };
    await failure(FORMS[form](data.for(ta), [reach]));

    const own = await call(hostB, `/api/v1/tracks/${idB}`, { token: await platformToken(b) });
    expect(((await own.json()) as { track: { title: string } }).track.title).toBe(titleB);
  });

  it.each(Object.keys(FORMS) as (keyof typeof FORMS)[])('%s: statements that end the transaction or change its settings are refused, and nothing of the call is kept', async (form) => {
    const ta = await record(a);
    for (const attack of ATTACKS) {
      const title = unique('escape-');
      const err = await failure(FORMS[form](data.for(ta), [
        { text: "INSERT INTO tracks (title, artist, duration_ms) VALUES ($1, 'x', 1)", params: [title] },
        { text: attack },
        { text: 'SELECT count(*) FROM tracks' },
      ]));
      expect(err, attack).toBeInstanceOf(StatementRefused);
      expect(err.status).toBe(500);
      // A batch is checked whole before it leaves (the endpoint saw nothing); a transaction sent the insert and rolled it back.
      if (form === 'batch') expect(await queriesWithParam(title), attack).toBe(0);
      expect(await data.for(ta).query('SELECT count(*)::int AS n FROM tracks WHERE title = $1', [title]), attack).toEqual([{ n: 0 }]);
    }
  });

  it('transaction, the server-side check alone: a statement that ended the transaction closes the session before anything else runs', async () => {
    const ta = await record(a);
    const p = ta.placement!;
    const url = await urlOf(ta);
    for (const end of ['COMMIT', 'ROLLBACK']) {
      const [kept, after] = [unique('before-end-'), unique('after-end-')];
      const setup = tenantSetup({ tenantId: ta.id, schema: p.schemaName!, role: p.strategy === 'schema' ? p.roleName : null, check: false, deadline: new Date(Date.now() + 5_000), timeoutMs: 5_000 });
      let reached = false;
      const err = await failure(interactive({ url, setup, totalMs: 5_000, guard: () => null }, async (tx) => {
        await tx.query("INSERT INTO tracks (title, artist, duration_ms) VALUES ($1, 'x', 1)", [kept]);
        await tx.query(end);
        reached = true;
        await tx.query("INSERT INTO tracks (title, artist, duration_ms) VALUES ($1, 'x', 1)", [after]);
      }));
      expect(err).toBeInstanceOf(StatementRefused);
      expect((err as StatementRefused).reason).toBe('a statement ended the transaction');
      expect(reached).toBe(false);
      const count = async (title: string) => (await data.for(ta).query<{ n: number }>('SELECT count(*)::int AS n FROM tracks WHERE title = $1', [title]))[0]!.n;
      // The tenant's own COMMIT kept its own row; nothing ran after it.
      expect([await count(kept), await count(after)]).toEqual([end === 'COMMIT' ? 1 : 0, 0]);
    }
  });

  it("transaction, the server-side walls alone: after RESET ROLE, B's rows are still out of reach", async () => {
    const [ta, tb] = [await record(a), await record(b)];
    const p = ta.placement!;
    const titleB = unique('reset-b-');
    await createTrack(hostB, b, titleB);
    const setup = tenantSetup({ tenantId: ta.id, schema: p.schemaName!, role: p.strategy === 'schema' ? p.roleName : null, check: false, deadline: new Date(Date.now() + 5_000), timeoutMs: 5_000 });
    const target = strategy === 'schema' ? `${tb.placement!.schemaName}.tracks` : strategy === 'row' ? 'shared.tracks' : 'tracks';
    const out = await interactive({ url: await urlOf(ta), setup, totalMs: 5_000, guard: () => null }, async (tx) => {
      await tx.query('RESET ROLE');
      return tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${target} WHERE title = $1`, [titleB]);
    }).catch((e: unknown) => e);
    // Schema: permission denied (42501), the router's own role holds no tenant's rights. Row and database: RLS still says A.
    if (strategy === 'schema') expect(out).toMatchObject({ status: 500, code: 'INTERNAL' });
    else expect(out).toEqual([{ n: 0 }]);
  });

  it('batch: nothing of A\'s settings is left on the pooled connection for its next user', async () => {
    const ta = await record(a);
    const url = await urlOf(ta);
    const probe = async () => (await sqlAt(url).query(`SELECT pg_backend_pid() AS pid, current_setting('app.tenant_id', true) AS tenant, current_user AS who,
      current_setting('search_path') AS path, current_setting('statement_timeout') AS st, current_setting('application_name') AS app`))[0] as Record<string, unknown>;
    for (let i = 0; ; i++) {
      const before = await probe();
      const [[mine]] = await data.for(ta).batch([{ text: "SELECT pg_backend_pid() AS pid, current_setting('app.tenant_id') AS tenant" }]) as [[{ pid: number; tenant: string }]];
      const after = await probe();
      if (mine.pid !== before.pid || after.pid !== before.pid) { expect(i).toBeLessThan(20); continue; }
      expect(mine.tenant).toBe(ta.id);
      expect(after).toEqual(before);
      expect(after.tenant ?? '').toBe('');
      break;
    }
  });

  it('transaction: its WebSocket session is gone when the call returns, committed, thrown or timed out', async () => {
    const ta = await record(a);
    const admin = sqlAt(stack.regions[ta.region]!.adminUrl);
    const pids: number[] = [];
    const pidOf = async (tx: { query: <T>(t: string) => Promise<T[]> }) => { pids.push((await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))[0]!.pid); };
    await data.for(ta).transaction(pidOf);
    await failure(data.for(ta).transaction(async (tx) => { await pidOf(tx); throw new AppError(404, 'NOT_FOUND', 'x'); }));
    const quick = new TenantDataRouter({ regionUrls, masterKey: importMasterKey(stack.routerEnv.MASTER_KEY!), transactionTimeoutMs: 400 });
    await failure(quick.for(ta).transaction(async (tx) => { await pidOf(tx); await new Promise(() => {}); }));
    expect(pids).toHaveLength(3);
    await expect.poll(async () => (await admin.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])', [pids]))[0], { timeout: 5_000 }).toEqual({ n: 0 });
  });

  it("through the router: A's edit of B's track is 404 and B's track is unchanged; A's import is not in B's list", async () => {
    const titleB = unique('patch-b-');
    const idB = await createTrack(hostB, b, titleB);
    const tokenA = await platformToken(a);
    const patch = await call(hostA, `/api/v1/tracks/${idB}`, { method: 'PATCH', token: tokenA, body: JSON.stringify({ title: 'taken' }), headers: { 'content-type': 'application/json' } });
    expect(patch.status).toBe(404);
    const imported = unique('import-a-');
    expect((await postJson(hostA, '/api/v1/tracks/import', { tracks: [{ title: imported, artist: 'A', durationMs: 1 }] }, tokenA)).status).toBe(201);
    const tokenB = await platformToken(b);
    const own = await call(hostB, `/api/v1/tracks/${idB}`, { token: tokenB });
    expect(((await own.json()) as { track: { title: string } }).track.title).toBe(titleB);
    const list = (await (await call(hostB, '/api/v1/tracks?limit=100', { token: tokenB })).json()) as { tracks: { title: string }[] };
    expect(list.tracks.some((t) => t.title === imported)).toBe(false);
    expect(seeded(a).isolation).toBe(strategy);
  });
});

/**
 * The server-side isolation check alone (the statement guard switched off): a statement that
 * switches the tenant, the role or the search path mid-transaction is caught by router.verify
 * before COMMIT (in a batch, before the next statement runs): the call fails with
 * ISOLATION_CHANGED, nothing of it is kept, and B's rows were neither returned nor changed.
 */
const unguarded = new TenantDataRouter({ regionUrls, masterKey: importMasterKey(stack.routerEnv.MASTER_KEY!), guard: () => null });

/** Statements that change one isolation setting of A's transaction towards B (or away from A). */
function switches(strategy: string, tb: Tenant): Statement[] {
  const out: Statement[] = [
    { text: "SELECT set_config('app.tenant_id', $1, true)", params: [tb.id] },
    { text: "SET LOCAL app.tenant_id = '00000000-0000-4000-8000-000000000000'" },
    { text: "SELECT set_config('search_path', $1, false)", params: [strategy === 'schema' ? tb.placement!.schemaName : 'pg_catalog'] },
  ];
  if (strategy === 'schema') out.push({ text: `SET ROLE ${tb.placement!.roleName}` }, { text: 'RESET ROLE' }, { text: "SELECT set_config('role', $1, true)", params: [tb.placement!.roleName] });
  return out;
}

describe.each(PAIRS)('$strategy: the server-side isolation check', ({ strategy, a, b, hostB }) => {
  it.each(Object.keys(FORMS) as (keyof typeof FORMS)[])("%s: a statement that switches the tenant, role or search path is refused, B's rows neither read nor written, nothing kept", async (form) => {
    const [ta, tb] = [await record(a), await record(b)];
    const titleB = unique('verify-b-');
    const idB = await createTrack(hostB, b, titleB);
    // Fully qualified: the search path may be what the attack changed.
    const tracksB = strategy === 'schema' ? `${tb.placement!.schemaName}.tracks` : strategy === 'row' ? 'shared.tracks' : 'public.tracks';
    const own = strategy === 'schema' ? `${ta.placement!.schemaName}.tracks` : strategy === 'row' ? 'shared.tracks' : 'public.tracks';
    for (const attack of switches(strategy, tb)) {
      const mine = unique('verify-a-');
      const err = await failure(FORMS[form](unguarded.for(ta), [
        { text: `INSERT INTO ${own} (title, artist, duration_ms) VALUES ($1, 'x', 1)`, params: [mine] },
        attack,
        { text: `SELECT id FROM ${tracksB} WHERE id = $1`, params: [idB] },
        { text: `UPDATE ${tracksB} SET title = 'taken' WHERE id = $1 RETURNING id`, params: [idB] },
      ]));
      // In a transaction a schema tenant's later statement may fail first, on rights (its role or
      // path no longer reaches B's schema); either way nothing is kept. A batch checks after each statement.
      const codes = form === 'transaction' && strategy === 'schema' ? ['ISOLATION_CHANGED', 'INTERNAL'] : ['ISOLATION_CHANGED'];
      expect(codes, attack.text).toContain(err.code);
      expect(err.status).toBe(500);
      expect(await data.for(ta).query('SELECT count(*)::int AS n FROM tracks WHERE title = $1', [mine]), attack.text).toEqual([{ n: 0 }]);
      const res = await call(hostB, `/api/v1/tracks/${idB}`, { token: await platformToken(b) });
      expect(((await res.json()) as { track: { title: string } }).track.title, attack.text).toBe(titleB);
    }
  });

  it('the same transaction with its settings untouched commits (the check passes for every strategy)', async () => {
    const ta = await record(a);
    const title = unique('verify-ok-');
    for (const form of Object.keys(FORMS) as (keyof typeof FORMS)[]) {
      await FORMS[form](unguarded.for(ta), [
        { text: "INSERT INTO tracks (title, artist, duration_ms) VALUES ($1, 'x', 1)", params: [`${title}${form}`] },
        { text: "SELECT set_config('statement_timeout', '4000', true)" },
      ]);
      expect(await data.for(ta).query('SELECT count(*)::int AS n FROM tracks WHERE title = $1', [`${title}${form}`])).toEqual([{ n: 1 }]);
    }
  });

  it('through an app: the refusal is a JSON error with a code, not a stack', async () => {
    const ta = await record(a);
    const app = new Hono().onError(onError).get('/switch', async (c) => {
      const rows = await unguarded.for(ta).batch([{ text: "SELECT set_config('app.tenant_id', $1, true)", params: [(await record(b)).id] }, { text: 'SELECT count(*)::int AS n FROM tracks' }]);
      return c.json({ rows });
    });
    const res = await app.request('/switch');
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect(await res.json()).toEqual({ error: { code: 'ISOLATION_CHANGED', message: 'a statement changed the tenant isolation settings; nothing was kept', requestId: null } });
  });
});
