/**
 * Unauthenticated lookups cannot buy control-database queries: a flood of random hosts and of
 * tokens with random issuers on the API host costs at most the isolate's lookup budget (a burst,
 * then a steady rate), the rest is refused 503 without touching Postgres, and tenants this router
 * already knows keep being served without a query.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LOOKUP_BUDGET } from '../../src/tenancy/directory.js';
import { cacheKey } from '../../src/tenancy/tenant.js';
import { createViaApi, tokenFor } from '../support/control.js';
import { call, errorOf, queriesWithParam, unique } from '../support/helpers.js';
import { controlQueriesContaining, redis, sleep, until } from './race-support.js';

const b64 = (v: unknown) => btoa(JSON.stringify(v)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
/** A token naming `iss` whose signature is garbage: only its issuer is ever read before the lookup. */
const forgedToken = (iss: string) => `${b64({ alg: 'RS256', kid: 'k1' })}.${b64({ iss, sub: 'x', exp: Math.floor(Date.now() / 1000) + 600 })}.Z2FyYmFnZQ`;

/** Sends `requests` 25 at a time; returns the responses' status and error code. */
async function send(requests: (() => Promise<Response>)[], batch = 25): Promise<{ status: number; code: string; retryAfter: string | null }[]> {
  const out = [];
  for (let i = 0; i < requests.length; i += batch) {
    out.push(...await Promise.all(requests.slice(i, i + batch).map(async (r) => {
      const res = await r();
      return { status: res.status, code: (await errorOf(res)).code, retryAfter: res.headers.get('retry-after') };
    })));
  }
  return out;
}

/** A random-host request: even `i` a subdomain (slug lookup), odd `i` a custom domain. */
const hostOf = (run: string, i: number) => (i % 2 === 0 ? `${run}h${i}.localhost` : `${run}h${i}.example.net`);

describe('lookup budget', () => {
  it('200 random hosts and 200 random issuers cost at most the budget in control-DB queries; a known tenant stays served', async () => {
    const known = await createViaApi();
    const token = await tokenFor(known.id);
    const knownHost = `${known.slug}.localhost`;
    expect((await call(knownHost, '/api/v1/me', { token })).status).toBe(200);
    // Its write-back has reached L2 (an L1 entry outlived by the flood is refilled from there).
    expect(await until(Date.now() + 3000, async () => (await redis(['GET', cacheKey({ kind: 'slug', value: known.slug })])) !== null)).toBe(true);
    const knownQueries = await queriesWithParam(known.slug, 'control');

    const run = unique('fl');
    const started = Date.now();
    const results = await send([
      ...Array.from({ length: 200 }, (_, i) => () => call(hostOf(run, i), '/api/v1/me')),
      ...Array.from({ length: 200 }, (_, i) => () => call('api.localhost', '/api/v1/me', { token: forgedToken(`https://${run}i${i}.idp.example/`) })),
    ]);
    const seconds = (Date.now() - started) / 1000;

    const queries = await controlQueriesContaining(run);
    const bound = DEFAULT_LOOKUP_BUDGET.burst + Math.ceil(DEFAULT_LOOKUP_BUDGET.perSecond * seconds);
    console.log(JSON.stringify({ flood: 400, seconds, controlQueries: queries, bound }));
    expect(queries).toBeLessThanOrEqual(bound);
    const refused = results.filter((r) => r.status === 503);
    expect(refused.length).toBeGreaterThanOrEqual(400 - bound);
    expect(refused.every((r) => r.code === 'UPSTREAM_UNAVAILABLE' && r.retryAfter === '1')).toBe(true);
    // The rest were looked up and are unknown: 404 on hosts, the uniform token refusal on the API host.
    expect(results.slice(0, 200).every((r) => r.status === 503 || r.code === 'TENANT_NOT_FOUND')).toBe(true);
    expect(results.slice(200).every((r) => r.status === 503 || r.code === 'INVALID_TOKEN')).toBe(true);

    const after = await call(knownHost, '/api/v1/me', { token });
    expect(after.status).toBe(200);
    expect(await queriesWithParam(known.slug, 'control')).toBe(knownQueries);
  }, 120_000);

  it('a refused lookup is not cached negatively: the tenant created for that name is served once the budget refills', async () => {
    const run = unique('fr');
    const results = await send(Array.from({ length: 200 }, (_, i) => () => call(`${run}h${i * 2}.localhost`, '/api/v1/me')), 200);
    const i = results.findIndex((r) => r.status === 503);
    expect(i).toBeGreaterThanOrEqual(0);
    const t = await createViaApi({ slug: `${run}h${i * 2}` });
    await sleep((DEFAULT_LOOKUP_BUDGET.burst / DEFAULT_LOOKUP_BUDGET.perSecond) * 1000 + 500);
    const res = await call(`${t.slug}.localhost`, '/api/v1/me', { token: await tokenFor(t.id) });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-tenant')).toBe(t.slug);
  }, 120_000);
});
