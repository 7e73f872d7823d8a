/**
 * The region's database breaker counts only the target's unavailability. One tenant whose own
 * statements keep failing on a lock (55P03, its `NOWAIT`) is refused 503 each time, but the
 * circuit that every tenant of the shared region goes through stays closed: its neighbour is served.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTenantRouter, type Env, type TenantRouterEnv } from 'edge-tenant-router';
import { withClient } from '../../src/provisioning/pg-client.js';
import { createViaApi, tokenFor, type CreatedTenant } from '../support/control.js';
import { errorOf, stack } from '../support/helpers.js';

const REGION = 'aws-us-east-2';

const routes = new Hono<TenantRouterEnv>()
  .post('/', async (c) => {
    const [row] = await c.var.db.query<{ id: string }>("INSERT INTO tracks (title, artist, duration_ms) VALUES ('held', 'by a test', 1) RETURNING id");
    return c.json(row, 201);
  })
  .get('/:id', async (c) => {
    const rows = await c.var.db.query('SELECT id FROM tracks WHERE id = $1 FOR UPDATE NOWAIT', [c.req.param('id')]);
    return c.json({ rows: rows.length });
  });
const app = createTenantRouter({ routes: { '/api/v1/locks': routes }, accessLog: null, metrics: false });

async function send(t: CreatedTenant, path: string, init: RequestInit = {}): Promise<Response> {
  const host = `${t.slug}.localhost`;
  const headers = new Headers(init.headers);
  headers.set('host', host);
  headers.set('authorization', `Bearer ${await tokenFor(t.id)}`);
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://${host}${path}`, { ...init, headers }), env as unknown as Env, ctx);
  // The breaker's reports go out in the background: wait for them.
  await waitOnExecutionContext(ctx);
  return res;
}

let a: CreatedTenant;
let b: CreatedTenant;
beforeAll(async () => {
  // Two row tenants (STANDARD): one breaker for both, `db:<region>`, opened by 10 failures in 30 s.
  [a, b] = await Promise.all([createViaApi({ region: REGION }), createViaApi({ region: REGION })]);
});

describe('the shared database breaker and a tenant\'s own failures', () => {
  it('a tenant whose statements fail on a lock gets 503s, and its neighbour in the region is still served', async () => {
    const made = await send(a, '/api/v1/locks', { method: 'POST' });
    expect(made.status, await made.clone().text()).toBe(201);
    const { id } = await made.json() as { id: string };
    expect((await (await send(a, `/api/v1/locks/${id}`)).json())).toEqual({ rows: 1 });

    await withClient(stack.regions[REGION]!.postgresUrl, async (owner) => {
      await owner.query('BEGIN');
      await owner.query('SELECT id FROM shared.tracks WHERE id = $1 FOR UPDATE', [id]);
      try {
        // Past the tier's breaker threshold (10 in 30 s), each one a failure of A's own making.
        for (let i = 0; i < 12; i++) {
          const res = await send(a, `/api/v1/locks/${id}`);
          expect(res.status).toBe(503);
          expect((await errorOf(res)).code).toBe('UPSTREAM_UNAVAILABLE');
          expect(res.headers.get('retry-after')).toBe('5');
        }
      } finally {
        await owner.query('ROLLBACK');
      }
    });
    // Past the isolate's one-second trust in a closed circuit: the breaker object itself is asked.
    await new Promise((r) => setTimeout(r, 1_200));
    const neighbour = await send(b, '/api/v1/locks', { method: 'POST' });
    expect(neighbour.status, await neighbour.clone().text()).toBe(201);
    const again = await send(a, `/api/v1/locks/${id}`);
    expect(again.status).toBe(200);
  });
});
