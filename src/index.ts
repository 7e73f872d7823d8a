/**
 * The public entry: put your Hono app behind the tenant router.
 *
 *   import { createTenantRouter, type TenantRouterEnv } from 'edge-tenant-router';
 *   export default createTenantRouter({ routes: { '/api/v1/notes': notes } });
 *   export { TenantGuard, CircuitBreaker, MetricsAggregator } from 'edge-tenant-router';
 *
 * See docs/library.md. Everything else under src/ is the router's own and may change.
 */
export { createTenantRouter } from './router/create-tenant-router.js';
export type { TenantRouterEnv, TenantRouterOptions, TenantRoutes } from './router/options.js';
export { defaultWeight } from './router/route-table.js';
export type { FailMode, FailModes, RouteWeight, WeightMethod, Weights } from './router/route-table.js';
export type { AppEnv } from './app-env.js';

// The Durable Object classes the router's bindings name (TENANT_GUARD, CIRCUIT_BREAKER, METRICS_AGGREGATOR): a
// Worker built on the router re-exports them from its entry.
export { TenantGuard } from './quota/tenant-guard.js';
export { CircuitBreaker } from './breaker/circuit-breaker.js';
export { MetricsAggregator } from './metrics/aggregator.js';
export type { MetricsOptions } from './metrics/recorder.js';

// The isolate's services, for a caller that swaps one (a test's limiter, a benchmark's).
export { routerServices } from './services.js';
export type { Services } from './services.js';
export type { RateLimiter } from './quota/rate-limiter.js';

// What handlers see on c.var, and the one error shape they answer with.
export type { Env } from './env.js';
export type { Tenant, Tier, Isolation } from './tenancy/tenant.js';
export type { TenantDb } from './data/tenant-db.js';
export type { Identity } from './auth/token-verifier.js';
export type { TenantCrypto } from './tenant-keys/tenant-crypto.js';
export { AppError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { validate } from './app/validate.js';
export { methodNotAllowed, requireJson } from './app/http.js';
