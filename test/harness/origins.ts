/**
 * Tenant origins for proxy mode (src/proxy/, docs/proxy.md): one real HTTP server per region, each
 * doing what docs/proxy.md asks of an origin. It verifies `X-Tenant-Context` with jose against the
 * router's published JWKS (ES256 only, `typ` tenant-context+jwt, `aud` its own URL, `exp`/`iat`
 * with 60 s at most), refuses a missing, forged or expired context 401, and a replayed one (a `jti`
 * seen before, remembered for two minutes) 401 too. It records what each accepted request carried.
 *
 * Fidelity notes. The JWKS: under `npm start` the origin fetches the router's
 * `/.well-known/jwks.json` on the API host itself (again when it meets an unknown kid, at most
 * every 5 s); in the tests the router runs inside the test's workerd, which no Node process can
 * call, so a test fetches that endpoint through the router and hands the very document to the
 * origins (`PUT /_origin/jwks`). Either way an origin verifies with what the router published.
 *
 * App routes (all behind a verified context):
 *   any path          JSON: which origin, method, path, the context's claims
 *   POST /app/echo    the request body streamed back as it arrives, sha256 and length recorded
 *   GET  /app/bytes?n=N  N bytes of a fixed pattern, streamed
 *   POST /app/early   response headers (Content-Length) at once, the body after the whole upload is read
 *   GET  /app/cookies Set-Cookie with Domain=example.com, .example.com, acme.example.com and none
 *   GET  /app/hold    a first chunk at once, the rest only after POST /_origin/release
 *   GET  /app/slow?ms=M  headers after M ms
 * Control routes (no context; for the tests): GET/DELETE /_origin/requests (what was accepted,
 * refusals included with their reason), GET /_origin/progress?rid=… (request-body bytes received so
 * far), PUT /_origin/jwks, POST /_origin/release.
 */
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import { listen } from './ports.js';
import { readBody, sendJson } from './http-util.js';

/** One request as the origin saw it. */
export interface OriginRecord {
  at: number;
  method: string;
  path: string;
  headers: Record<string, string>;
  /** `accepted`, or why the context was refused. */
  outcome: 'accepted' | 'missing' | 'invalid' | 'replayed';
  claims: JWTPayload | null;
  bodyBytes: number;
  bodySha256: string | null;
}

export interface OriginServer { region: string; url: string; close(): Promise<void> }

/** Where an origin gets the router's JWKS when none was handed to it: the router's URL and its API host name. */
export interface JwksSource { url: string; host: string }

const PATTERN = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz\n');

/** Starts one origin per region on free loopback ports. */
export async function startOrigins(regions: readonly string[], source: JwksSource | null): Promise<Record<string, OriginServer>> {
  const out: Record<string, OriginServer> = {};
  for (const region of regions) out[region] = await startOrigin(region, source);
  return out;
}

async function startOrigin(region: string, source: JwksSource | null): Promise<OriginServer> {
  let jwks: JSONWebKeySet | null = null;
  let fetchedAt = 0;
  const seen = new Map<string, number>();
  const records: OriginRecord[] = [];
  const progress = new Map<string, number>();
  let releases: (() => void)[] = [];
  let self = '';

  /** The router's keys; fetched from the router when it has a URL and they are absent or `stale`. */
  async function keys(stale: boolean): Promise<JSONWebKeySet | null> {
    if (source && (!jwks || stale) && Date.now() - fetchedAt > 5_000) {
      fetchedAt = Date.now();
      jwks = await getJson(source.url, source.host).catch(() => jwks) as JSONWebKeySet | null;
    }
    return jwks;
  }

  async function verify(token: string): Promise<{ ok: true; claims: JWTPayload } | { ok: false; outcome: 'invalid' | 'replayed'; reason: string }> {
    for (const retry of [false, true]) {
      const set = await keys(retry);
      if (!set) return { ok: false, outcome: 'invalid', reason: 'no JWKS yet' };
      try {
        const { payload } = await jwtVerify(token, createLocalJWKSet(set), {
          algorithms: ['ES256'], typ: 'tenant-context+jwt', audience: self, maxTokenAge: '60s', requiredClaims: ['jti', 'iat', 'exp', 'tid'],
        });
        const now = Date.now();
        for (const [j, until] of seen) if (until < now) seen.delete(j);
        if (seen.has(payload.jti!)) return { ok: false, outcome: 'replayed', reason: 'jti seen before' };
        seen.set(payload.jti!, now + 120_000);
        return { ok: true, claims: payload };
      } catch (err) {
        if (!retry && err instanceof errors.JWKSNoMatchingKey) continue;
        return { ok: false, outcome: 'invalid', reason: (err as Error).message };
      }
    }
    return { ok: false, outcome: 'invalid', reason: 'unreachable' };
  }

  function record(req: IncomingMessage, outcome: OriginRecord['outcome'], claims: JWTPayload | null, bodyBytes = 0, bodySha256: string | null = null) {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
    records.push({ at: Date.now(), method: req.method ?? '', path: req.url ?? '', headers, outcome, claims, bodyBytes, bodySha256 });
    if (records.length > 1000) records.shift();
  }

  async function control(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (url.pathname === '/_origin/requests' && req.method === 'GET') return sendJson(res, 200, { region, requests: records });
    if (url.pathname === '/_origin/requests' && req.method === 'DELETE') { records.length = 0; return sendJson(res, 200, { ok: true }); }
    if (url.pathname === '/_origin/progress') return sendJson(res, 200, { bytes: progress.get(url.searchParams.get('rid') ?? '') ?? 0 });
    if (url.pathname === '/_origin/jwks' && req.method === 'PUT') { jwks = JSON.parse(await readBody(req)) as JSONWebKeySet; return sendJson(res, 200, { ok: true }); }
    if (url.pathname === '/_origin/release' && req.method === 'POST') { const r = releases; releases = []; r.forEach((f) => f()); return sendJson(res, 200, { released: r.length }); }
    sendJson(res, 404, { error: 'no such control route' });
  }

  async function app(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const token = req.headers['x-tenant-context'];
    if (typeof token !== 'string') { record(req, 'missing', null); req.resume(); return sendJson(res, 401, { error: 'missing tenant context' }); }
    const v = await verify(token);
    if (!v.ok) { record(req, v.outcome, null); req.resume(); return sendJson(res, 401, { error: v.outcome, reason: v.reason }); }
    const rid = typeof v.claims.rid === 'string' ? v.claims.rid : '';
    if (url.pathname === '/app/echo' && req.method === 'POST') {
      const hash = createHash('sha256');
      let n = 0;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-origin': region });
      req.on('data', (chunk: Buffer) => { n += chunk.length; progress.set(rid, n); hash.update(chunk); res.write(chunk); });
      req.on('end', () => { record(req, 'accepted', v.claims, n, hash.digest('hex')); res.end(); });
      return;
    }
    if (url.pathname === '/app/early' && req.method === 'POST') {
      // Answers (headers, with Content-Length) before reading the upload, then reads it all.
      const out = Buffer.from('early\n');
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(out.length), 'x-origin': region });
      res.flushHeaders();
      let n = 0;
      req.on('data', (chunk: Buffer) => { n += chunk.length; progress.set(rid, n); });
      req.on('end', () => { record(req, 'accepted', v.claims, n); res.end(out); });
      return;
    }
    const bodyBytes = url.pathname === '/app/echo' ? 0 : Buffer.byteLength(await readBody(req));
    record(req, 'accepted', v.claims, bodyBytes);
    if (url.pathname === '/app/bytes') return streamBytes(res, Number(url.searchParams.get('n') ?? 0));
    if (url.pathname === '/app/hold') {
      res.writeHead(200, { 'content-type': 'text/plain', 'x-origin': region });
      res.write('first\n');
      releases.push(() => res.end('rest\n'));
      return;
    }
    if (url.pathname === '/app/cookies') {
      // Cookies scoped every way an origin might: the router must not let one cover other tenants' hosts.
      res.setHeader('set-cookie', ['own=1; Path=/; HttpOnly', 'wide=2; Domain=example.com; Path=/', 'dotted=3; domain=.Example.COM; Secure', 'exact=4; Domain=acme.example.com']);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('cookies\n');
      return;
    }
    if (url.pathname === '/app/slow') await new Promise((r) => setTimeout(r, Number(url.searchParams.get('ms') ?? 0)));
    // Headers an origin might send that the router must not pass on as they are.
    res.writeHead(200, { 'content-type': 'application/json', 'x-origin': region, 'x-tenant': 'forged-by-origin', connection: 'keep-alive, x-hop', 'x-hop': '1' });
    res.end(JSON.stringify({ origin: region, method: req.method, path: url.pathname + url.search, claims: v.claims, bodyBytes }));
  }

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin');
    const handle = url.pathname.startsWith('/_origin/') ? control(req, res, url) : app(req, res, url);
    handle.catch((err: unknown) => sendJson(res, 500, { error: String(err) }));
  });
  const port = await listen(server);
  self = `http://127.0.0.1:${port}`;
  return {
    region, url: self,
    close: () => new Promise<void>((resolve) => { releases.forEach((f) => f()); server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Streams `n` bytes of PATTERN repeated, in 64 KiB writes, waiting for the socket to drain. */
function streamBytes(res: ServerResponse, n: number): void {
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(n) });
  // Byte p of the stream is PATTERN[p % PATTERN.length]: a test can check any byte it receives.
  const block = Buffer.alloc(64 * 1024 + PATTERN.length);
  for (let i = 0; i < block.length; i++) block[i] = PATTERN[i % PATTERN.length]!;
  let sent = 0;
  const more = () => {
    while (sent < n) {
      const at = sent % PATTERN.length;
      const chunk = block.subarray(at, at + Math.min(64 * 1024, n - sent));
      sent += chunk.length;
      if (!res.write(chunk)) { res.once('drain', more); return; }
    }
    res.end();
  };
  more();
}

/** GET `url` with `host` as the Host header (the router's API host), as JSON. */
function getJson(url: string, host: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host }, timeout: 3_000 }, (res) => {
      readBody(res).then((text) => (res.statusCode === 200 ? resolve(JSON.parse(text)) : reject(new Error(`JWKS: ${res.statusCode}`))), reject);
    });
    req.on('timeout', () => req.destroy(new Error('JWKS: timeout')));
    req.on('error', reject);
    req.end();
  });
}
