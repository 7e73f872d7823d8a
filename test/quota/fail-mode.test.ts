/** When the TenantGuard cannot be reached, the tier's fail mode decides, visibly. */
import { Hono } from 'hono';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AppEnv } from '../../src/app-env.js';
import { onError } from '../../src/errors.js';
import { quota } from '../../src/middleware/quota.js';
import type { RateLimiter } from '../../src/quota/rate-limiter.js';
import type { Services } from '../../src/services.js';
import type { Tenant } from '../../src/tenancy/tenant.js';
import { ControlStore } from '../../src/tenancy/control-store.js';
import { stack } from '../support/helpers.js';

/** A RateLimiter whose object is unreachable, as when a Durable Object call throws. */
const unreachable: RateLimiter = {
  admit: async () => { throw new Error('Durable Object reset because its code was updated'); },
  release: async () => {},
};

async function appFor(slug: string) {
  const tenant = (await new ControlStore(stack.control.routerUrl).find({ kind: 'slug', value: slug })) as Tenant;
  const app = new Hono<AppEnv>();
  app.onError(onError);
  app.use(async (c, next) => {
    c.set('requestId', 'req-1');
    c.set('tenant', tenant);
    c.set('services', { limiter: unreachable } as unknown as Services);
    await next();
  });
  app.use(quota());
  app.get('/', (c) => c.json({ served: true }));
  return { app, tenant };
}

const ctx = { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext;

describe('quota fail modes', () => {
  afterEach(() => { vi.restoreAllMocks(); });

  it('fail-closed tiers refuse with 503 and log it', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { app, tenant } = await appFor('q-closed');
    expect(tenant.tier.fail_mode).toBe('closed');
    const res = await app.request('/', {}, {}, ctx);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ error: { code: 'UPSTREAM_UNAVAILABLE' } });
    expect(res.headers.get('retry-after')).toBe('1');
    expect(warn.mock.calls.map((c) => String(c[0])).join()).toMatch(/quota_fail_closed/);
  });

  it('fail-open tiers serve, say so in a header, and log it', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { app, tenant } = await appFor('q-meter');
    expect(tenant.tier.fail_mode).toBe('open');
    const res = await app.request('/', {}, {}, ctx);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-quota-mode')).toBe('fail-open');
    expect(warn.mock.calls.map((c) => String(c[0])).join()).toMatch(/quota_fail_open/);
  });

  it('a misconfigured route weight fails loudly rather than admitting for free', async () => {
    const app = new Hono<AppEnv>();
    app.onError(onError);
    app.use(async (c, next) => { c.set('tenant', { tier: { fail_mode: 'open' } } as Tenant); c.set('services', { limiter: unreachable } as unknown as Services); await next(); });
    app.use(quota({ weight: () => 0 }));
    app.get('/', (c) => c.text('x'));
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect((await app.request('/', {}, {}, ctx)).status).toBe(500);
    expect(errors).toHaveBeenCalled();
  });
});
