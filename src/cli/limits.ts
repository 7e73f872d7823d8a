/**
 * `--set key=value` and `--unset key` for a template's or a tenant's limits and prices (pure):
 * values typed as the API expects them, an unknown key refused with the nearest known one.
 */
import type { Limits, Template } from '../control/schemas.js';
import { UsageError } from './command.js';
import { nearest } from './suggest.js';

type Pricing = Template['pricing'];
type Kind = 'count' | 'cents' | 'boolean' | 'failMode';

// Typed by the API's own Limits: a limit added there fails to compile here until it is listed.
const LIMITS: Record<keyof Limits, Kind> = {
  ratePerMinute: 'count', burst: 'count', monthlyRequests: 'count', hardCap: 'boolean', concurrency: 'count',
  failMode: 'failMode', breakerFailures: 'count', breakerWindowSeconds: 'count', breakerCooldownSeconds: 'count',
  storageMb: 'count', connectionLimit: 'count', maxBodyBytes: 'count',
};
const PRICING: Record<keyof Pricing, Kind> = { monthlyCents: 'cents', overageCentsPer1k: 'cents' };

/** The limit keys, as the API names them. */
export const LIMIT_KEYS = Object.keys(LIMITS) as (keyof Limits)[];
/** The price keys, as the API names them. */
export const PRICE_KEYS = Object.keys(PRICING) as (keyof Pricing)[];

/** What `--set` assigns: limits, and for templates prices. */
export interface Assignments { limits: Partial<Limits>; pricing: Partial<Pricing> }

function known(key: string, keys: readonly string[], what: string): void {
  if (keys.includes(key)) return;
  const meant = nearest(key, keys);
  throw new UsageError(`unknown ${what} "${key}"${meant ? `. Did you mean "${meant}"?` : ` (one of ${keys.join(', ')})`}`);
}

function typed(key: string, kind: Kind, text: string): number | boolean | string {
  if (kind === 'boolean') {
    if (text === 'true' || text === 'false') return text === 'true';
    throw new UsageError(`${key} must be true or false`);
  }
  if (kind === 'failMode') {
    if (text === 'open' || text === 'closed') return text;
    throw new UsageError(`${key} must be open or closed`);
  }
  const n = Number(text.replace(/_/g, ''));
  if (!/^\d[\d_]*$/.test(text) || !Number.isSafeInteger(n) || (kind === 'count' && n < 1)) {
    throw new UsageError(`${key} must be ${kind === 'count' ? 'a positive integer' : 'a whole number of cents'}: ${text.slice(0, 40)}`);
  }
  return n;
}

/** `key=value` pairs as limits and (when `prices`) prices; anything else is a UsageError. */
export function parseAssignments(pairs: readonly string[], prices: boolean): Assignments {
  const out: Assignments = { limits: {}, pricing: {} };
  const keys = prices ? [...LIMIT_KEYS, ...PRICE_KEYS] : LIMIT_KEYS;
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set takes KEY=VALUE: ${pair.slice(0, 60)}`);
    const key = pair.slice(0, eq).trim();
    known(key, keys, prices ? 'limit or price' : 'limit');
    const text = pair.slice(eq + 1).trim();
    if (key in LIMITS) Object.assign(out.limits, { [key]: typed(key, LIMITS[key as keyof Limits], text) });
    else Object.assign(out.pricing, { [key]: typed(key, PRICING[key as keyof Pricing], text) });
  }
  return out;
}

/** Limit keys to remove (`--unset`), checked. */
export function parseLimitKeys(keys: readonly string[]): (keyof Limits)[] {
  for (const k of keys) known(k, LIMIT_KEYS, 'limit');
  return keys as (keyof Limits)[];
}
