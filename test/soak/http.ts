/** HTTP through the soak's edge with any Host header (fetch may not set Host), keep-alive, a timeout. */
import { Agent, request } from 'node:http';

const agent = new Agent({ keepAlive: true, maxSockets: 128 });

export interface Reply { status: number; headers: Record<string, string>; body: string; ms: number; error?: string; hungUp?: boolean }

export interface SendOptions {
  host: string; path: string; method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number;
  /** The client hangs up after this long unless answered by then (as a closed browser tab does). */
  hangUpAfterMs?: number;
}

/** Sends one request to `base` (http://127.0.0.1:port) with `host` as the Host header. */
export async function send(base: string, opts: SendOptions): Promise<Reply> {
  const r = await sendOnce(base, opts);
  // A keep-alive socket the server closed just as the request left: the request never reached
  // it (Node's documented race), so sending it again on a fresh socket is safe.
  return r.retry ? sendOnce(base, opts) : r;
}

function sendOnce(base: string, opts: SendOptions): Promise<Reply & { retry?: boolean }> {
  const u = new URL(opts.path, base);
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = request({
      agent, hostname: u.hostname, port: u.port, path: u.pathname + u.search, method: opts.method ?? 'GET',
      headers: { host: opts.host, ...(opts.body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(opts.body) } : {}), ...opts.headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k] = v;
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - t0 });
      });
      res.on('error', (err) => resolve({ status: 0, headers: {}, body: '', ms: performance.now() - t0, error: String(err), hungUp }));
    });
    req.setTimeout(opts.timeoutMs ?? 20_000, () => req.destroy(new Error('client timeout')));
    let hungUp = false;
    if (opts.hangUpAfterMs !== undefined) {
      const timer = setTimeout(() => { hungUp = true; req.destroy(new Error('client hung up')); }, opts.hangUpAfterMs);
      req.once('close', () => clearTimeout(timer));
    }
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ status: 0, headers: {}, body: '', ms: performance.now() - t0, error: String(err), hungUp,
      retry: !hungUp && req.reusedSocket && (err.code === 'ECONNRESET' || /socket hang up/.test(err.message)) }));
    if (opts.body) req.write(opts.body);
    req.end();
  });
}

/** JSON helper for the admin API (fetch is fine there: no Host override). */
export async function adminCall(url: string, token: string, path: string, init: { method?: string; json?: unknown; timeoutMs?: number } = {}): Promise<{ status: number; body: any }> {
  try {
    const res = await fetch(`${url}${path}`, {
      method: init.method ?? 'GET', signal: AbortSignal.timeout(init.timeoutMs ?? 30_000),
      headers: { authorization: `Bearer ${token}`, ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: init.json !== undefined ? JSON.stringify(init.json) : undefined,
    });
    const text = await res.text();
    let body: unknown = text;
    try { body = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, body };
  } catch (err) {
    return { status: 0, body: String(err) };
  }
}
