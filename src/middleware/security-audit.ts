import { createMiddleware } from 'hono/factory';
import { AppError } from '../errors.js';
import { AUDITED_REFUSALS } from '../policy/security-audit.js';
import type { RequestContextVars } from './request-context.js';
import type { ServicesVars } from './services.js';
import type { TenantVars } from './resolve-tenant.js';

/** After the pipeline answers, sends audited refusals (tenant mismatch, residency) to the audit log in the background. */
export const securityAudit = () =>
  createMiddleware<{ Variables: RequestContextVars & ServicesVars & Partial<TenantVars> }>(async function securityAudit(c, next) {
    await next();
    const err = c.error;
    if (!(err instanceof AppError) || !AUDITED_REFUSALS.has(err.code)) return;
    const pending = c.get('services').audit.record({
      code: err.code, tenantId: c.get('tenant')?.id ?? null, requestId: c.get('requestId'),
      clientIp: c.get('runtime').clientIp, host: c.req.header('host') ?? null,
    });
    if (pending) c.executionCtx.waitUntil(pending);
  });
