/**
 * Maintenance: cache invalidations through the outbox (a failed one neither fails the call nor
 * is forgotten), purges of deleted tenants after their grace, the Cron Trigger, and the control
 * database's own timeout.
 */
import { describe, expect, it } from 'vitest';
import { controlSql, db } from '../../src/control/db.js';
import { runMaintenance } from '../../src/control/maintenance.js';
import { commitAndInvalidate, deliver, flushOutbox } from '../../src/control/outbox.js';
import { runDuePurges, settlePurge, type PendingPurge } from '../../src/control/purge.js';
import { telemetryWrites } from '../../src/alerts/state.js';
import type { ControlServices } from '../../src/control/services.js';
import type { Placement } from '../../src/provisioning/provisioner.js';
import type { LookupKey } from '../../src/tenancy/tenant.js';
import { sqlAt, stack } from '../support/helpers.js';
import { createViaApi, within } from '../support/control.js';
import { call, controlEnv, DEAD_REDIS, servicesFor } from './in-process.js';

const control = () => sqlAt(stack.control.postgresUrl);
const outboxRows = async (id: string) => await control().query(
  `SELECT id, attempts, last_error, next_at > now() AS later FROM cache_outbox WHERE keys @> $1::jsonb`,
  [JSON.stringify([{ kind: 'id', value: id }])]) as { id: string; attempts: number; last_error: string | null; later: boolean }[];

/** Services whose cache records what it is asked to invalidate, or fails. */
function withCache(s: ControlServices, fail: boolean) {
  const seen: LookupKey[][] = [];
  return { seen, s: { ...s, cache: { invalidate: async (keys: LookupKey[]) => { if (fail) throw new Error('redis down'); seen.push(keys); } } } };
}

describe('cache invalidation outbox', () => {
  it('a change whose invalidation fails answers 200, stands, and leaves its keys for maintenance, which applies them', async () => {
    const t = await createViaApi();
    const down = controlEnv(DEAD_REDIS);
    const res = await call(down, `/admin/v1/tenants/${t.id}/suspend`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect((await res.json() as { status: string }).status).toBe('suspended');
    const [row] = await control().query('SELECT status FROM tenants WHERE id = $1', [t.id]) as { status: string }[];
    expect(row!.status).toBe('suspended');
    const pending = await outboxRows(t.id);
    expect(pending).toHaveLength(1);
    expect(pending[0]!.attempts).toBeGreaterThanOrEqual(1);
    expect(pending[0]!.last_error).toBeTruthy();

    // Redis is back: a maintenance run (ours, or the stack's after some admin write) applies and deletes it.
    const up = await servicesFor(controlEnv());
    const gone = await within(15_000, async () => { await runMaintenance(up); return (await outboxRows(t.id)).length === 0; });
    expect(gone).not.toBeNull();
  });

  it('applies the keys once the change commits and deletes the row; a failing invalidator keeps it, a later flush applies it', async () => {
    const base = await servicesFor(controlEnv());
    const id = crypto.randomUUID();
    const keys: LookupKey[] = [{ kind: 'id', value: id }, { kind: 'slug', value: `o-${id.slice(0, 8)}` }, { kind: 'id', value: id }];

    const ok = withCache(base, false);
    await commitAndInvalidate(ok.s, [], keys);
    expect(ok.seen).toEqual([[keys[0], keys[1]]]);
    expect(await outboxRows(id)).toHaveLength(0);

    const down = withCache(base, true);
    await commitAndInvalidate(down.s, [], keys);
    const [kept] = await outboxRows(id);
    // Backed off: no runner asks the failing cache again at once.
    expect(kept).toMatchObject({ attempts: 1, last_error: 'redis down', later: true });
    const up = withCache(base, false);
    await flushOutbox(up.s, 500);
    expect(up.seen.flat().some((k) => k.value === id)).toBe(false);
    expect(await deliver(up.s, kept!.id, keys)).toBe(true);
    expect(up.seen).toEqual([keys]);
    expect(await outboxRows(id)).toHaveLength(0);
  });

  it('the Cron Trigger runs maintenance: a due row is applied without any admin call', async () => {
    const id = crypto.randomUUID();
    await control().query('INSERT INTO cache_outbox (keys) VALUES ($1::jsonb)', [JSON.stringify([{ kind: 'id', value: id }])]);
    // A run under way in the control isolate (another file's admin call started it) is joined by
    // the trigger, and may have read the outbox before this row: the next trigger's run applies it.
    const applied = await within(10_000, async () => {
      expect((await fetch(`${stack.control.url}/__scheduled?cron=*+*+*+*+*`)).status).toBe(200);
      return (await outboxRows(id)).length === 0;
    });
    expect(applied).not.toBeNull();
  });
});

describe('purges after the grace', () => {
  const placement: Placement = { region: 'aws-us-east-2', strategy: 'schema', schemaName: null, roleName: null, databaseName: null, connectionSecret: null, externalRef: null };
  // Rows as a runner holds them once claimed: leased (due later), attempts counted.
  const claimed = async (id: string): Promise<PendingPurge> => {
    await control().query(`INSERT INTO pending_unfences (tenant_id, slug, placement, due_at, attempts) VALUES ($1, 'gone', $2::jsonb, now() + interval '5 minutes', 1)`,
      [id, JSON.stringify(placement)]);
    return { tenant_id: id, slug: 'gone', placement, attempts: 1 };
  };
  const pending = async (id: string) => await control().query(
    "SELECT attempts, last_error, due_at > now() + interval '30 seconds' AS backed_off FROM pending_unfences WHERE tenant_id = $1", [id]) as { attempts: number; last_error: string | null; backed_off: boolean }[];

  /** A provisioner that records calls; `left` is what leftovers() reports. */
  function stub(s: ControlServices, left: Record<string, number>, failUnfence = false) {
    const calls: string[] = [];
    const provisioner = {
      ...s.provisioner,
      leftovers: async (id: string) => { calls.push(`leftovers ${id}`); return left; },
      deprovision: async (id: string) => { calls.push(`deprovision ${id}`); },
      unfence: async (id: string) => { calls.push(`unfence ${id}`); if (failUnfence) throw new Error('cluster down'); },
    };
    return { calls, s: { ...s, provisioner } as ControlServices };
  }

  it('lifts the fence after checking leftovers, removes the row and records the purge', async () => {
    const { calls, s } = stub(await servicesFor(controlEnv()), { rows: 0, schemas: 0 });
    const id = crypto.randomUUID();
    // The alerts' telemetry of the deleted tenant (and another's, which stays).
    const other = (await createViaApi()).id;
    for (const t of [id, other]) {
      await control().query("INSERT INTO alert_baselines (tenant_id, signal, mean, variance, samples, updated_at) VALUES ($1, 'requests', 1, 0, 1, now())", [t]);
      await control().query("INSERT INTO alert_snapshots (tenant_id, region, counters) VALUES ($1, 'aws-us-east-2', '{}')", [t]);
    }
    expect(await settlePurge(s, await claimed(id))).toBe(true);
    expect(calls).toEqual([`leftovers ${id}`, `unfence ${id}`]);
    expect(await pending(id)).toEqual([]);
    const telemetry = async (t: string) => (await control().query(
      'SELECT (SELECT count(*)::int FROM alert_baselines WHERE tenant_id = $1::uuid) + (SELECT count(*)::int FROM alert_snapshots WHERE tenant_id = $1::text) AS n', [t]))[0]!.n as number;
    expect([await telemetry(id), await telemetry(other)]).toEqual([0, 2]);
    // A run that read the deleted tenant's counters before its deletion writes nothing of it back.
    const region = `aws-test-${id.slice(0, 8)}`;
    await db(() => s.sql.transaction(telemetryWrites(s.sql, {
      snapshots: [{ tenant_id: id, region, counters: {} as never }, { tenant_id: other, region, counters: {} as never }, { tenant_id: 'other', region, counters: {} as never }],
      baselines: [{ tenant_id: id, signal: 'requests', mean: 1, variance: 0, samples: 2 }, { tenant_id: other, signal: 'errors', mean: 1, variance: 0, samples: 2 }],
    }, new Date().toISOString())));
    expect([await telemetry(id), await telemetry(other)]).toEqual([0, 4]);
    expect(await control().query('SELECT 1 FROM alert_snapshots WHERE tenant_id = $1 AND region = $2', ['other', region])).toHaveLength(1);
    await control().query('DELETE FROM alert_snapshots WHERE region = $1', [region]);
    const [entry] = await control().query("SELECT actor, entry FROM audit_log WHERE tenant_id = $1 AND action = 'tenant.purged'", [id]) as { actor: string; entry: string }[];
    expect(entry!.actor).toBe('system:maintenance');
    expect(JSON.parse(entry!.entry).detail).toEqual({ slug: 'gone', leftovers: { rows: 0, schemas: 0 }, redone: false });
  });

  it('drops again, still fenced, what slipped in before lifting the fence', async () => {
    const { calls, s } = stub(await servicesFor(controlEnv()), { rows: 2, schemas: 0 });
    const id = crypto.randomUUID();
    expect(await settlePurge(s, await claimed(id))).toBe(true);
    expect(calls).toEqual([`leftovers ${id}`, `deprovision ${id}`, `unfence ${id}`]);
  });

  it('a failed unfence keeps the row with its error and backs off', async () => {
    const { s } = stub(await servicesFor(controlEnv()), {}, true);
    const id = crypto.randomUUID();
    expect(await settlePurge(s, await claimed(id))).toBe(false);
    expect(await pending(id)).toEqual([{ attempts: 1, last_error: 'cluster down', backed_off: true }]);
    await control().query('DELETE FROM pending_unfences WHERE tenant_id = $1', [id]);
  });

  it('runs only purges whose grace has passed', async () => {
    const { calls, s } = stub(await servicesFor(controlEnv()), {});
    const id = crypto.randomUUID();
    await control().query(`INSERT INTO pending_unfences (tenant_id, slug, placement, due_at) VALUES ($1, 'later', $2::jsonb, now() + interval '1 hour')`, [id, JSON.stringify(placement)]);
    await runDuePurges(s, 100);
    expect(calls.filter((c) => c.endsWith(id))).toEqual([]);
    expect(await pending(id)).toEqual([{ attempts: 0, last_error: null, backed_off: true }]);
    await control().query('DELETE FROM pending_unfences WHERE tenant_id = $1', [id]);
  });
});

describe('control database timeout', () => {
  it('aborts a call that outlives the timeout with 503, and the next call gets a fresh deadline', async () => {
    const sql = controlSql(stack.control.postgresUrl, 600);
    const t0 = Date.now();
    await expect(db(() => sql.query('SELECT pg_sleep(5)'))).rejects.toMatchObject({ status: 503, code: 'UPSTREAM_UNAVAILABLE' });
    expect(Date.now() - t0).toBeLessThan(3000);
    await new Promise((r) => setTimeout(r, 700));
    expect(await sql.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });
});
