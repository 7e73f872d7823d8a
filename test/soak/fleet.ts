/**
 * The soak's tenants: every tier, strategy and region, created through the control API, with
 * what the driver knows of each (state, token, domains) and client-side pacing that keeps each
 * tenant well inside its limits (so any 429 is a refusal within limits), except one abuser.
 */
import { signPlatformToken } from '../harness/token.js';
import { adminCall } from './http.js';

/** The built-in tiers' limits (migrations/control/0001), as the driver paces them. */
export const TIERS: Record<string, { rate: number; burst: number; concurrency: number; failMode: 'open' | 'closed'; isolation: string }> = {
  FREE: { rate: 60, burst: 20, concurrency: 5, failMode: 'closed', isolation: 'row' },
  STANDARD: { rate: 600, burst: 100, concurrency: 20, failMode: 'open', isolation: 'row' },
  PREMIUM: { rate: 3000, burst: 500, concurrency: 50, failMode: 'open', isolation: 'schema' },
  ENTERPRISE: { rate: 12000, burst: 2000, concurrency: 200, failMode: 'open', isolation: 'database' },
  ENTERPRISE_PLUS: { rate: 30000, burst: 5000, concurrency: 500, failMode: 'open', isolation: 'database' },
  WHITE_LABEL: { rate: 60000, burst: 10000, concurrency: 1000, failMode: 'open', isolation: 'database' },
};

export type TenantState = 'active' | 'suspended' | 'deleted';

export interface SoakTenant {
  label: string;
  id: string;
  slug: string;
  tier: string;
  /** Tiers this tenant is patched between; pacing follows the smallest. */
  tiers: string[];
  region: string;
  residency: string | null;
  isolation: string;
  token: string;
  domains: string[];
  state: TenantState;
  /** Until then both the old and the new state are acceptable answers (the change is propagating). */
  transitionUntil: number;
  /** Client-side bucket: requests per second and its depth; in-flight cap. */
  pace: { perSec: number; depth: number; tokens: number; at: number; maxInflight: number; inflight: number };
  abuser: boolean;
  busy: boolean;
  /** Its data is being moved (row ⇄ schema): writes may be refused 503 TENANT_MIGRATING meanwhile. */
  moving?: boolean;
}

export interface Stack {
  control: { url: string; adminToken: string; postgresUrl: string };
  platform: { issuer: string; audience: string; kid: string; secret: string };
  regions: Record<string, { postgresUrl: string; adminUrl: string }>;
  faults: string;
  redis: { port: number } | null;
  upstash: { url: string; token: string } | null;
}

/** Pacing at `share` of the smallest of `tiers`' rate, burst and concurrency. */
export function paceFor(tiers: string[], share: number, now: number): SoakTenant['pace'] {
  const l = tiers.map((t) => TIERS[t]!);
  const rate = Math.min(...l.map((x) => x.rate)) / 60;
  const depth = Math.max(1, Math.floor(Math.min(...l.map((x) => x.burst)) * share));
  return { perSec: rate * share, depth, tokens: depth, at: now, maxInflight: Math.max(1, Math.min(6, Math.floor(Math.min(...l.map((x) => x.concurrency)) * share))), inflight: 0 };
}

/** Takes `cost` from the tenant's client bucket if it has it (and an in-flight slot). */
export function tryPace(t: SoakTenant, cost: number, now: number): boolean {
  const p = t.pace;
  p.tokens = Math.min(p.depth, p.tokens + ((now - p.at) / 1000) * p.perSec);
  p.at = now;
  if (p.inflight >= p.maxInflight || p.tokens < cost) return false;
  p.tokens -= cost;
  p.inflight++;
  return true;
}

/** Creates one tenant through the API (retrying while the control plane is unavailable). */
export async function createTenant(stack: Stack, spec: { label: string; slug: string; tier: string; tiers?: string[]; region: string; residency?: string | null; abuser?: boolean }, ttlSec: number): Promise<SoakTenant> {
  let created = false;
  for (let attempt = 0; ; attempt++) {
    // As the API documents it: a create that failed after the row was written (503
    // PROVISIONING_FAILED, or no answer) is finished with POST /tenants/{id}/provision, not
    // repeated (that would be 409 TENANT_EXISTS).
    const r = created
      ? await adminCall(stack.control.url, stack.control.adminToken, `/admin/v1/tenants/${spec.slug}/provision`, { method: 'POST', timeoutMs: 120_000 })
      : await adminCall(stack.control.url, stack.control.adminToken, '/admin/v1/tenants', {
        method: 'POST', json: { slug: spec.slug, tier: spec.tier, region: spec.region, ...(spec.residency ? { residency: spec.residency } : {}) }, timeoutMs: 120_000,
      });
    const code = (r.body as { error?: { code?: string } })?.error?.code;
    if (!created && (code === 'PROVISIONING_FAILED' || (attempt > 0 && code === 'TENANT_EXISTS'))) {
      created = true;
      continue;
    }
    if (r.status === 201 || (created && r.status === 200)) {
      const v = r.body as { id: string; isolation: string };
      const tiers = spec.tiers ?? [spec.tier];
      return {
        label: spec.label, id: v.id, slug: spec.slug, tier: spec.tier, tiers, region: spec.region, residency: spec.residency ?? null,
        isolation: v.isolation, token: signPlatformToken(stack.platform, v.id, ttlSec), domains: [], state: 'active', transitionUntil: 0,
        pace: paceFor(spec.abuser ? ['FREE'] : tiers, spec.abuser ? 10 : 0.4, Date.now()), abuser: spec.abuser ?? false, busy: false,
      };
    }
    if (attempt >= 20 || (r.status !== 0 && r.status < 500 && code !== 'PROVISIONING_IN_PROGRESS')) throw new Error(`creating ${spec.slug}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    await new Promise((res) => setTimeout(res, 1000));
  }
}

/** The fleet: each tier in each region, `perCell` times, plus an abuser; ≥ 50 tenants with perCell 3. */
export function fleetSpecs(regions: string[], perCell: number, runId: string) {
  const specs: { label: string; slug: string; tier: string; tiers?: string[]; region: string; residency?: string | null; abuser?: boolean }[] = [];
  for (const region of regions) {
    for (const tier of Object.keys(TIERS)) {
      for (let i = 0; i < perCell; i++) {
        const label = `${tier.toLowerCase().replace('_', '')}-${region.split('-').slice(1, 3).join('')}-${i}`;
        const eu = region.includes('-eu-');
        // A third of the EU tenants declare residency: patches toggle it, the guard must not change.
        specs.push({ label, slug: `s${runId}-${label}`.slice(0, 40).replace(/-+$/, ''), tier, region, residency: eu && i === 0 ? 'EU' : null,
          // Some PREMIUM tenants are patched to ENTERPRISE and back: other limits, and each change
          // moves the data (schema ⇄ a database of its own) under traffic.
          ...(tier === 'PREMIUM' && i === 1 ? { tiers: ['PREMIUM', 'ENTERPRISE'] } : {}) });
      }
    }
  }
  specs.push({ label: 'abuser', slug: `s${runId}-abuser`, tier: 'FREE', region: regions[0]!, abuser: true });
  return specs;
}
