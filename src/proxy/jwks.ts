import type { MiddlewareHandler } from 'hono';
import { classifyHost, normalizeHost } from '../tenancy/host.js';
import type { ServicesVars } from '../middleware/services.js';

/**
 * `GET /.well-known/jwks.json` on the API host: the public keys of the tenant contexts
 * (CONTEXT_SIGNING_KEY, every key of the ring, current first). No authentication: they are public
 * keys, and origins fetch them. Cacheable for five minutes: an origin meeting an unknown `kid`
 * fetches the set again (jose's createRemoteJWKSet does), so a rotated key verifies at once. On any
 * other host the path belongs to the tenant's app, and the request goes on.
 */
export const contextJwks = (): MiddlewareHandler<{ Variables: ServicesVars }> => async function contextJwks(c, next) {
  const host = normalizeHost(c.req.header('host'));
  if (!host || classifyHost(host, c.var.services.config.baseDomains).kind !== 'api') return next();
  const signer = c.var.services.proxy.signer;
  c.header('Cache-Control', 'public, max-age=300');
  return c.json(signer ? signer.jwks() : { keys: [] }, 200, { 'Content-Type': 'application/jwk-set+json' });
};
