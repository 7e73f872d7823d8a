import { describe, expect, it } from 'vitest';
import { call, platformToken, postJson } from './support/helpers.js';

describe('smoke', () => {
  it('serves healthz and a tenant round trip', async () => {
    expect((await call('localhost', '/healthz')).status).toBe(200);
    const token = await platformToken('acme');
    const created = await postJson('acme.localhost', '/api/v1/tracks', { title: 'A', artist: 'B', durationMs: 1000 }, token);
    expect(created.status, await created.clone().text()).toBe(201);
    const list = await call('acme.localhost', '/api/v1/tracks', { token });
    expect(list.status).toBe(200);
    expect(list.headers.get('x-tenant')).toBe('acme');
  });
});
