/**
 * A webhook receiver for the alert deliveries (src/alerts/, docs/alerts.md): a real HTTP server
 * on loopback that records every POST it is sent and answers 200, or, for the next N requests of
 * a receiver told to fail, a chosen error status. It verifies nothing itself: the tests check the
 * Standard Webhooks signature of what it recorded with their own implementation.
 *
 *   POST   /hooks/<name>           a delivery (recorded; 200 {"ok":true}, or the configured failure)
 *   PUT    /_hooks/<name>?fail=N&status=S&match=…   the next N deliveries to <name> whose body contains
 *                                   every `match` answer S (default 503)
 *   GET    /_hooks/<name>          what <name> received: [{at, headers, body, answered}]
 *   DELETE /_hooks/<name>          forgets <name>
 */
import { createServer, type Server } from 'node:http';
import { listen } from './ports.js';
import { readBody, sendJson } from './http-util.js';

export interface ReceivedHook { at: number; headers: Record<string, string>; body: string; answered: number }

export interface WebhookReceiver { url: string; close(): Promise<void> }

const NAME = /^\/(_?hooks)\/([a-z0-9-]{1,64})$/;

/** Starts the receiver on a free loopback port. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received = new Map<string, ReceivedHook[]>();
  const failing = new Map<string, { left: number; status: number; match: string[] }>();
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = NAME.exec(url.pathname);
    if (!m) return sendJson(res, 404, { error: 'no such route' });
    const [, kind, name] = m as unknown as [string, string, string];
    if (kind === 'hooks' && req.method === 'POST') {
      const body = await readBody(req);
      const f = failing.get(name);
      const fails = f !== undefined && f.left > 0 && f.match.every((m) => body.includes(m));
      const answered = fails ? f.status : 200;
      if (fails) f.left--;
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v ?? '']));
      received.set(name, [...(received.get(name) ?? []), { at: Date.now(), headers, body, answered }]);
      return sendJson(res, answered, answered === 200 ? { ok: true } : { error: 'failing on purpose' });
    }
    if (kind === '_hooks' && req.method === 'PUT') {
      failing.set(name, { left: Number(url.searchParams.get('fail') ?? 0), status: Number(url.searchParams.get('status') ?? 503), match: url.searchParams.getAll('match') });
      return sendJson(res, 200, { ok: true });
    }
    if (kind === '_hooks' && req.method === 'GET') return sendJson(res, 200, received.get(name) ?? []);
    if (kind === '_hooks' && req.method === 'DELETE') { received.delete(name); failing.delete(name); return sendJson(res, 200, { ok: true }); }
    return sendJson(res, 405, { error: 'method not allowed' });
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => { server.close(() => r()); server.closeAllConnections(); }) };
}
