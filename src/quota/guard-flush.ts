/**
 * What the TenantGuard's alarm flushes, pure: each month's absolute total for this state's
 * source (so a replayed or retried flush changes nothing), and when to try again after a failure.
 */
import type { GuardState } from './guard-state.js';

/** Flush this long after the first unflushed admission. */
export const FLUSH_MS = 10_000;
/** An idle object looks once a day whether its tenant still exists (and clears itself if not). */
export const IDLE_CHECK_MS = 24 * 3_600_000;
const RETRY_BASE_MS = 5_000;
const RETRY_CAP_MS = 5 * 60_000;

/** A month's absolute totals of one source: request units, request body bytes, response body bytes. */
export type MonthTotal = [month: string, requests: number, requestBytes?: number, responseBytes?: number];

const isDirty = (u: GuardState['usage'][string]) =>
  u.admitted !== u.flushed || (u.reqBytes ?? 0) !== (u.flushedReqBytes ?? 0) || (u.resBytes ?? 0) !== (u.flushedResBytes ?? 0);

/** Months whose totals differ from what was last flushed, with those totals. */
export function dirtyMonths(s: GuardState): MonthTotal[] {
  return Object.entries(s.usage).filter(([, u]) => isDirty(u)).map(([m, u]) => [m, u.admitted, u.reqBytes ?? 0, u.resBytes ?? 0]);
}

/** Records `totals` as flushed; months flushed and two months old are forgotten (no grant is that old). */
export function markFlushed(s: GuardState, totals: MonthTotal[], currentMonth: string): void {
  for (const [month, n, q, r] of totals) {
    const u = s.usage[month];
    if (!u) continue;
    u.flushed = n;
    u.flushedReqBytes = q ?? 0;
    u.flushedResBytes = r ?? 0;
  }
  const [y, m] = currentMonth.split('-').map(Number) as [number, number];
  const previous = m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
  for (const [month, u] of Object.entries(s.usage)) if (month < previous && !isDirty(u)) delete s.usage[month];
}

/**
 * Delay before retry number `failures` (1, 2, …): exponential from 5 s, capped at 5 min, with
 * "equal jitter" (half fixed, half random), so that after a control-database outage thousands of
 * guards do not all retry in the same second. `random` is in [0, 1).
 */
export function backoffMs(failures: number, random: number): number {
  const d = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.max(0, Math.min(failures - 1, 20)));
  return Math.round(d / 2 + (d / 2) * random);
}
