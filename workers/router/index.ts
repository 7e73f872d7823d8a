/**
 * The edge router as deployed: the pipeline (src/router/create-tenant-router.ts, read it top to
 * bottom there) in front of the sample application, mounted through the public entry exactly as
 * any team's app would be (docs/library.md).
 */
import { createTenantRouter, routerServices, type Env, type MetricsOptions, type Services } from '../../src/index.js';
import { tracks } from '../../src/app/tracks.js';
import { me } from '../../src/app/me.js';

/** The sample app behind the router; `build` makes the isolate's services (the benchmark swaps the rate limiter); `accessLog` receives the access-log lines (console.log by default); `metrics` tunes the isolate's batching. */
export function buildRouter(build: (env: Env) => Services = routerServices, opts: { accessLog?: ((line: string) => void) | null; metrics?: MetricsOptions | false } = {}) {
  return createTenantRouter({
    routes: { '/api/v1/tracks': tracks, '/api/v1/me': me },
    services: build,
    accessLog: opts.accessLog,
    metrics: opts.metrics,
  });
}

export default buildRouter();
export { TenantGuard, CircuitBreaker, MetricsAggregator } from '../../src/index.js';
