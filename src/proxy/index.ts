/** Proxy mode (docs/proxy.md): forward a tenant's requests to its region-pinned origin with a signed tenant context. */
export { proxy } from './middleware.js';
export { contextJwks } from './jwks.js';
export { CONTEXT_HEADER, CONTEXT_TYP, CONTEXT_TTL_SECONDS, type TenantContext } from './context-signer.js';
