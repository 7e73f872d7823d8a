/**
 * A client that hangs up does not keep its concurrency slot. On Workers a request whose client
 * disconnects is cancelled at its next await: code after that await (the release of its slot in
 * a `finally`) never runs. If the slot stayed counted, every disconnect would leak one, and a
 * tenant would end up refused CONCURRENCY_LIMIT with nothing running.
 */
import { describe, expect, it } from 'vitest';
import { createViaApi, tokenFor } from '../support/control.js';
import { call, errorOf, stack } from '../support/helpers.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Holds the next `times` tenant queries that bind `param` for `ms` before they run. */
async function holdTenantQueries(param: string, ms: number, times: number): Promise<void> {
  const res = await fetch(`${stack.neonEndpoint}/_test/delay`, { method: 'POST', body: JSON.stringify({ param, ms, phase: 'before', times }) });
  if (!res.ok) throw new Error(`neon delay: ${res.status}`);
}

describe('a request cancelled while it holds a concurrency slot', () => {
  it('gives the slot back: the next requests are admitted', async () => {
    const t = await createViaApi({ overrides: { ratePerMinute: 600, burst: 100, concurrency: 2 } });
    const token = await tokenFor(t.id);
    const host = `${t.slug}.localhost`;
    const warm = await call(host, '/api/v1/tracks', { token });
    expect(warm.status, await warm.clone().text()).toBe(200);
    await warm.body?.cancel();

    // Two requests take both slots and wait at the database; their clients hang up.
    await holdTenantQueries(t.id, 2_000, 2);
    const hangUps = [0, 1].map(() => new AbortController());
    const held = hangUps.map((h) => call(host, '/api/v1/tracks', { token, signal: h.signal }).catch((err: unknown) => err));
    await sleep(700);
    for (const h of hangUps) h.abort();
    for (const r of await Promise.all(held)) expect(r).toBeInstanceOf(Error);

    // Once their queries would have finished (well within the 30 s lease expiry), the slots must
    // be free again, whether or not the runtime ran the rest of the cancelled requests.
    await sleep(2_500);
    for (let i = 0; i < 4; i++) {
      const res = await call(host, '/api/v1/tracks', { token });
      if (res.status !== 200) expect.fail(`request ${i}: ${res.status} ${JSON.stringify(await errorOf(res))}`);
      await res.body?.cancel();
    }
  });
});
