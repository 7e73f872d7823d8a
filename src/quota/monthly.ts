/** Monthly request quota, pure: a hard cap refuses, a soft one meters the overage. Months are UTC. */
export interface MonthlyLimits { monthlyRequests: number; hardCap: boolean }

/** The UTC month of `now`, as `YYYY-MM`. */
export function monthOf(now: number): string {
  return new Date(now).toISOString().slice(0, 7);
}

/** Milliseconds from `now` to the first instant of the next UTC month. */
export function msToNextMonth(now: number): number {
  const d = new Date(now);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) - now;
}

export type MonthlyResult = { ok: true; used: number; overage: number } | { ok: false; used: number; retryAfterMs: number };

/** Whether `cost` more requests fit this month, given `used` so far. */
export function checkMonthly(used: number, limits: MonthlyLimits, cost: number, now: number): MonthlyResult {
  const next = used + cost;
  if (limits.hardCap && next > limits.monthlyRequests) return { ok: false, used, retryAfterMs: msToNextMonth(now) };
  return { ok: true, used: next, overage: Math.max(0, next - limits.monthlyRequests) };
}
