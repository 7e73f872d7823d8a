/**
 * The control worker run inside the test's own isolate, against the stack's real databases, with
 * configuration the stack's control worker cannot be given (an unreachable Redis, a zero purge
 * grace, a one-second refusal window). Each `controlEnv()` is a fresh isolate's worth of services.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import type { ControlEnv } from '../../src/control/env.js';
import { controlServices, type ControlServices } from '../../src/control/services.js';
import { buildControl } from '../../workers/control/index.js';
import { stack } from '../support/helpers.js';

export const HOST = 'control.test';

/** The stack's control configuration, with `over` applied. */
export function controlEnv(over: Partial<ControlEnv> = {}): ControlEnv {
  return {
    CONTROL_DATABASE_URL: stack.control.postgresUrl,
    MASTER_KEY: stack.routerEnv.MASTER_KEY!,
    ADMIN_TOKEN: stack.control.adminToken,
    CONTROL_HOSTS: HOST,
    TENANT_BASE_DOMAINS: stack.routerEnv.TENANT_BASE_DOMAINS,
    PROVISIONER: 'local',
    REGION_ADMIN_URLS: JSON.stringify(Object.fromEntries(Object.entries(stack.regions).map(([r, u]) => [r, u.postgresUrl]))),
    ROUTER_ROLE: 'app_router',
    NEON_LOCAL_ENDPOINT: stack.neonEndpoint,
    ...(stack.upstash ? { UPSTASH_REDIS_REST_URL: stack.upstash.url, UPSTASH_REDIS_REST_TOKEN: stack.upstash.token } : {}),
    ...over,
  };
}

/** Redis that refuses connections: the discard port on loopback. */
export const DEAD_REDIS: Partial<ControlEnv> = { UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:9', UPSTASH_REDIS_REST_TOKEN: 'unreachable' };

const app = buildControl();

/** One request to the in-process control worker; background work (waitUntil) is finished before it returns. */
export async function call(env: ControlEnv, path: string, init: RequestInit & { token?: string | null; json?: unknown } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('host', HOST);
  if (init.token !== null) headers.set('authorization', `Bearer ${init.token ?? stack.control.adminToken}`);
  let body = init.body;
  if (init.json !== undefined) { headers.set('content-type', 'application/json'); body = JSON.stringify(init.json); }
  const { token: _t, json: _j, ...rest } = init;
  const ctx = createExecutionContext();
  const res = await app.request(`http://${HOST}${path}`, { ...rest, headers, body }, env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** The services the in-process worker builds for `env`. */
export const servicesFor = (env: ControlEnv): Promise<ControlServices> => controlServices(env);
