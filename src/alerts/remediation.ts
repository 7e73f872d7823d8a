/**
 * Remediation per tier: what an alert suggests (pure), and applying it once an operator confirms
 * (POST /admin/v1/alerts/{id}/remediate) through the tenant-change paths every admin change takes
 * (a conditional update, the version bump, the routers' cache invalidation through the outbox).
 * Nothing is ever applied by the scheduled run itself.
 *
 * Suggested only for the abuse-shaped anomalies (credential stuffing, request-rate spikes, a
 * flood of 429s): a FREE tenant is suspended, a STANDARD or PREMIUM one gets a quarter of its
 * rate and burst; contract tiers (ENTERPRISE and above) get no suggestion: someone calls them.
 */
import { AppError } from '../errors.js';
import { setSuspended } from '../control/lifecycle.js';
import { commitAndInvalidate } from '../control/outbox.js';
import { toColumns } from '../control/limits.js';
import type { ControlServices } from '../control/services.js';
import { lookupKeys } from '../control/tenant-repo.js';
import type { TenantView } from '../control/schemas.js';
import type { RuleName } from './rules.js';

export type Remediation =
  | { action: 'suspend'; params: Record<string, never>; state: RemediationState; appliedAt?: string; appliedBy?: string }
  | { action: 'tighten_rate'; params: { ratePerMinute: number; burst: number }; state: RemediationState; appliedAt?: string; appliedBy?: string };
export type RemediationState = 'suggested' | 'applying' | 'applied';

/** What remediation needs of a tenant: its tier's built-in root and its effective rate and burst. */
export interface TenantTerms { tierRoot: string | null; ratePerMinute: number; burst: number }

const ABUSE: ReadonlySet<RuleName> = new Set(['anomaly_auth_failures', 'anomaly_request_rate', 'anomaly_rate_limited']);
const TIGHTEN_SHARE = 0.25;

/** The remediation an alert of `rule` suggests for a tenant on these terms, or null. */
export function suggestRemediation(rule: RuleName, t: TenantTerms | null): Remediation | null {
  if (!t || !ABUSE.has(rule)) return null;
  if (t.tierRoot === 'FREE') return { action: 'suspend', params: {}, state: 'suggested' };
  if (t.tierRoot === 'STANDARD' || t.tierRoot === 'PREMIUM') {
    return {
      action: 'tighten_rate', state: 'suggested',
      params: { ratePerMinute: Math.max(1, Math.floor(t.ratePerMinute * TIGHTEN_SHARE)), burst: Math.max(1, Math.floor(t.burst * TIGHTEN_SHARE)) },
    };
  }
  return null;
}

/** Applies `r` to tenant `t` (the caller holds the alert's claim). */
export async function applyRemediation(s: ControlServices, t: TenantView, r: Remediation): Promise<void> {
  if (r.action === 'suspend') return setSuspended(s, t, true);
  // Merged into the tenant's overrides (its other overrides stay), conditional on the version read.
  const [changed] = await commitAndInvalidate(s, [s.sql.query(
    `UPDATE tenants SET overrides = overrides || $2::jsonb, version = version + 1, updated_at = now()
      WHERE id = $1 AND version = $3 AND status IN ('active', 'suspended') RETURNING version`,
    [t.id, JSON.stringify(toColumns({ ratePerMinute: r.params.ratePerMinute, burst: r.params.burst })), t.version])], lookupKeys(t)) as unknown[][];
  if (!changed || changed.length === 0) throw new AppError(409, 'INVALID_STATE', 'the tenant changed meanwhile: read the alert and confirm again');
}
