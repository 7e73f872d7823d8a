/**
 * What the quota middleware talks to. The Durable Object implementation names objects
 * deterministically (`tenant:<id>`) in the jurisdiction fixed when the tenant was created
 * (`guardJurisdiction`, immutable: migration 0004). Never from the residency, which can change:
 * a different object would start with a full bucket and an empty monthly counter.
 */
import type { Tenant, Tier } from '../tenancy/tenant.js';
import type { TenantGuard } from './tenant-guard.js';
import type { AdmitResult, GuardLimits, HolderReport, LeaseGrant, LeaseRequest, MeterCall } from './guard-types.js';
import { ack, addBytes, newCounter, pendingReport, unacked, type ByteCounter, type Bytes } from './byte-meter.js';
import { within } from '../flight/within.js';

export interface RateLimiter {
  /** Admits `cost` units for `tenant`, holding a concurrency slot until `release`. */
  admit(tenant: Tenant, cost: number): Promise<AdmitResult>;
  /** Ends the request's slot; may resolve only when related background work (a settle) is done. */
  release(tenant: Tenant, leaseId: string): Promise<void>;
  /** Ends the slot of a request that is being cancelled, without any call (the next call reports it). */
  releaseQuietly?(tenant: Tenant, leaseId: string): void;
  /** Background work for `tenant` still pending after a failed admission (for waitUntil), if any. */
  background?(tenant: Tenant): Promise<void> | null;
  /**
   * Meters body bytes (bandwidth) of an admitted request, exactly once; the promise (for
   * waitUntil) is a report sent now, null when a later call carries the bytes.
   */
  meter?(tenant: Tenant, bytes: Partial<Bytes>): Promise<void> | null;
}

/** A meter call this long unanswered counts as failed (retried, then its bytes go with the next call). */
const METER_TIMEOUT_MS = 5_000;
/** Attempts of one meter report, and the pause before each retry (ms): bounded well inside a waitUntil. */
export const METER_ATTEMPTS = 3;
const METER_BACKOFF_MS = [0, 200, 1000];

/** One tenant's bytes in an isolate that does not lease, and its requests running. */
interface ByteLane { id: string; counter: ByteCounter; running: number }

/** The guard limits of a tier. */
export const guardLimits = (t: Tier): GuardLimits => ({
  ratePerMinute: t.rate_per_minute, burst: t.burst, monthlyRequests: t.monthly_requests, hardCap: t.hard_cap, concurrency: t.concurrency,
});

/** The part of a tenant record that names its object. */
export type GuardKey = Pick<Tenant, 'id' | 'guardJurisdiction'>;

/** A RateLimiter over the TenantGuard Durable Objects: one object call per admit and per release. */
export class GuardRateLimiter implements RateLimiter {
  private readonly bytes = new Map<string, ByteLane>();

  /** `jurisdictions` is false only where the runtime has none (workerd locally refuses them). */
  constructor(private readonly ns: DurableObjectNamespace<TenantGuard>, private readonly jurisdictions = true) {}

  async admit(tenant: Tenant, cost: number): Promise<AdmitResult> {
    const r = await this.stub(tenant).admit({ tenantId: tenant.id, cost, limits: guardLimits(tenant.tier) });
    if (r.ok) this.byteLane(tenant.id).running++;
    return r;
  }

  /** Ends the request's lease, carrying the bytes counted so far (one call for both). */
  async release(tenant: Tenant, leaseId: string): Promise<void> {
    const b = this.bytes.get(tenant.id);
    if (b) b.running = Math.max(0, b.running - 1);
    const meter = b ? this.meterCall(tenant, b) : undefined;
    try {
      await this.stub(tenant).release(leaseId, meter);
      if (b && meter) ack(b.counter, meter.meter);
    } finally {
      if (b) this.dropIfDone(tenant.id, b);
    }
  }

  meter(tenant: Tenant, bytes: Partial<Bytes>): Promise<void> | null {
    const b = this.byteLane(tenant.id);
    addBytes(b.counter, bytes);
    // A running request's release carries them.
    if (b.running > 0) return null;
    if (!this.meterCall(tenant, b)) return null;
    // Reports are cumulative (from/to per meter id): the object applies what lies beyond its mark,
    // so a retry after a lost answer, or a concurrent report, never adds twice.
    const attempt = async (): Promise<void> => {
      for (let i = 0; i < METER_ATTEMPTS; i++) {
        if (METER_BACKOFF_MS[i]) await new Promise((r) => setTimeout(r, METER_BACKOFF_MS[i]));
        // Rebuilt each time: carries whatever was counted meanwhile too.
        const call = this.meterCall(tenant, b);
        if (!call) return;
        try {
          const r = await within(this.stub(tenant).meter(call), METER_TIMEOUT_MS);
          if (r.settled) { ack(b.counter, call.meter); return; }
        } catch { /* retried */ }
      }
    };
    return attempt().finally(() => this.dropIfDone(tenant.id, b));
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

  private byteLane(tenantId: string): ByteLane {
    let b = this.bytes.get(tenantId);
    if (!b) { b = { id: `meter:${crypto.randomUUID()}`, counter: newCounter(), running: 0 }; this.bytes.set(tenantId, b); }
    return b;
  }

  private meterCall(tenant: Tenant, b: ByteLane): MeterCall | undefined {
    const meter = pendingReport(b.counter);
    return meter && { tenantId: tenant.id, meterId: b.id, meter };
  }

  /** Forgets a lane with nothing running and nothing undelivered (the next gets a new meter id). */
  private dropIfDone(tenantId: string, b: ByteLane): void {
    if (this.bytes.get(tenantId) === b && b.running === 0 && !unacked(b.counter)) this.bytes.delete(tenantId);
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
