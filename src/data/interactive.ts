/**
 * One interactive tenant transaction over the driver's WebSocket `Client`, made for the call and
 * always closed before it returns (Workers may not carry a connection from one request to the
 * next). BEGIN, then the tenant setup (setup.ts: router.enter and transaction-local settings,
 * with idle_in_transaction_session_timeout), then the application's statements, then COMMIT, or
 * ROLLBACK when the callback throws.
 *
 * Bounded in time on both sides: one deadline for the whole call (connection included) closes the
 * connection when it passes, failing what is in flight; the server refuses to start after it,
 * stops any statement at it and ends a session left idle inside the transaction as long.
 *
 * Isolation lasts for the whole transaction: the statement guard keeps transaction control and
 * session changes out, and the server's own word is checked after every statement (the
 * transaction status of its ReadyForQuery message): a statement that left the transaction block
 * closes the connection and fails the call, so nothing runs after it without the tenant's settings.
 * Before COMMIT, `router.verify` checks that the tenant setting, the role and the search path are
 * still those the setup applied; when a statement changed them the call fails and nothing is kept.
 */
import { Client } from '@neondatabase/serverless';
import { AppError } from '../errors.js';
import { OwnStatementFailure, StatementRefused, toAppError } from './db-errors.js';
import { statementRefusal } from './statement-guard.js';

/** The handle an interactive transaction's callback gets. */
export interface TenantTx {
  /** Runs one statement inside the transaction; rows as objects. */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

export type IsolationLevel = 'ReadCommitted' | 'RepeatableRead' | 'Serializable';

export interface TransactionOptions {
  isolationLevel?: IsolationLevel;
  readOnly?: boolean;
}

export interface InteractiveInput {
  url: string;
  setup: { text: string; params: unknown[] };
  /** The isolation check (setup.ts `tenantVerify`), run after the callback, before COMMIT. */
  verify?: { text: string; params: unknown[] };
  /** Milliseconds the whole call may take, connecting included. */
  totalMs: number;
  options?: TransactionOptions;
  /** The statement guard (statement-guard.ts); replaceable so tests can prove the server-side check alone. */
  guard?: (text: string) => string | null;
}

const LEVELS: Record<IsolationLevel, string> = { ReadCommitted: 'READ COMMITTED', RepeatableRead: 'REPEATABLE READ', Serializable: 'SERIALIZABLE' };
/** Longest the closing handshake may take before the connection is abandoned to the runtime. */
const END_MS = 1_000;

/** The BEGIN statement for `o` (constants only). */
export function beginStatement(o: TransactionOptions = {}): string {
  if (o.isolationLevel !== undefined && !Object.hasOwn(LEVELS, o.isolationLevel)) throw new StatementRefused(`unknown isolation level ${String(o.isolationLevel)}`);
  return `BEGIN${o.isolationLevel ? ` ISOLATION LEVEL ${LEVELS[o.isolationLevel]}` : ''}${o.readOnly ? ' READ ONLY' : ''}`;
}

/** Runs `fn` in one interactive transaction; its value once committed. */
export async function interactive<R>(i: InteractiveInput, fn: (tx: TenantTx) => Promise<R>): Promise<R> {
  const begin = beginStatement(i.options);
  const client = new Client({ connectionString: i.url });
  client.on('error', () => {});
  // 'I' idle (no transaction), 'T' in a transaction, 'E' in a failed one: PostgreSQL's own word.
  let status = '';
  (client.connection as unknown as { on(e: string, f: (m: { status: string }) => void): void })
    .on('readyForQuery', (m) => { status = m.status; });
  // `accepting`: the callback's statements may still be sent; `open`: the connection is not being closed.
  let accepting = true;
  let open = true;
  let ended: Promise<unknown> | undefined;
  const close = () => { accepting = open = false; ended ??= client.end().catch(() => {}); return ended; };
  let expire!: (err: AppError) => void;
  const expired = new Promise<never>((_, reject) => { expire = reject; });
  expired.catch(() => {});
  // Whether the connection, BEGIN and the isolation set-up were done: a deadline that passes after
  // that was spent by the tenant's own callback, not by an unavailable database.
  let entered = false;
  const timer = setTimeout(() => {
    void close();
    expire(entered
      ? new OwnStatementFailure('tenant database transaction timed out')
      : new AppError(503, 'UPSTREAM_UNAVAILABLE', 'tenant database transaction timed out', { 'Retry-After': '5' }));
  }, i.totalMs);
  const driver = <T>(p: Promise<T>) => Promise.race([p, expired]).catch((err: unknown) => { throw toAppError(err, { readOnly: i.options?.readOnly }); });
  let failure: AppError | undefined;

  const tx: TenantTx = {
    query: async <T>(text: string, params: unknown[] = []) => {
      if (!accepting) throw new StatementRefused('statement after the transaction ended');
      const why = (i.guard ?? statementRefusal)(text);
      if (why) throw new StatementRefused(why);
      try {
        const r = await driver(client.query(text, params));
        if (status !== 'T' && status !== 'E') {
          void close();
          throw new StatementRefused('a statement ended the transaction');
        }
        return r.rows as T[];
      } catch (err) {
        if (err instanceof AppError && !(err instanceof StatementRefused)) failure ??= err;
        throw err;
      }
    },
  };

  try {
    await driver(client.connect());
    await driver(client.query(begin));
    await driver(client.query(i.setup.text, i.setup.params));
    entered = true;
    const run = fn(tx);
    run.catch(() => {});
    const out = await Promise.race([run, expired]);
    accepting = false;
    if (!open) throw new StatementRefused('a statement ended the transaction');
    // A statement of the callback failed (and was caught): the server has aborted the transaction,
    // whatever the last ReadyForQuery said (its error arrives before it), so nothing more is sent
    // but the ROLLBACK below, and the call fails with that statement's own error.
    if (failure) throw failure;
    // The server's word on the isolation settings: a statement that changed them (the tenant, the
    // role, the search path) fails here (TR005), and the transaction is rolled back below. A failed
    // transaction ('E') commits nothing anyway: its COMMIT answers ROLLBACK, and says why.
    if (i.verify && status === 'T') await driver(client.query(i.verify.text, i.verify.params));
    // A callback that caught a failed statement and carried on must not read as committed: the
    // server answers COMMIT of a failed transaction with ROLLBACK (an error is reported before its
    // ReadyForQuery, so the status may not say 'E' yet).
    const done = await driver(client.query('COMMIT'));
    if (done.command !== 'COMMIT') throw failure ?? new StatementRefused('the transaction failed');
    return out;
  } catch (err) {
    accepting = false;
    if (open && (status === 'T' || status === 'E')) {
      await Promise.race([client.query('ROLLBACK'), expired]).catch(() => {});
    }
    throw err;
  } finally {
    clearTimeout(timer);
    await Promise.race([close(), new Promise((r) => setTimeout(r, END_MS))]);
  }
}
