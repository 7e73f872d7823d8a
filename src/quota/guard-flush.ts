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

/** Months whose admitted total differs from what was last flushed, with that total. */
export function dirtyMonths(s: GuardState): [string, number][] {
  return Object.entries(s.usage).filter(([, u]) => u.admitted !== u.flushed).map(([m, u]) => [m, u.admitted]);
}

/** Records `totals` as flushed; months flushed and two months old are forgotten (no grant is that old). */
export function markFlushed(s: GuardState, totals: [string, number][], currentMonth: string): void {
  for (const [month, n] of totals) { const u = s.usage[month]; if (u) u.flushed = n; }
  const [y, m] = currentMonth.split('-').map(Number) as [number, number];
  const previous = m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
  for (const [month, u] of Object.entries(s.usage)) if (month < previous && u.admitted === u.flushed) delete s.usage[month];
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
