/**
 * One non-interactive tenant transaction over SQL-over-HTTP (`neon()`): the setup (setup.ts) and
 * the statements travel in one `transaction()` batch, one HTTP request, which the endpoint runs
 * between BEGIN and COMMIT (ROLLBACK on the first error). The fetch is aborted after `timeoutMs`.
 */
import { neon } from '@neondatabase/serverless';
import { toAppError } from './db-errors.js';
import type { TransactionOptions } from './interactive.js';

/** Each statement's rows, in order (the setup's left out). */
export async function httpBatch(url: string, setup: { text: string; params: unknown[] }, statements: readonly { text: string; params?: unknown[] }[],
  options: TransactionOptions, timeoutMs: number): Promise<unknown[][]> {
  const sql = neon(url);
  try {
    const [, ...results] = await sql.transaction([sql.query(setup.text, setup.params), ...statements.map((s) => sql.query(s.text, s.params ?? []))],
      { isolationLevel: options.isolationLevel, readOnly: options.readOnly, fetchOptions: { signal: AbortSignal.timeout(timeoutMs) } });
    return results as unknown[][];
  } catch (err) {
    throw toAppError(err, { readOnly: options.readOnly });
  }
}
