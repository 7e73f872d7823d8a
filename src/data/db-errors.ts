/**
 * Database failures as refusals. Nothing of the driver's message, SQL or connection string
 * reaches the client: an unreachable database is 503 UPSTREAM_UNAVAILABLE, a constraint the
 * validators missed is 400/409, anything else a bare 500 that is logged.
 */
import { AppError } from '../errors.js';

/** Maps an error from `@neondatabase/serverless` to an AppError. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    if (code === '23505') return new AppError(409, 'BAD_REQUEST', 'conflicts with an existing record');
    if (code.startsWith('22') || code.startsWith('23')) return new AppError(400, 'BAD_REQUEST', 'value rejected by the database');
    if (code.startsWith('08') || code.startsWith('57') || code === '53300' || code === '53400') return unavailable();
    console.error(JSON.stringify({ level: 'error', msg: 'database error', code }));
    return new AppError(500, 'INTERNAL', 'internal error');
  }
  // No SQLSTATE: the endpoint or the network failed before PostgreSQL answered.
  console.error(JSON.stringify({ level: 'error', msg: 'database unreachable', error: String((err as Error)?.message ?? err).slice(0, 200) }));
  return unavailable();
}

function unavailable(): AppError {
  return new AppError(503, 'UPSTREAM_UNAVAILABLE', 'tenant database is unavailable', { 'Retry-After': '5' });
}
