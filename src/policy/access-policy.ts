/**
 * Residency and geo decisions, pure: given a tenant and the request's runtime facts, allow or
 * refuse with a status and code. Every unknown fails closed: an unknown region, a missing country
 * when an allowlist exists, a missing or unparsable client IP when an IP allowlist exists.
 */
import { jurisdictionOf } from '../regions.js';
import type { RuntimeInfo } from '../runtime.js';
import type { Tenant } from '../tenancy/tenant.js';
import { inCidr, parseCidr, parseIp, type Cidr } from './cidr.js';

export type Refusal = { status: 403 | 451; code: 'RESIDENCY_VIOLATION' | 'GEO_BLOCKED' | 'IP_NOT_ALLOWED'; message: string };

/** Null when the tenant's data region satisfies its residency, else the refusal. */
export function checkResidency(tenant: Pick<Tenant, 'region' | 'residency' | 'placement'>): Refusal | null {
  const regions = [tenant.region, tenant.placement?.region ?? tenant.region];
  for (const region of regions) {
    const j = jurisdictionOf(region);
    if (!j) return { status: 451, code: 'RESIDENCY_VIOLATION', message: 'tenant data region has no known jurisdiction' };
    if (tenant.residency && tenant.residency !== j) {
      return { status: 451, code: 'RESIDENCY_VIOLATION', message: `tenant requires ${tenant.residency} residency` };
    }
  }
  return null;
}

/** Null when the request's country and IP pass the tenant's geo policy, else the refusal. */
export function checkGeo(geo: Tenant['geo'], rt: Pick<RuntimeInfo, 'country' | 'clientIp'>): Refusal | null {
  if (!geo) return null;
  const country = rt.country;
  if (country && geo.blockCountries.includes(country)) {
    return { status: 403, code: 'GEO_BLOCKED', message: 'requests from this country are not allowed' };
  }
  if (geo.allowCountries.length > 0 && (!country || !geo.allowCountries.includes(country))) {
    return { status: 403, code: 'GEO_BLOCKED', message: 'requests from this country are not allowed' };
  }
  if (geo.ipAllow.length > 0) {
    const ip = rt.clientIp ? parseIp(rt.clientIp) : null;
    if (!ip || !ranges(geo.ipAllow).some((c) => inCidr(ip, c))) {
      return { status: 403, code: 'IP_NOT_ALLOWED', message: 'client address is not on the allowlist' };
    }
  }
  return null;
}

// A tenant record lives in the L1 cache for seconds; its allowlist is parsed once, not per request.
const parsed = new WeakMap<readonly string[], Cidr[]>();
function ranges(list: readonly string[]): Cidr[] {
  let r = parsed.get(list);
  if (!r) { r = list.map(parseCidr); parsed.set(list, r); }
  return r;
}
