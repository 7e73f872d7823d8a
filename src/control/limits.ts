/** Pure conversions between the API's camelCase limits and the tiers table's snake_case columns. */
import { LIMIT_COLUMNS, type Limits } from './schemas.js';

const FROM_COLUMN = Object.fromEntries(Object.entries(LIMIT_COLUMNS).map(([k, v]) => [v, k])) as Record<string, keyof Limits>;

/** `{ratePerMinute: 5}` → `{rate_per_minute: 5}` (the shape stored in tenants.overrides). */
export function toColumns(limits: Partial<Limits>): Record<string, number | boolean | string> {
  const out: Record<string, number | boolean | string> = {};
  for (const [k, v] of Object.entries(limits)) if (v !== undefined) out[LIMIT_COLUMNS[k as keyof Limits]] = v;
  return out;
}

/** `{rate_per_minute: 5}` → `{ratePerMinute: 5}`; unknown keys are dropped. */
export function fromColumns(row: Record<string, unknown>): Partial<Limits> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (FROM_COLUMN[k]) out[FROM_COLUMN[k]] = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  return out as Partial<Limits>;
}
