/**
 * Per-route settings of a tenant router, by path prefix: how many quota units a request costs
 * (its weight) and what happens when the quota guard cannot be asked (its fail mode). Pure:
 * tables are checked once, when the router is made (a typo fails at start-up, not on traffic),
 * and a request's path is matched against them by the longest prefix that ends at a segment
 * boundary (`/api/v1/notes` covers `/api/v1/notes` and `/api/v1/notes/42`, not `/api/v1/notes2`).
 */
import type { Context } from 'hono';

export type FailMode = 'open' | 'closed';
export const FAIL_MODES: readonly FailMode[] = ['open', 'closed'];

/** Methods a weight table may name; `*` is every other method. */
export const WEIGHT_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', '*'] as const;
export type WeightMethod = (typeof WEIGHT_METHODS)[number];

/** A weight for every method of a prefix, or one per method (methods not named get the default). */
export type RouteWeight = number | Partial<Record<WeightMethod, number>>;
/** Units a request costs: a function of the request, or a table of path prefix → weight. */
export type Weights = ((c: Context) => number) | Record<string, RouteWeight>;
/** A fail mode per route: a function (undefined: the tier decides), or a table of path prefix → mode. */
export type FailModes = ((c: Context) => FailMode | undefined) | Record<string, FailMode>;

/** The default weight: reads cost one unit, writes two (they hold a transaction and a row lock). */
export const defaultWeight = (method: string): number => (method === 'GET' || method === 'HEAD' ? 1 : 2);

/** Throws unless `prefix` is a route prefix: starts with `/`, no trailing `/` (but `/` itself), no query, no pattern. */
export function checkPrefix(prefix: string, what: string): string {
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(prefix) || (prefix.length > 1 && prefix.endsWith('/')) || prefix.includes('//')) {
    throw new Error(`${what}: "${prefix}" is not a route prefix (like /api/v1/notes: starts with /, no trailing /, no pattern)`);
  }
  return prefix;
}

/** Whether `path` is `prefix` or below it. */
export const underPrefix = (path: string, prefix: string): boolean =>
  prefix === '/' || path === prefix || path.startsWith(`${prefix}/`);

/** The longest prefix of `prefixes` (sorted longest first) that `path` is under, or undefined. */
export const matchPrefix = (sorted: readonly string[], path: string): string | undefined =>
  sorted.find((p) => underPrefix(path, p));

const byLength = (a: string, b: string) => b.length - a.length;

function checkUnits(n: unknown, what: string): number {
  if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > 1_000) throw new Error(`${what}: weight must be an integer from 1 to 1000, got ${String(n)}`);
  return n as number;
}

/** A weight function from `weights` (default: reads 1, writes 2); a bad table throws here. */
export function weightFunction(weights: Weights | undefined): (c: Context) => number {
  if (weights === undefined) return (c) => defaultWeight(c.req.method);
  if (typeof weights === 'function') return weights;
  const table = new Map<string, (method: string) => number>();
  for (const [prefix, w] of Object.entries(weights)) {
    checkPrefix(prefix, 'weights');
    if (typeof w === 'number') {
      const units = checkUnits(w, `weights["${prefix}"]`);
      table.set(prefix, () => units);
      continue;
    }
    if (!w || typeof w !== 'object') throw new Error(`weights["${prefix}"]: a number or a table of methods`);
    const perMethod = new Map<string, number>();
    for (const [method, n] of Object.entries(w)) {
      if (!(WEIGHT_METHODS as readonly string[]).includes(method)) throw new Error(`weights["${prefix}"]: unknown method ${method} (one of ${WEIGHT_METHODS.join(', ')})`);
      perMethod.set(method, checkUnits(n, `weights["${prefix}"].${method}`));
    }
    table.set(prefix, (method) => perMethod.get(method) ?? perMethod.get('*') ?? defaultWeight(method));
  }
  const sorted = [...table.keys()].sort(byLength);
  return (c) => {
    const prefix = matchPrefix(sorted, c.req.path);
    return prefix ? table.get(prefix)!(c.req.method) : defaultWeight(c.req.method);
  };
}

/** A per-route fail-mode function from `modes` (none: the tier decides everywhere); a bad table throws here. */
export function failModeFunction(modes: FailModes | undefined): ((c: Context) => FailMode | undefined) | undefined {
  if (modes === undefined || typeof modes === 'function') return modes;
  const table = new Map<string, FailMode>();
  for (const [prefix, mode] of Object.entries(modes)) {
    checkPrefix(prefix, 'failModes');
    if (!FAIL_MODES.includes(mode)) throw new Error(`failModes["${prefix}"]: "${String(mode)}" is not open or closed`);
    table.set(prefix, mode);
  }
  const sorted = [...table.keys()].sort(byLength);
  return (c) => {
    const prefix = matchPrefix(sorted, c.req.path);
    return prefix ? table.get(prefix) : undefined;
  };
}
