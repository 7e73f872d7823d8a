/** Every refusal: its status, its code, the one JSON shape, the request id, and nothing leaked. */
import { describe, expect, it } from 'vitest';
import { call, platformToken } from './support/helpers.js';

type Case = [name: string, status: number, code: string, req: () => Promise<Response>, retryAfter?: boolean];

const cases: Case[] = [
  ['invalid host', 400, 'INVALID_HOST', async () => call('bad..host', '/api/v1/tracks')],
  ['missing token', 401, 'UNAUTHENTICATED', async () => call('acme.localhost', '/api/v1/tracks')],
  ['bad token', 401, 'INVALID_TOKEN', async () => call('acme.localhost', '/api/v1/tracks', { token: 'x.y.z' })],
  ['tenant mismatch', 403, 'TENANT_MISMATCH', async () => call('globex.localhost', '/api/v1/tracks', { token: await platformToken('acme') })],
  ['geo blocked', 403, 'GEO_BLOCKED', async () => call('hooli.localhost', '/api/v1/tracks', { token: await platformToken('hooli'), cf: { country: 'IR' } })],
  ['ip not allowed', 403, 'IP_NOT_ALLOWED', async () => call('vandelay.localhost', '/api/v1/tracks', { token: await platformToken('vandelay'), cf: { country: 'FR' }, headers: { 'cf-connecting-ip': '192.0.2.1' } })],
  ['unknown tenant', 404, 'TENANT_NOT_FOUND', async () => call('nobody-here.localhost', '/api/v1/tracks')],
  ['unknown route', 404, 'NOT_FOUND', async () => call('acme.localhost', '/api/v2/nothing', { token: await platformToken('acme') })],
  ['method not allowed', 405, 'METHOD_NOT_ALLOWED', async () => call('acme.localhost', '/api/v1/tracks', { method: 'PUT', token: await platformToken('acme') })],
  ['payload too large', 413, 'PAYLOAD_TOO_LARGE', async () => call('acme.localhost', '/api/v1/tracks', { method: 'POST', token: await platformToken('acme'), body: 'x'.repeat(20_000), headers: { 'content-type': 'application/json' } })],
  ['unsupported media type', 415, 'UNSUPPORTED_MEDIA_TYPE', async () => call('acme.localhost', '/api/v1/tracks', { method: 'POST', token: await platformToken('acme'), body: 'title=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } })],
  ['residency', 451, 'RESIDENCY_VIOLATION', async () => call('misplaced.localhost', '/api/v1/tracks', { token: await platformToken('misplaced') })],
  ['suspended', 503, 'TENANT_SUSPENDED', async () => call('stark.localhost', '/api/v1/tracks', { token: await platformToken('stark') }), true],
];

describe('error responses', () => {
  it.each(cases)('%s → %i %s', async (_name, status, code, req, retryAfter) => {
    const res = await req();
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    const text = await res.text();
    const body = JSON.parse(text) as { error: { code: string; message: string; requestId: string } };
    expect(Object.keys(body)).toEqual(['error']);
    expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'requestId']);
    expect(body.error.code).toBe(code);
    expect(body.error.requestId).toBe(requestId);
    expect(body.error.message.length).toBeGreaterThan(0);
    expect(text).not.toMatch(/postgres:\/\/|at .*\.ts:\d+|stack|SELECT /i);
    if (retryAfter) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('keeps a well-formed incoming request id and replaces a malformed one', async () => {
    const kept = await call('localhost', '/healthz', { headers: { 'x-request-id': 'trace-abc-12345' } });
    expect(kept.headers.get('x-request-id')).toBe('trace-abc-12345');
    const replaced = await call('localhost', '/healthz', { headers: { 'x-request-id': 'bad id <script>' } });
    expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers /healthz on any host without a tenant or database', async () => {
    const res = await call('whatever.localhost', '/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
  });
});
