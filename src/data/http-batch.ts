/**
 * One non-interactive tenant transaction over SQL-over-HTTP (`neon()`): the setup (setup.ts), the
 * statements, each followed by the isolation check (`router.verify`), travel in one
 * `transaction()` batch, one HTTP request, which the endpoint runs between BEGIN and COMMIT
 * (ROLLBACK on the first error). A statement that changed the tenant's settings is caught before
 * the next one runs, and nothing of the batch is kept or returned. The fetch is aborted after
 * `timeoutMs`.
 */
import { neon } from '@neondatabase/serverless';
import { toAppError } from './db-errors.js';
import type { TransactionOptions } from './interactive.js';

type Sql = { text: string; params: unknown[] };

/** Each statement's rows, in order (the setup's and the checks' left out). */
export async function httpBatch(url: string, setup: Sql, statements: readonly { text: string; params?: unknown[] }[],
  options: TransactionOptions, timeoutMs: number, verify: Sql): Promise<unknown[][]> {
  const sql = neon(url);
  const check = () => sql.query(verify.text, verify.params);
  try {
    const [, ...results] = await sql.transaction([sql.query(setup.text, setup.params), ...statements.flatMap((s) => [sql.query(s.text, s.params ?? []), check()])],
      { isolationLevel: options.isolationLevel, readOnly: options.readOnly, fetchOptions: { signal: AbortSignal.timeout(timeoutMs) } });
    return (results as unknown[][]).filter((_, k) => k % 2 === 0);
  } catch (err) {
    throw toAppError(err, { readOnly: options.readOnly });
  }
}
