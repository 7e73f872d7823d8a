/**
 * Owner-side WebSocket connections (`Client` of `@neondatabase/serverless`) for provisioning and
 * migrations, bounded in time: a connect timeout (a paused or unreachable compute accepts TCP
 * and then says nothing), a session statement_timeout on the server, and a client-side query
 * timeout a little longer, for a server that cannot even enforce its own.
 */
import { Client } from '@neondatabase/serverless';

export interface ClientLimits {
  /** Connection and authentication (default 10 s). */
  connectTimeoutMs?: number;
  /** Each statement, enforced by the server; the client gives up 5 s later (default 120 s). */
  statementTimeoutMs?: number;
}

const DEFAULTS: Required<ClientLimits> = { connectTimeoutMs: 10_000, statementTimeoutMs: 120_000 };
/** How long ending a connection may take before it is abandoned. */
const END_MS = 2_000;

/** Runs `fn` with a connected client, always ending it. */
export async function withClient<T>(url: string, fn: (c: Client) => Promise<T>, limits: ClientLimits = {}): Promise<T> {
  const { connectTimeoutMs, statementTimeoutMs } = { ...DEFAULTS, ...limits };
  const c = new Client({ connectionString: url, query_timeout: statementTimeoutMs + 5_000 });
  c.on('error', () => {});
  try {
    await within(c.connect(), connectTimeoutMs, `connecting timed out after ${connectTimeoutMs} ms`);
    await c.query(`SET statement_timeout = ${Math.max(1, Math.trunc(statementTimeoutMs))}`);
    return await fn(c);
  } finally {
    await within(c.end(), END_MS, 'end').catch(() => {});
  }
}

/** Whether `sql` (one bound parameter) returns a row. */
export async function exists(c: Client, sql: string, value: string): Promise<boolean> {
  return (await c.query(sql, [value])).rowCount! > 0;
}

/** Runs `fn` in one transaction on `c`, opened by `begin` (a constant statement, e.g. a read-only snapshot's). */
export async function inTransaction<T>(c: Client, fn: () => Promise<T>, begin = 'BEGIN'): Promise<T> {
  await c.query(begin);
  try {
    const out = await fn();
    await c.query('COMMIT');
    return out;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

function within<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(message)), ms); });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
