/**
 * POST /tenants does not hold the connection for a slow provisioning: past PROVISION_WAIT_MS it
 * answers 202 with Location, the work goes on in the background (waitUntil) and activates the
 * tenant; a provisioning whose isolate died (its claim gone stale) is finished by maintenance.
 * The slowness is real: the fault region's PostgreSQL is paused (SIGSTOP) and resumed.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { afterAll, describe, expect, it } from 'vitest';
import { runScheduled } from '../../src/control/maintenance.js';
import { buildControl } from '../../workers/control/index.js';
import { sqlAt, stack, unique } from '../support/helpers.js';
import { within } from '../support/control.js';
import { call, controlEnv, HOST, servicesFor } from './in-process.js';

const WEST = 'aws-us-west-2';
const region = async (action: 'pause' | 'resume') => {
  expect((await fetch(`${stack.faults}/regions/${WEST}/${action}`, { method: 'POST' })).status).toBe(200);
};
const control = () => sqlAt(stack.control.postgresUrl);
const schemaExists = async (schema: string) =>
  ((await sqlAt(stack.regions[WEST]!.postgresUrl).query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema])) as unknown[]).length === 1;
const WAIT_MS = 1500;
const app = buildControl();

afterAll(async () => { await fetch(`${stack.faults}/regions/${WEST}/resume`, { method: 'POST' }); });

describe('provisioning beyond the wait bound', () => {
  it('answers 202 with Location within the bound while the region hangs; the tenant turns active in the background', async () => {
    const env = controlEnv({ PROVISION_WAIT_MS: String(WAIT_MS) });
    await servicesFor(env);
    const slug = unique('slow-');
    await region('pause');
    const ctx = createExecutionContext();
    const t0 = Date.now();
    let res: Response;
    try {
      res = await app.request(`http://${HOST}/admin/v1/tenants`, {
        method: 'POST', headers: { host: HOST, authorization: `Bearer ${stack.control.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ slug, tier: 'PREMIUM', region: WEST }),
      }, env, ctx);
    } finally {
      const elapsed = Date.now() - t0;
      await region('resume');
      expect(elapsed).toBeGreaterThanOrEqual(WAIT_MS - 50);
      expect(elapsed).toBeLessThan(WAIT_MS + 3000);
    }
    expect(res.status).toBe(202);
    const view = await res.json() as { id: string; status: string };
    expect(view.status).toBe('provisioning');
    expect(res.headers.get('location')).toBe(`/admin/v1/tenants/${view.id}`);
    await waitOnExecutionContext(ctx);
    const after = await call(env, res.headers.get('location')!);
    expect(after.status).toBe(200);
    expect(await after.json()).toMatchObject({ id: view.id, status: 'active', placement: { region: WEST, strategy: 'schema' } });
    expect(await schemaExists(`t_${view.id.replace(/-/g, '')}`)).toBe(true);
  });

  it('answers 201 when provisioning ends within the bound', async () => {
    const res = await call(controlEnv({ PROVISION_WAIT_MS: '20000' }), '/admin/v1/tenants', { method: 'POST', json: { slug: unique('fast-'), tier: 'PREMIUM', region: WEST } });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBeNull();
    expect((await res.json() as { status: string }).status).toBe('active');
  });

  it('the scheduled maintenance finishes a provisioning whose caller died (stale claim), and leaves a claim an operator may still be retrying alone', async () => {
    const [dead, fresh] = [crypto.randomUUID(), crypto.randomUUID()];
    // As POST /tenants leaves them when its isolate is gone before the background work ended.
    await control().query(
      `INSERT INTO tenants (id, slug, name, tier, region, isolation, status, provisioning_since)
       VALUES ($1, $2, 'dead', 'PREMIUM', $5, 'schema', 'provisioning', now() - interval '16 minutes'),
              ($3, $4, 'fresh', 'PREMIUM', $5, 'schema', 'provisioning', now() - interval '11 minutes')`,
      [dead, unique('dead-'), fresh, unique('fresh-'), WEST]);
    const report = await runScheduled(await servicesFor(controlEnv()));
    expect(report.provisioning).toMatchObject({ resumed: expect.any(Number), failed: 0 });
    // Another isolate's scheduled run may be the one that resumed it.
    const statusOf = async (id: string) => ((await control().query('SELECT status FROM tenants WHERE id = $1', [id])) as { status: string }[])[0]?.status;
    expect(await within(15_000, async () => (await statusOf(dead)) === 'active')).not.toBeNull();
    const rows = await control().query('SELECT id, status FROM tenants WHERE id = ANY($1::uuid[]) ORDER BY name', [[dead, fresh]]) as { id: string; status: string }[];
    expect(rows).toEqual([{ id: dead, status: 'active' }, { id: fresh, status: 'provisioning' }]);
    expect(await schemaExists(`t_${dead.replace(/-/g, '')}`)).toBe(true);
    await control().query('UPDATE tenants SET provisioning_since = NULL WHERE id = $1', [fresh]);
    await control().query('DELETE FROM tenants WHERE id = $1', [fresh]);
  });
});
