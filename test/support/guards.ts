/** Access to the router's Durable Objects from tests. */
import { env } from 'cloudflare:test';
import type { Env } from '../../src/env.js';
import { guardStub } from '../../src/quota/rate-limiter.js';
import { tenant } from './helpers.js';

export const workerEnv = env as unknown as Env;

/** The TenantGuard of seeded tenant `slug`, as the router names it. */
export const guardOf = (slug: string) => guardStub(workerEnv.TENANT_GUARD, { id: tenant(slug).id, residency: null }, false);

/** The CircuitBreaker of a database target (`db:<region>` or `db:<tenant id>`). */
export const breakerOf = (target: string) => workerEnv.CIRCUIT_BREAKER.get(workerEnv.CIRCUIT_BREAKER.idFromName(target));
