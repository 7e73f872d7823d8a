/**
 * Calls to Neon's management API with the retry policy Neon asks for: 429 (rate limited) and
 * 423 (project locked by a running operation) are retried, honouring Retry-After; anything else
 * fails at once as a NeonApiError, whose message carries the status and Neon's message but never
 * the axios error itself (its config holds the Authorization header).
 */

/** A refused or failed Neon API call; the message holds no credential. */
export class NeonApiError extends Error {
  override readonly name = 'NeonApiError';
  constructor(readonly call: string, readonly status: number | null, message: string) {
    super(`Neon API ${call} failed${status ? ` (HTTP ${status})` : ''}: ${message}`);
  }
}

interface HttpFailure { status: number; data?: unknown; headers?: unknown }

/** Runs one API call, retrying 429 and 423 up to `maxRetries` times; the response's data. */
export async function callNeon<T>(name: string, fn: () => Promise<{ data: T }>, maxRetries: number, sleep: (ms: number) => Promise<void>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return (await fn()).data;
    } catch (err) {
      const res = (err as { response?: HttpFailure }).response;
      if (res && (res.status === 429 || res.status === 423) && attempt < maxRetries) {
        await sleep(backoff(attempt, header(res, 'retry-after')));
        continue;
      }
      if (!res) throw new NeonApiError(name, null, err instanceof Error ? err.message : 'request failed');
      const body = res.data as { message?: unknown } | undefined;
      const message = typeof body?.message === 'string' ? body.message.slice(0, 200) : 'no error message';
      throw new NeonApiError(name, res.status, message);
    }
  }
}

/** Whether `err` is Neon's 404 (the project or operation is gone). */
export const isNotFound = (err: unknown): boolean => err instanceof NeonApiError && err.status === 404;

/** Milliseconds to wait before retry `attempt`: `Retry-After` when given, else exponential with jitter. */
export function backoff(attempt: number, retryAfter: string | null): number {
  if (retryAfter !== null && retryAfter.trim() !== '') {
    const seconds = Number(retryAfter);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
    if (Number.isFinite(ms)) return Math.min(Math.max(ms, 0), 60_000);
  }
  const base = Math.min(500 * 2 ** attempt, 30_000);
  return base / 2 + Math.random() * (base / 2);
}

function header(res: HttpFailure, name: string): string | null {
  const h = res.headers as { get?: (n: string) => unknown; [k: string]: unknown } | undefined;
  const v = typeof h?.get === 'function' ? h.get(name) : h?.[name];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null;
}

const DONE = new Set(['finished', 'skipped', 'cancelled']);
const FAILED = new Set(['failed', 'error']);

/** What an operation is, as far as waiting goes. */
export interface PolledOperation { id: string; action: string; status: string; error?: string }

/** Polls each operation (through `get`) until it is done; a failed one, or one still running after `maxPolls`, is an error. */
export async function waitForOperations<O extends PolledOperation>(get: (id: string) => Promise<O>, operations: O[],
  opts: { maxPolls: number; pollIntervalMs: number; sleep: (ms: number) => Promise<void> }): Promise<void> {
  for (let op of operations) {
    for (let polls = 0; !DONE.has(op.status) && !FAILED.has(op.status); polls++) {
      if (polls >= opts.maxPolls) throw new Error(`Neon operation ${op.action} (${op.id}) still ${op.status} after ${polls} polls`);
      await opts.sleep(opts.pollIntervalMs);
      op = await get(op.id);
    }
    if (FAILED.has(op.status)) throw new Error(`Neon operation ${op.action} (${op.id}) ${op.status}: ${(op.error ?? 'no detail').slice(0, 200)}`);
  }
}
