/** The control worker's Hono environment. */
import type { RequestContextVars } from '../middleware/request-context.js';
import type { Admin } from './admin-auth.js';
import type { ControlEnv } from './env.js';
import type { ControlServices } from './services.js';

/** What a route tells the audit step about the call it served. */
export interface AuditNote {
  action: string;
  tenantId?: string | null;
  detail?: Record<string, unknown>;
  /** A read polled often (metrics): counted into one `metrics.reads` entry per window, not one entry per call. */
  summarized?: boolean;
}

export type ControlAppEnv = {
  Bindings: ControlEnv;
  Variables: RequestContextVars & { services: ControlServices; admin: Admin; audit?: AuditNote };
};
