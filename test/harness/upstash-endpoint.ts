/**
 * Real `redis-server` behind a local stand-in for Upstash's REST API, the protocol
 * `@upstash/redis` speaks: `POST /` with one command as a JSON array, `POST /pipeline` and
 * `POST /multi-exec` with an array of commands, bearer-token auth, `{result}` / `{error}` replies,
 * and base64 values when the client sends `Upstash-Encoding: base64` (its default).
 * `POST /_test/delay {key, ms, command?, times?}` (same token) holds the next `times` commands
 * (default 1) naming `key` among their arguments (and, when given, of that `command`, e.g.
 * "eval") for `ms` before running them, so tests can order a write after a concurrent change.
 *
 * Upstash accepts the script flag `allow-key-locking` (`#!lua flags=allow-key-locking`, which
 * `@upstash/ratelimit` puts on every script); the redis-server 7.0 of Debian refuses it ("Unexpected
 * flag in script shebang"). The stand-in drops that flag before EVAL / SCRIPT LOAD and maps the SHA-1
 * of the script as the client sent it to the one redis-server stored, so EVALSHA hits as on Upstash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readBody, sendJson } from './http-util.js';
import { listen } from './ports.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Redis } from 'ioredis';
import { withFreePort } from './ports.js';

export interface UpstashEndpoint { url: string; token: string; redisPort: number; close(): Promise<void> }
type Reply = Buffer | number | null | Reply[] | Error;
interface Delay { key: string; ms: number; command?: string; times: number }

/** Starts `redis-server` on a free loopback port and the REST endpoint in front of it. */
export async function startUpstash(token: string): Promise<UpstashEndpoint> {
  const { redis, child, redisPort } = await withFreePort(startRedis);

  let delays: Delay[] = [];
  /** Holds `cmd` when a delay matches it, consuming one of the delay's `times`. */
  const hold = async (cmd: string[]) => {
    const d = delays.find((x) => cmd.slice(1).includes(x.key) && (!x.command || x.command === cmd[0]!.toLowerCase()));
    if (!d) return;
    if (--d.times <= 0) delays = delays.filter((x) => x !== d);
    await new Promise((r) => setTimeout(r, d.ms));
  };

  const scripts = new Map<string, string>();
  const exec = async (cmd: unknown[]): Promise<Reply> => {
    const [name, ...args] = upstashScripts(cmd.map(String), scripts);
    await hold([name!, ...args]);
    try { return (await redis.callBuffer(name!, ...args)) as Reply; } catch (err) { return err as Error; }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => sendJson(res, 500, { error: String(err) }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse) {
    if (req.headers.authorization !== `Bearer ${token}`) return sendJson(res, 401, { error: 'Unauthorized' });
    const base64 = String(req.headers['upstash-encoding'] ?? '').toLowerCase() === 'base64';
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '');
    const body = JSON.parse((await readBody(req)) || 'null') as unknown;
    if (path === '/_test/delay') {
      const d = body as Partial<Delay> | null;
      if (typeof d?.key !== 'string' || typeof d.ms !== 'number') return sendJson(res, 400, { error: 'key and ms required' });
      delays.push({ key: d.key, ms: d.ms, command: d.command?.toLowerCase(), times: d.times ?? 1 });
      return sendJson(res, 200, { result: 'OK' });
    }
    if (path === '' ) {
      if (!Array.isArray(body)) return sendJson(res, 400, { error: 'ERR body must be a command array' });
      const r = await exec(body);
      return r instanceof Error ? sendJson(res, 400, { error: r.message }) : sendJson(res, 200, { result: encode(r, base64) });
    }
    if (path === '/pipeline' || path === '/multi-exec') {
      if (!Array.isArray(body) || !body.every(Array.isArray)) return sendJson(res, 400, { error: 'ERR body must be an array of commands' });
      const cmds = body as unknown[][];
      if (path === '/multi-exec') {
        const multi = redis.multi();
        for (const c of cmds) { const [name, ...args] = upstashScripts(c.map(String), scripts); multi.callBuffer(name!, ...args); }
        const out = (await multi.exec().catch((err: Error) => cmds.map(() => [err, null] as [Error, null]))) ?? [];
        return sendJson(res, 200, out.map(([err, r]) => (err ? { error: err.message } : { result: encode(r as Reply, base64) })));
      }
      const out = [];
      for (const c of cmds) {
        const r = await exec(c);
        out.push(r instanceof Error ? { error: r.message } : { result: encode(r, base64) });
      }
      return sendJson(res, 200, out);
    }
    return sendJson(res, 404, { error: 'not found' });
  }

  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`, token, redisPort,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      redis.disconnect();
      child.kill('SIGTERM');
    },
  };
}

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');
const LOCKING_FLAG = /^(#!lua[^\n]*?\bflags=)([^\n]*)/;

/** `cmd` as redis-server 7.0 takes it: without Upstash's `allow-key-locking` script flag (see the top of this file). */
export function upstashScripts(cmd: string[], shas: Map<string, string>): string[] {
  const name = cmd[0]?.toLowerCase();
  const at = name === 'eval' ? 1 : name === 'script' && cmd[1]?.toLowerCase() === 'load' ? 2 : -1;
  if (at > 0 && cmd[at] !== undefined) {
    const script = cmd[at]!;
    const m = LOCKING_FLAG.exec(script);
    if (!m) return cmd;
    const flags = m[2]!.split(',').map((f) => f.trim()).filter((f) => f !== '' && f !== 'allow-key-locking');
    const local = script.replace(LOCKING_FLAG, flags.length ? `$1${flags.join(',')}` : '#!lua');
    shas.set(sha1(script), sha1(local));
    return [...cmd.slice(0, at), local, ...cmd.slice(at + 1)];
  }
  if (name === 'evalsha' && cmd[1] && shas.has(cmd[1].toLowerCase())) return [cmd[0]!, shas.get(cmd[1].toLowerCase())!, ...cmd.slice(2)];
  return cmd;
}

/** Starts redis-server on `port`; rejects if it exits first (say, the port was taken meanwhile). */
async function startRedis(redisPort: number): Promise<{ redis: Redis; child: ChildProcess; redisPort: number }> {
  const child = spawn('redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  // A synchronous kill on exit: whatever path the stack takes down, no redis-server outlives it.
  process.on('exit', () => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const redis = new Redis({ port: redisPort, host: '127.0.0.1', maxRetriesPerRequest: 50, retryStrategy: () => 100 });
  redis.on('error', () => {});
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(new Error(`cannot start redis-server (is it installed?): ${err.message}`)));
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)));
  });
  try {
    // ioredis queues the command and retries the connection until redis-server listens.
    await Promise.race([redis.ping(), exited]);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  exited.catch(() => {});
  return { redis, child, redisPort };
}

/** Upstash returns bulk strings base64-encoded when asked, except the status reply "OK". */
function encode(r: Reply, base64: boolean): unknown {
  if (Buffer.isBuffer(r)) {
    const s = r.toString('utf8');
    return base64 && s !== 'OK' ? r.toString('base64') : s;
  }
  if (Array.isArray(r)) return r.map((x) => encode(x, base64));
  return r;
}
