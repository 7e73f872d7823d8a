/**
 * A RateLimiter that spends tokens leased from the tenant's TenantGuard in the isolate, so that
 * most requests of a busy tenant need no Durable Object call. The lease carries concurrency
 * slots too: the isolate runs at most that many requests of the tenant at once. Tokens and
 * slots are debited by the object when granted, so leasing cannot admit more than the limits;
 * what it costs is that a lease's unused tokens wait in one isolate for at most LEASE_TTL_MS
 * before they are returned with the next lease (or, if the isolate dies, are metered unused).
 */
import type { Tenant } from '../tenancy/tenant.js';
import { LEASE_TTL_MS, leaseSize } from './lease-size.js';
import { guardLimits, type RateLimiter } from './rate-limiter.js';
import type { AdmitResult, LeaseGrant, LeaseRequest } from './tenant-guard.js';

/** What the leasing limiter needs of the object (the TenantGuard stub, or a counting wrapper). */
export interface LeaseSource extends RateLimiter {
  lease(tenant: Tenant, req: LeaseRequest): Promise<LeaseGrant>;
}

interface Local { grant: LeaseGrant; tokens: number; inflight: number }

const LOCAL = 'local:';

export class LeasingRateLimiter implements RateLimiter {
  private readonly local = new Map<string, Local>();
  private readonly refills = new Map<string, Promise<LeaseGrant>>();

  constructor(private readonly source: LeaseSource, private readonly now: () => number = Date.now) {}

  async admit(tenant: Tenant, cost: number): Promise<AdmitResult> {
    const limits = guardLimits(tenant.tier);
    const size = leaseSize(limits);
    if (size <= 1 || cost > size) return this.source.admit(tenant, cost);
    for (let attempt = 0; attempt < 3; attempt++) {
      const l = this.local.get(tenant.id);
      if (l && l.grant.expiresAt > this.now() && l.tokens >= cost && l.inflight < l.grant.slots) {
        l.tokens -= cost;
        l.inflight++;
        return { ok: true, limit: l.grant.limit, remaining: l.grant.remaining + l.tokens, resetMs: l.grant.resetMs, leaseId: LOCAL + l.grant.leaseId };
      }
      const grant = await this.refill(tenant, size, cost);
      if (!grant.ok) return grant;
    }
    // Other requests of this isolate keep taking the fresh leases: ask the object directly.
    return this.source.admit(tenant, cost);
  }

  async release(tenant: Tenant, leaseId: string): Promise<void> {
    if (!leaseId.startsWith(LOCAL)) return this.source.release(tenant, leaseId);
    const l = this.local.get(tenant.id);
    // A request that outlived its lease held a slot of the lease it was admitted under; the next
    // lease was sized with it counted, so there is nothing left to give back.
    if (l && LOCAL + l.grant.leaseId === leaseId) l.inflight = Math.max(0, l.inflight - 1);
  }

  /** One refill per tenant at a time; concurrent requests wait for it. */
  private refill(tenant: Tenant, size: number, cost: number): Promise<LeaseGrant> {
    const pending = this.refills.get(tenant.id);
    if (pending) return pending;
    const prev = this.local.get(tenant.id);
    const limits = guardLimits(tenant.tier);
    const inflight = prev?.inflight ?? 0;
    const req: LeaseRequest = {
      tenantId: tenant.id, want: size, cost, ttlMs: LEASE_TTL_MS, limits,
      slots: Math.min(limits.concurrency, inflight + size),
      ...(prev ? { returned: { leaseId: prev.grant.leaseId, tokens: prev.tokens, month: prev.grant.month } } : {}),
    };
    const p = this.source.lease(tenant, req).then((grant) => {
      // The old lease is given back either way; a refusal leaves nothing to spend.
      this.local.set(tenant.id, grant.ok ? { grant, tokens: grant.tokens, inflight } : { grant: { ...grant, expiresAt: 0 }, tokens: 0, inflight });
      return grant;
    }).finally(() => this.refills.delete(tenant.id));
    this.refills.set(tenant.id, p);
    return p;
  }
}
