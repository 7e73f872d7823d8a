/**
 * A caller that hangs up must not take other callers down with it. An isolate shares one tenant
 * lookup among the requests that need the same key at the same time; when the request that
 * started it is cancelled (its client went away), the lookup must still finish for the others,
 * and the next requests must not find a lookup that will never end.
 */
import { describe, expect, it } from 'vitest';
import { createViaApi, tokenFor } from '../support/control.js';
import { call } from '../support/helpers.js';
import { heldAtNeon, holdAtNeon, sleep, until } from './race-support.js';

describe('a cancelled request in the middle of a shared tenant lookup', () => {
  it('the requests waiting on the same lookup, and the ones after, are answered', async () => {
    const t = await createViaApi();
    const token = await tokenFor(t.id);
    const host = `${t.slug}.localhost`;
    const before = await heldAtNeon();
    await holdAtNeon({ param: t.slug, ms: 1500, phase: 'before', times: 1 });
    const hangUp = new AbortController();
    const first = call(host, '/api/v1/me', { token, signal: hangUp.signal }).catch((err: unknown) => err);
    // The first request's lookup is at the control database; a second one joins it.
    expect(await until(Date.now() + 5000, async () => (await heldAtNeon()).arrived > before.arrived)).toBe(true);
    const second = call(host, '/api/v1/me', { token });
    await sleep(100);
    hangUp.abort();
    expect(await first).toBeInstanceOf(Error);
    const res = await second;
    const body = await res.text();
    expect(res.status, body).toBe(200);
    expect(JSON.parse(body)).toMatchObject({ tenant: { id: t.id } });
    // And later requests are not stuck behind a lookup that never ends.
    await sleep(200);
    const later = await call(host, '/api/v1/me', { token });
    expect(later.status, await later.clone().text()).toBe(200);
    await later.body?.cancel();
  });
});
