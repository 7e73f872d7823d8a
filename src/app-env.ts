/** The router's Hono environment, assembled from what each middleware declares it sets. */
import type { Env } from './env.js';
import type { RequestContextVars } from './middleware/request-context.js';
import type { ServicesVars } from './middleware/services.js';
import type { TenantVars } from './middleware/resolve-tenant.js';
import type { AuthVars } from './middleware/authenticate.js';
import type { DbVars } from './middleware/breaker.js';
import type { ObserveVars } from './middleware/observe.js';
import type { BodyVars } from './middleware/request-body-limit.js';
import type { CryptoVars } from './middleware/tenant-crypto.js';

export type AppEnv = {
  Bindings: Env;
  Variables: RequestContextVars & ObserveVars & ServicesVars & TenantVars & AuthVars & DbVars & BodyVars & CryptoVars;
};
