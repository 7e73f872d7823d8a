/**
 * What the quota middleware talks to. The Durable Object implementation names objects
 * deterministically (`tenant:<id>`) in the jurisdiction fixed when the tenant was created
 * (`guardJurisdiction`, immutable: migration 0004). Never from the residency, which can change:
 * a different object would start with a full bucket and an empty monthly counter.
 */
import type { Tenant, Tier } from '../tenancy/tenant.js';
import type { TenantGuard } from './tenant-guard.js';
import type { AdmitResult, GuardLimits, HolderReport, LeaseGrant, LeaseRequest } from './guard-types.js';

export interface RateLimiter {
  /** Admits `cost` units for `tenant`, holding a concurrency slot until `release`. */
  admit(tenant: Tenant, cost: number): Promise<AdmitResult>;
  /** Ends the request's slot; may resolve only when related background work (a settle) is done. */
  release(tenant: Tenant, leaseId: string): Promise<void>;
  /** Ends the slot of a request that is being cancelled, without any call (the next call reports it). */
  releaseQuietly?(tenant: Tenant, leaseId: string): void;
  /** Background work for `tenant` still pending after a failed admission (for waitUntil), if any. */
  background?(tenant: Tenant): Promise<void> | null;
}

/** The guard limits of a tier. */
export const guardLimits = (t: Tier): GuardLimits => ({
  ratePerMinute: t.rate_per_minute, burst: t.burst, monthlyRequests: t.monthly_requests, hardCap: t.hard_cap, concurrency: t.concurrency,
});

/** The part of a tenant record that names its object. */
export type GuardKey = Pick<Tenant, 'id' | 'guardJurisdiction'>;

/** A RateLimiter over the TenantGuard Durable Objects: one object call per admit and per release. */
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

  sync(tenant: Tenant, report: HolderReport): Promise<void> {
    return this.stub(tenant).sync(report);
  }

  /** The tenant's object, in its jurisdiction. */
  stub(tenant: GuardKey): DurableObjectStub<TenantGuard> {
    return guardStub(this.ns, tenant, this.jurisdictions);
  }
}

/** The name of a tenant's object and the jurisdiction it lives in (null: none), pure. */
export function guardName(tenant: GuardKey, jurisdictions: boolean): { name: string; jurisdiction: 'eu' | null } {
  return { name: `tenant:${tenant.id}`, jurisdiction: jurisdictions && tenant.guardJurisdiction === 'eu' ? 'eu' : null };
}

/** The deterministic object of `tenant`: `tenant:<id>`, in the `eu` jurisdiction when its guard lives there. */
export function guardStub<T extends Rpc.DurableObjectBranded | undefined>(
  ns: DurableObjectNamespace<T>, tenant: GuardKey, jurisdictions: boolean,
): DurableObjectStub<T> {
  const { name, jurisdiction } = guardName(tenant, jurisdictions);
  const where = jurisdiction ? ns.jurisdiction(jurisdiction) : ns;
  return where.get(where.idFromName(name));
}
