/**
 * The sample application's routes under hostile input: every answer is a JSON error of the one
 * shape with a 4xx status, never a 500, never a stored row.
 */
import { describe, expect, it } from 'vitest';
import { call, errorOf, platformToken, unique } from '../support/helpers.js';

const host = 'acme.localhost';
const token = () => platformToken('acme');

async function expectError(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/application\/json/);
  expect((await errorOf(res)).code).toBe(code);
}

const post = async (body: BodyInit | null, contentType?: string, extra: Record<string, string> = {}) =>
  call(host, '/api/v1/tracks', { method: 'POST', token: await token(), body, headers: { ...(contentType ? { 'content-type': contentType } : {}), ...extra } });

describe('methods', () => {
  it.each([
    ['/api/v1/tracks', ['PUT', 'PATCH', 'DELETE', 'OPTIONS'], 'GET, POST, HEAD'],
    [`/api/v1/tracks/${crypto.randomUUID()}`, ['PUT', 'POST', 'OPTIONS'], 'GET, PATCH, DELETE, HEAD'],
    ['/api/v1/tracks/import', ['PUT', 'PATCH', 'DELETE'], 'POST'],
    ['/api/v1/me', ['POST', 'PUT', 'DELETE'], 'GET, HEAD'],
  ])('%s answers other methods 405 METHOD_NOT_ALLOWED with Allow', async (path, methods, allow) => {
    for (const method of methods) {
      const res = await call(host, path, { method, token: await token(), body: method === 'OPTIONS' ? undefined : '{}', headers: { 'content-type': 'application/json' } });
      expect(res.headers.get('allow'), method).toBe(allow);
      await expectError(res, 405, 'METHOD_NOT_ALLOWED');
    }
  });

  it('serves HEAD like GET, without a body', async () => {
    const res = await call(host, '/api/v1/tracks?limit=1', { method: 'HEAD', token: await token() });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('');
  });
});

describe('request bodies', () => {
  it.each([
    ['truncated', '{"title":'], ['empty', ''], ['trailing garbage', '{"title":"a","artist":"b","durationMs":1}trailing'], ['a NUL byte', '\u0000'],
    ['12 KB of unclosed objects', '{"title":"a"'.repeat(1000)],
  ])('refuses malformed JSON (%s) with 400 BAD_REQUEST', async (_name, body) => {
    await expectError(await post(body, 'application/json'), 400, 'BAD_REQUEST');
  });

  it.each([
    ['null', 'null'], ['an array', '[]'], ['a string', '"text"'], ['a number', '42'],
    ['a __proto__ key', '{"__proto__":{"x":1},"title":"a","artist":"b","durationMs":1}'],
    ['a string duration', '{"title":"a","artist":"b","durationMs":"1"}'], ['an infinite duration', '{"title":"a","artist":"b","durationMs":1e400}'],
    ['arrays nested 5000 deep', '['.repeat(5000) + ']'.repeat(5000)],
  ])('refuses well-formed JSON that is not a track (%s) with 400', async (_name, body) => {
    await expectError(await post(body, 'application/json'), 400, 'BAD_REQUEST');
  });

  it.each([[undefined], ['text/plain'], ['application/x-www-form-urlencoded'], ['multipart/form-data; boundary=x'], ['application/jsonp'], ['application/xml']])(
    'refuses Content-Type %s with 415 UNSUPPORTED_MEDIA_TYPE', async (type) => {
      await expectError(await post('{"title":"a","artist":"b","durationMs":1}', type), 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

  it('accepts JSON with parameters and a +json type', async () => {
    for (const type of ['application/json; charset=utf-8', 'application/vnd.track+json']) {
      expect((await post(JSON.stringify({ title: unique('t'), artist: 'b', durationMs: 1 }), type)).status, type).toBe(201);
    }
  });

  it('refuses a body over 16 KiB with 413, declared or streamed without a length', async () => {
    await expectError(await post('{"title":"' + 'a'.repeat(1 << 20) + '"}', 'application/json'), 413, 'PAYLOAD_TOO_LARGE');
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctl) { if (sent++ < 4096) ctl.enqueue(new TextEncoder().encode('x'.repeat(1024))); else ctl.close(); },
    });
    await expectError(await post(stream, 'application/json'), 413, 'PAYLOAD_TOO_LARGE');
    expect(sent).toBeLessThan(4096);
  });

  it.each([['\u0000'], ['a\u0007b'], ['\ud800'], ['x\udc00y']])('refuses a title with control characters or broken Unicode %j with 400', async (title) => {
    const res = await post(JSON.stringify({ title, artist: 'b', durationMs: 1 }), 'application/json');
    await expectError(res, 400, 'BAD_REQUEST');
  });
});

describe('ids and queries', () => {
  it.each(['1', 'not-a-uuid', '%00', '%ZZ', `${crypto.randomUUID()}x`, `{${crypto.randomUUID()}}`, "1'%20OR%20'1'='1", '..%2F..%2Fetc', 'a'.repeat(2000)].map((id) => [id.slice(0, 40), id]))(
    'refuses track id %s with 400 BAD_REQUEST', async (_name, id) => {
      for (const method of ['GET', 'DELETE']) await expectError(await call(host, `/api/v1/tracks/${id}`, { method, token: await token() }), 400, 'BAD_REQUEST');
    });

  it.each(['limit=abc', 'limit=0', 'limit=-1', 'limit=1e3', 'limit=1&limit=2', 'limit=', 'limit=99999999999999999999'])('refuses ?%s with 400', async (q) => {
    await expectError(await call(host, `/api/v1/tracks?${q}`, { token: await token() }), 400, 'BAD_REQUEST');
  });
});
