/**
 * What the quota middleware talks to. The Durable Object implementation names objects
 * deterministically (`tenant:<id>`) and creates EU-resident tenants' objects in the `eu`
 * jurisdiction, so their quota state never leaves the EU either.
 */
import type { Tenant, Tier } from '../tenancy/tenant.js';
import type { AdmitResult, GuardLimits, LeaseGrant, LeaseRequest, TenantGuard } from './tenant-guard.js';

export interface RateLimiter {
  /** Admits `cost` units for `tenant`, holding a concurrency lease until `release`. */
  admit(tenant: Tenant, cost: number): Promise<AdmitResult>;
  release(tenant: Tenant, leaseId: string): Promise<void>;
}

/** The guard limits of a tier. */
export const guardLimits = (t: Tier): GuardLimits => ({
  ratePerMinute: t.rate_per_minute, burst: t.burst, monthlyRequests: t.monthly_requests, hardCap: t.hard_cap, concurrency: t.concurrency,
});

/** A RateLimiter over the TenantGuard Durable Objects. */
export class GuardRateLimiter implements RateLimiter {
  /** `jurisdictions` is false only where the runtime has none (workerd locally refuses them). */
  constructor(private readonly ns: DurableObjectNamespace<TenantGuard>, private readonly jurisdictions = true) {}

  admit(tenant: Tenant, cost: number): Promise<AdmitResult> {
    return this.stub(tenant).admit({ tenantId: tenant.id, cost, limits: guardLimits(tenant.tier) });
  }

  release(tenant: Tenant, leaseId: string): Promise<void> {
    return this.stub(tenant).release(leaseId);
  }

  lease(tenant: Tenant, req: LeaseRequest): Promise<LeaseGrant> {
    return this.stub(tenant).lease(req);
  }

  /** The tenant's object, in its jurisdiction. */
  stub(tenant: Pick<Tenant, 'id' | 'residency'>): DurableObjectStub<TenantGuard> {
    return guardStub(this.ns, tenant, this.jurisdictions);
  }
}

/** The deterministic object of `tenant`: `tenant:<id>`, in the `eu` jurisdiction when EU-resident. */
export function guardStub<T extends Rpc.DurableObjectBranded | undefined>(
  ns: DurableObjectNamespace<T>, tenant: Pick<Tenant, 'id' | 'residency'>, jurisdictions: boolean,
): DurableObjectStub<T> {
  const where = jurisdictions && tenant.residency === 'EU' ? ns.jurisdiction('eu') : ns;
  return where.get(where.idFromName(`tenant:${tenant.id}`));
}
