/** What a caller gives `createTenantRouter`, and how its routes are mounted behind the pipeline. */
import type { Hono } from 'hono';
import type { AppEnv } from '../app-env.js';
import type { Env } from '../env.js';
import type { Services } from '../services.js';
import type { MetricsOptions } from '../metrics/recorder.js';
import { checkPrefix, type FailModes, type Weights } from './route-table.js';

/** The Hono environment the caller's routes run in: the router's bindings and every variable the pipeline sets. */
export type TenantRouterEnv = AppEnv;

/**
 * The caller's routes: a function that adds them to the router (after the pipeline), or a map of
 * path prefix → Hono sub-app (mounted with `app.route(prefix, subApp)`; its schema and base path are its own).
 */
export type TenantRoutes = ((app: Hono<TenantRouterEnv>) => void) | Record<string, Hono<any, any, any>>;

export interface TenantRouterOptions {
  /** The application behind the router. */
  routes: TenantRoutes;
  /** Quota units per request: a function, or a table of path prefix → units (per method or for all). Default: GET/HEAD 1, others 2. */
  weights?: Weights;
  /** Fail mode per path prefix when the quota guard cannot be asked (`open` serves, `closed` is 503); routes not named follow the tenant's tier. */
  failModes?: FailModes;
  /** Builds the isolate's services from the env (default: `routerServices`); tests and benchmarks swap parts. */
  services?: (env: Env) => Services;
  /** Receives each access-log line (default: console.log); null: no access log. */
  accessLog?: ((line: string) => void) | null;
  /** How the isolate batches its metrics for the aggregator (docs/metrics.md); false: no metrics. */
  metrics?: MetricsOptions | false;
}

/** Paths the router answers itself, before any tenant is known. */
const RESERVED = ['/healthz', '/readyz'];

/** Adds `routes` to `app`; a prefix that is not one, or that shadows the router's own paths, throws. */
export function mountRoutes(app: Hono<TenantRouterEnv>, routes: TenantRoutes): void {
  if (typeof routes === 'function') { routes(app); return; }
  if (!routes || typeof routes !== 'object' || Object.keys(routes).length === 0) {
    throw new Error('createTenantRouter: routes must be a function (app) => void or a map of prefix → Hono app');
  }
  for (const [prefix, sub] of Object.entries(routes)) {
    checkPrefix(prefix, 'routes');
    if (RESERVED.some((r) => prefix === r || prefix.startsWith(`${r}/`))) {
      throw new Error(`routes: "${prefix}" would shadow the router's own ${RESERVED.join(' and ')}`);
    }
    if (!sub || typeof (sub as { fetch?: unknown }).fetch !== 'function') throw new Error(`routes["${prefix}"]: not a Hono app`);
    app.route(prefix, sub);
  }
}
