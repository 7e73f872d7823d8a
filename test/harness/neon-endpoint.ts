/**
 * Local stand-in for Neon's serverless endpoints, in front of real PostgreSQL:
 * - `POST /sql`: the SQL-over-HTTP protocol of `@neondatabase/serverless` (`neon()`), single
 *   queries and `transaction()` batches, raw text values, pg field metadata, errors as HTTP 400
 *   with PostgreSQL's error fields, as the driver expects;
 * - `GET /v1?address=host:port` (WebSocket): the WebSocket-to-TCP proxy of `Pool`/`Client`, as
 *   Neon's wsproxy: binary frames carry the PostgreSQL protocol both ways, unchanged, to the TCP
 *   address the query names (Neon resolves the endpoint from the host; here the address must be
 *   one of the clusters). TLS inside the socket is not offered (the driver runs with
 *   `pipelineTLS = false`, `useSecureWebSocket = false`, see src/data/neon-config.ts).
 * Only the local clusters it was given are reachable through it. `GET /_stats` counts queries and
 * HTTP requests per database, and queries (`count`) and HTTP requests (`requests`) by bound
 * parameter (`param`, exact) or by a substring of one (`contains`), so tests and the benchmark can prove how often the router reached Postgres;
 * for the WebSocket proxy, sessions per database (read from the startup message) and the server's
 * ReadyForQuery messages in them (one per round trip after the handshake, one at its end).
 * `POST /_test/delay` (see Delay) holds the answer to chosen queries, so tests can make a read
 * slow and change the data while it is in flight.
 */
import { readBody, sendJson } from './http-util.js';
import { listen } from './ports.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import pg from 'pg';
import { WebSocketServer } from 'ws';

interface Seen { database: string; params: string[] }
/**
 * Requests with `param` among their bound parameters (and to `db`, when given) are held `ms`:
 * `phase: 'after'` (default) runs the query at once and holds its answer (a slow response to a read
 * already made), `'before'` holds the request before running it (a read that happens late). Applies
 * to the next `times` requests (default: until replaced); `ms: 0` removes it. `GET /_test/delay`
 * reports how many held requests arrived, have run their queries (`executed`) and are held now.
 */
interface Delay { param: string; ms: number; phase: 'before' | 'after'; db?: string; times: number }
const RAW_TEXT = { getTypeParser: () => (value: string) => value };
const ERROR_FIELDS = ['severity', 'code', 'detail', 'hint', 'position', 'internalPosition', 'internalQuery',
  'where', 'schema', 'table', 'column', 'dataType', 'constraint', 'file', 'line', 'routine'] as const;

export interface NeonEndpoint {
  url: string;
  /** Makes one more "host:port" reachable (the compute of a Neon branch the API stand-in made). */
  allow(target: string): void;
  close(): Promise<void>;
}

/** Starts the endpoint on a free port, allowing connections only to `targets` ("host:port"). */
export async function startNeonEndpoint(targets: string[]): Promise<NeonEndpoint> {
  const allowed = new Set(targets);
  const pools = new Map<string, pg.Pool>();
  const seen: Seen[] = [];
  /** Each HTTP request's bound parameters, all its queries together. */
  const requests: Seen[] = [];
  const perDatabase = new Map<string, number>();
  const httpPerDatabase = new Map<string, number>();
  const wsSessions = new Map<string, number>();
  const wsReady = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
  const delays = new Map<string, Delay>();
  const held = { arrived: 0, executed: 0, waiting: 0 };

  /** The delay for a request, consuming one of its `times`. */
  const delayFor = (database: string, queries: { params?: unknown[] }[]): Delay | undefined => {
    for (const d of delays.values()) {
      if (d.db && d.db !== database) continue;
      if (!queries.some((q) => (q.params ?? []).map(String).includes(d.param))) continue;
      if (--d.times <= 0) delays.delete(d.param);
      return d;
    }
    return undefined;
  };

  const poolFor = (connectionString: string): pg.Pool => {
    let pool = pools.get(connectionString);
    if (!pool) {
      pool = new pg.Pool({ connectionString, max: 20, idleTimeoutMillis: 10_000, types: RAW_TEXT });
      pool.on('error', () => {});
      pools.set(connectionString, pool);
    }
    return pool;
  };

  const record = (database: string, params: unknown[]) => {
    perDatabase.set(database, (perDatabase.get(database) ?? 0) + 1);
    seen.push({ database, params: params.map(String) });
    if (seen.length > 20_000) seen.splice(0, 5_000);
  };

  async function sql(req: IncomingMessage, res: ServerResponse) {
    const body = await readBody(req);
    const conn = req.headers['neon-connection-string'];
    let delay: Delay | undefined;
    try {
      const parsed = JSON.parse(body) as { params?: unknown[]; queries?: { params: unknown[] }[] };
      const database = typeof conn === 'string' ? new URL(conn).pathname.slice(1) : '';
      delay = delayFor(database, parsed.queries ?? [parsed]);
    } catch { /* execute() answers malformed requests */ }
    if (!delay) return execute(req, body, res);
    held.arrived++;
    held.waiting++;
    if (delay.phase === 'before') await sleep(delay.ms);
    // The reply is captured, so the query runs (and its connection is released) before the hold.
    const reply = new CapturedReply();
    await execute(req, body, reply as unknown as ServerResponse);
    held.executed++;
    if (delay.phase === 'after') await sleep(delay.ms);
    held.waiting--;
    reply.sendTo(res);
  }

  async function execute(req: IncomingMessage, text: string, res: ServerResponse) {
    const conn = req.headers['neon-connection-string'];
    if (typeof conn !== 'string') return sendJson(res, 400, { message: 'missing Neon-Connection-String header' });
    let url: URL;
    try { url = new URL(conn); } catch { return sendJson(res, 400, { message: 'invalid connection string' }); }
    if (!allowed.has(`${url.hostname}:${url.port}`)) return sendJson(res, 400, { message: `unknown host ${url.host}` });
    const arrayMode = req.headers['neon-array-mode'] === 'true';
    const body = JSON.parse(text) as { query?: string; params?: unknown[]; queries?: { query: string; params: unknown[] }[] };
    const database = url.pathname.slice(1);
    const queries = body.queries ?? [{ query: body.query ?? '', params: body.params ?? [] }];
    httpPerDatabase.set(database, (httpPerDatabase.get(database) ?? 0) + 1);
    for (const q of queries) record(database, q.params ?? []);
    requests.push({ database, params: queries.flatMap((q) => (q.params ?? []).map(String)) });
    if (requests.length > 20_000) requests.splice(0, 5_000);

    let client: pg.PoolClient;
    try {
      client = await poolFor(conn).connect();
    } catch (err) {
      const e = err as { code?: string; message?: string };
      // Authentication failures are PostgreSQL errors (400); an unreachable compute is not.
      if (e.code && /^[0-9A-Z]{5}$/.test(e.code)) return sendJson(res, 400, pgError(err));
      return replyText(res, 503, `Couldn't connect to compute node: ${e.message ?? 'unreachable'}`);
    }
    let broken = false;
    try {
      if (!body.queries) {
        const result = await run(client, queries[0]!, arrayMode);
        return sendJson(res, 200, result);
      }
      const iso = req.headers['neon-batch-isolation-level'];
      const level = typeof iso === 'string' ? ` ISOLATION LEVEL ${isolation(iso)}` : '';
      const ro = req.headers['neon-batch-read-only'] === 'true' ? ' READ ONLY' : '';
      const def = req.headers['neon-batch-deferrable'] === 'true' ? ' DEFERRABLE' : '';
      await client.query(`BEGIN${level}${ro}${def}`);
      try {
        const results = [];
        for (const q of queries) results.push(await run(client, q, arrayMode));
        await client.query('COMMIT');
        return sendJson(res, 200, { results });
      } catch (err) {
        await client.query('ROLLBACK').catch(() => { broken = true; });
        throw err;
      }
    } catch (err) {
      const e = err as { code?: string };
      if (!e.code) { broken = true; return replyText(res, 503, `Connection to compute lost: ${String(err)}`); }
      return sendJson(res, 400, pgError(err));
    } finally {
      client.release(broken);
    }
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (req.method === 'POST' && path === '/sql') {
      sql(req, res).catch((err) => replyText(res, 500, String(err)));
    } else if (req.method === 'GET' && path === '/_stats') {
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      const param = q.get('param');
      const contains = q.get('contains');
      const db = q.get('db');
      const match = (s: Seen) => (!db || s.database === db) && (!param || s.params.includes(param))
        && (!contains || s.params.some((p) => p.includes(contains)));
      const count = seen.filter(match).length;
      sendJson(res, 200, { count, requests: requests.filter(match).length, perDatabase: Object.fromEntries(perDatabase), httpRequestsPerDatabase: Object.fromEntries(httpPerDatabase),
        wsSessionsPerDatabase: Object.fromEntries(wsSessions), wsReadyPerDatabase: Object.fromEntries(wsReady) });
    } else if (path === '/_test/delay') {
      testDelay(req, res).catch((err) => sendJson(res, 400, { message: String(err) }));
    } else {
      sendJson(res, 404, { message: 'not found' });
    }
  });

  async function testDelay(req: IncomingMessage, res: ServerResponse) {
    if (req.method === 'GET') return sendJson(res, 200, held);
    const d = JSON.parse(await readBody(req)) as Partial<Delay>;
    if (typeof d.param !== 'string' || typeof d.ms !== 'number') return sendJson(res, 400, { message: 'param and ms required' });
    if (d.ms <= 0) delays.delete(d.param);
    else delays.set(d.param, { param: d.param, ms: d.ms, phase: d.phase === 'before' ? 'before' : 'after', db: d.db, times: d.times ?? Infinity });
    sendJson(res, 200, { ok: true });
  }

  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const address = u.searchParams.get('address') ?? '';
    if (u.pathname !== '/v1' || !allowed.has(address)) { socket.destroy(); return; }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const [host, p] = address.split(':');
      const tcp = connect(Number(p), host!);
      const pending: Buffer[] = [];
      const watch = sessionWatch((db) => bump(wsSessions, db), (db) => bump(wsReady, db));
      tcp.on('connect', () => { for (const b of pending.splice(0)) tcp.write(b); });
      ws.on('message', (data) => {
        const buf = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
        watch.fromClient(buf);
        if (tcp.connecting) pending.push(buf); else tcp.write(buf);
      });
      tcp.on('data', (chunk) => { watch.fromServer(chunk); ws.send(chunk); });
      // When PostgreSQL hangs up, close the WebSocket with a close frame and drop it if the peer
      // does not answer. Measured here: an immediate terminate() after the client's own `end()`
      // makes workerd log "Network connection lost" as an uncaught rejection; a close frame does not.
      tcp.on('close', () => { ws.close(1000); setTimeout(() => ws.terminate(), 1000).unref(); });
      tcp.on('error', () => ws.terminate());
      ws.on('close', () => tcp.destroy());
      ws.on('error', () => tcp.destroy());
    });
  });

  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    allow: (target: string) => { allowed.add(target); },
    close: async () => {
      wss.clients.forEach((c) => c.terminate());
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...pools.values()].map((p) => p.end().catch(() => {})));
    },
  };
}

/**
 * Reads a proxied session without changing it: the database of its startup message, then each
 * ReadyForQuery ('Z') of the server's messages (type byte, int32 length that includes itself).
 */
function sessionWatch(onSession: (db: string) => void, onReady: (db: string) => void) {
  let head = Buffer.alloc(0);
  let db: string | undefined;
  let skip = 0;
  let partial = Buffer.alloc(0);
  return {
    fromClient(buf: Buffer) {
      if (db !== undefined) return;
      head = Buffer.concat([head, buf]);
      if (head.length < 8) return;
      const len = head.readInt32BE(0);
      const code = head.readInt32BE(4);
      if (code === 80877103) { head = head.subarray(8); return; } // SSLRequest: the startup follows.
      if (head.length < len) return;
      const parts = head.subarray(8, len).toString('utf8').split('\0');
      const user = parts[parts.indexOf('user') + 1] ?? '';
      const i = parts.indexOf('database');
      db = i >= 0 ? parts[i + 1]! : user;
      onSession(db);
    },
    fromServer(chunk: Buffer) {
      if (db === undefined) return;
      let buf = Buffer.concat([partial, chunk]);
      partial = Buffer.alloc(0);
      while (buf.length > 0) {
        if (skip > 0) { const n = Math.min(skip, buf.length); skip -= n; buf = buf.subarray(n); continue; }
        if (buf.length < 5) { partial = buf; return; }
        if (buf[0] === 0x5a) onReady(db);
        skip = 1 + buf.readInt32BE(1);
      }
    },
  };
}

async function run(client: pg.PoolClient, q: { query: string; params?: unknown[] }, arrayMode: boolean) {
  const r = await client.query({ text: q.query, values: q.params ?? [], rowMode: 'array', queryMode: 'extended' } as pg.QueryArrayConfig);
  const fields = r.fields.map((f) => ({ name: f.name, tableID: f.tableID, columnID: f.columnID, dataTypeID: f.dataTypeID,
    dataTypeSize: f.dataTypeSize, dataTypeModifier: f.dataTypeModifier, format: f.format }));
  const rows = arrayMode ? r.rows : r.rows.map((row) => Object.fromEntries(fields.map((f, i) => [f.name, row[i]])));
  return { command: r.command, rowCount: r.rowCount, rows, fields, rowAsArray: arrayMode };
}

function isolation(header: string): string {
  const levels: Record<string, string> = { ReadUncommitted: 'READ UNCOMMITTED', ReadCommitted: 'READ COMMITTED',
    RepeatableRead: 'REPEATABLE READ', Serializable: 'SERIALIZABLE' };
  const level = levels[header];
  if (!level) throw Object.assign(new Error(`invalid isolation level ${header}`), { code: '22023' });
  return level;
}

function pgError(err: unknown): Record<string, unknown> {
  const e = err as Record<string, unknown>;
  const out: Record<string, unknown> = { message: String(e.message ?? err) };
  for (const f of ERROR_FIELDS) if (e[f] !== undefined) out[f] = e[f];
  return out;
}


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Stands in for a ServerResponse while a delayed answer is held: records it, sends it later. */
class CapturedReply {
  headersSent = false;
  private status = 200;
  private headers: Record<string, string> = {};
  private body = '';
  writeHead(status: number, headers: Record<string, string>) { this.status = status; this.headers = headers; this.headersSent = true; return this; }
  end(body: string) { this.body = body; }
  sendTo(res: ServerResponse) {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(this.status, this.headers);
    res.end(this.body);
  }
}

function replyText(res: ServerResponse, status: number, text: string) {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(text);
}
