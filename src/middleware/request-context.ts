import { createMiddleware } from 'hono/factory';
import { readRuntime, type RuntimeInfo } from '../runtime.js';

export interface RequestContextVars { requestId: string; runtime: RuntimeInfo }

const INCOMING_ID = /^[A-Za-z0-9._:-]{8,128}$/;

/** Assigns the request id (the edge's `CF-Ray` or a well-formed `X-Request-Id`, else a new UUID) and runtime facts. */
export const requestContext = () => createMiddleware<{ Variables: RequestContextVars }>(async function requestContext(c, next) {
  const incoming = c.req.header('x-request-id') ?? c.req.header('cf-ray');
  const requestId = incoming && INCOMING_ID.test(incoming) ? incoming : crypto.randomUUID();
  c.set('requestId', requestId);
  c.set('runtime', readRuntime(c.req.raw));
  c.header('X-Request-Id', requestId);
  await next();
});
