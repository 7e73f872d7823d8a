/** /readyz of the control plane: its dependencies as they are, a dead cache (still ready) and an unreachable control database (503). */
import { describe, expect, it } from 'vitest';
import { call, controlEnv, DEAD_REDIS } from '../control/in-process.js';
import { stack } from '../support/helpers.js';

type Ready = { status: string; checks: { controlDatabase: string; cache: string; regions: Record<string, string> } };

describe('control plane /readyz', () => {
  it('is ready with the control database, the cache and every region database answering (the stack\'s worker)', async () => {
    const res = await fetch(`${stack.control.url}/readyz`);
    expect(res.status).toBe(200);
    const body = await res.json() as Ready;
    expect(body).toMatchObject({ status: 'ready', checks: { controlDatabase: 'ok', cache: 'ok' } });
    expect(body.checks.regions).toEqual(Object.fromEntries(Object.keys(stack.regions).map((r) => [r, 'ok'])));
    expect(JSON.stringify(body)).not.toMatch(/postgres(ql)?:\/\/|token/i);
  });

  it('stays ready with the cache down, and is not ready without its control database', async () => {
    const noCache = await call(controlEnv(DEAD_REDIS), '/readyz', { token: null });
    expect(noCache.status).toBe(200);
    expect(((await noCache.json()) as Ready).checks.cache).toBe('down');
    const t0 = Date.now();
    const dead = await call(controlEnv({ CONTROL_DATABASE_URL: 'postgresql://nobody:x@127.0.0.1:1/control' }), '/readyz', { token: null });
    expect(dead.status).toBe(503);
    expect(((await dead.json()) as Ready)).toMatchObject({ status: 'not_ready', checks: { controlDatabase: 'down' } });
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});
