/** createTenantRouter's per-route options: matched by the longest prefix, and refused when made, not on traffic. */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { Hono, type Context } from 'hono';
import { describe, expect, it } from 'vitest';
import { createTenantRouter } from 'edge-tenant-router';
import { failModeFunction, weightFunction } from '../../src/router/route-table.js';
import { platformToken } from '../support/helpers.js';

/** Just what the tables read from a request. */
const req = (method: string, path: string) => ({ req: { method, path } }) as unknown as Context;

describe('weights', () => {
  it('default: GET and HEAD cost 1, every other method 2', () => {
    const w = weightFunction(undefined);
    expect(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => w(req(m, '/x')))).toEqual([1, 1, 2, 2, 2, 2]);
  });

  it('a table: the longest prefix at a segment boundary wins, unnamed methods and paths keep the default', () => {
    const w = weightFunction({ '/api/v1/reports': 10, '/api/v1/reports/daily': { GET: 3, '*': 4 }, '/api/v1/notes': { POST: 5 } });
    expect(w(req('GET', '/api/v1/reports'))).toBe(10);
    expect(w(req('DELETE', '/api/v1/reports/7'))).toBe(10);
    expect(w(req('GET', '/api/v1/reports/daily/2026-01-01'))).toBe(3);
    expect(w(req('POST', '/api/v1/reports/daily'))).toBe(4);
    expect(w(req('POST', '/api/v1/notes'))).toBe(5);
    expect(w(req('GET', '/api/v1/notes'))).toBe(1);
    expect(w(req('DELETE', '/api/v1/notes/1'))).toBe(2);
    // Not below the prefix: a sibling whose name starts the same.
    expect(w(req('GET', '/api/v1/reportsx'))).toBe(1);
    expect(w(req('POST', '/elsewhere'))).toBe(2);
  });

  it('a function is used as given', () => {
    expect(weightFunction(() => 7)(req('GET', '/'))).toBe(7);
  });

  it.each([
    [{ 'api/v1': 1 }, /not a route prefix/],
    [{ '/api/v1/': 1 }, /not a route prefix/],
    [{ '/api/:id': 1 }, /not a route prefix/],
    [{ '/a': 0 }, /integer from 1 to 1000/],
    [{ '/a': 1.5 }, /integer from 1 to 1000/],
    [{ '/a': { get: 2 } }, /unknown method get/],
    [{ '/a': { POST: -1 } }, /integer from 1 to 1000/],
  ])('refuses the table %j when made', (table, message) => {
    expect(() => weightFunction(table as never)).toThrow(message);
  });
});

describe('fail modes', () => {
  it('a table names routes by prefix; the rest is left to the tier (undefined)', () => {
    const f = failModeFunction({ '/api/v1/reports': 'closed', '/api/v1/reports/public': 'open' })!;
    expect(f(req('GET', '/api/v1/reports/1'))).toBe('closed');
    expect(f(req('GET', '/api/v1/reports/public/1'))).toBe('open');
    expect(f(req('GET', '/api/v1/tracks'))).toBeUndefined();
    expect(failModeFunction(undefined)).toBeUndefined();
  });

  it('refuses a mode that is neither open nor closed', () => {
    expect(() => failModeFunction({ '/a': 'half' as never })).toThrow(/not open or closed/);
  });
});

describe('createTenantRouter options', () => {
  it('refuses routes that shadow the router\'s own paths, that are not Hono apps, or that are missing', () => {
    expect(() => createTenantRouter({ routes: { '/healthz': new Hono() } })).toThrow(/shadow/);
    expect(() => createTenantRouter({ routes: { '/readyz/x': new Hono() } })).toThrow(/shadow/);
    expect(() => createTenantRouter({ routes: { '/x': {} as Hono } })).toThrow(/not a Hono app/);
    expect(() => createTenantRouter({ routes: {} })).toThrow(/routes must be/);
    expect(() => createTenantRouter({ routes: { '/x': new Hono() }, weights: { '/x': 0 } })).toThrow(/weight/);
  });

  it('routes given as a function sit behind the whole pipeline; /healthz answers before any tenant', async () => {
    const app = createTenantRouter({ routes: (r) => { r.get('/hello', (c) => c.text(`hi ${c.var.tenant.slug}`)); }, accessLog: null });
    const send = async (path: string, headers: Record<string, string> = {}) => {
      const ctx = createExecutionContext();
      const res = await app.fetch(new Request(`http://acme.localhost${path}`, { headers: { host: 'acme.localhost', ...headers } }), env, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    expect(await (await send('/healthz')).json()).toEqual({ ok: true });
    expect((await send('/hello')).status).toBe(401);
    const ok = await send('/hello', { authorization: `Bearer ${await platformToken('acme')}` });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('hi acme');
    expect(ok.headers.get('ratelimit-limit')).not.toBeNull();
  });
});
