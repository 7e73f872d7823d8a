/**
 * Which requests are forwarded, and to which origin: pure decisions over the tenant record and
 * the configuration. Residency is decided here and fails closed: a tenant with a residency is
 * only ever forwarded to an origin in a region of that jurisdiction, and when there is none it
 * is refused 451, never sent elsewhere.
 */
import { jurisdictionOf, satisfiesResidency } from '../regions.js';
import type { Tenant } from '../tenancy/tenant.js';
import type { OriginTarget } from './config.js';
import { checkDedicatedOrigin, isRefusal, type OriginPolicy } from './dedicated-origin.js';

/** Whether `path` falls under one of `prefixes` (`/app/` also covers `/app` itself). */
export function underPrefix(path: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => path.startsWith(p) || (p.endsWith('/') && path === p.slice(0, -1)));
}

/** Whether the tenant's request to `path` is forwarded: its own prefixes when it has any ([] = none), else the router's. */
export function isProxied(path: string, tenant: Pick<Tenant, 'proxy'>, routerPrefixes: readonly string[]): boolean {
  return underPrefix(path, tenant.proxy?.prefixes ?? routerPrefixes);
}

/** An origin chosen for a tenant: where it is, and the region whose jurisdiction it is under. */
export interface ChosenOrigin { target: OriginTarget; region: string }

export type OriginChoice =
  | { ok: true; origin: ChosenOrigin }
  | { ok: false; status: 451 | 503; code: 'RESIDENCY_VIOLATION' | 'UPSTREAM_UNAVAILABLE'; message: string };

/**
 * The origin for `tenant`: its dedicated origin when it has one (refused when that breaks its
 * residency), else the router's origin of the tenant's data region, else one in the same
 * jurisdiction, else (a tenant without residency only) any origin. Ties go to the region first in
 * alphabetical order, so every isolate picks the same one.
 */
export function chooseOrigin(tenant: Pick<Tenant, 'region' | 'residency' | 'placement' | 'proxy'>, origins: Readonly<Record<string, OriginTarget>>, policy: { allowLoopback: boolean } = { allowLoopback: false }): OriginChoice {
  const own = tenant.proxy?.origin;
  if (own) {
    // Checked again here, not only by the control plane: a record written before the rule (or by
    // hand) never sends the router into the platform's own network.
    const target = checkDedicatedOrigin(own.url, tenant.placement?.region ?? tenant.region, { ...policy, origins } satisfies OriginPolicy);
    if (isRefusal(target)) return { ok: false, status: 503, code: 'UPSTREAM_UNAVAILABLE', message: 'tenant origin is misconfigured' };
    if (!satisfiesResidency(own.region, tenant.residency)) return refuse(tenant.residency);
    return { ok: true, origin: { target, region: own.region } };
  }
  const dataRegion = tenant.placement?.region ?? tenant.region;
  const home = jurisdictionOf(dataRegion);
  const allowed = Object.keys(origins).filter((r) => satisfiesResidency(r, tenant.residency)).sort();
  const region = allowed.find((r) => r === dataRegion) ?? allowed.find((r) => home !== null && jurisdictionOf(r) === home) ?? allowed[0];
  if (region === undefined) return tenant.residency ? refuse(tenant.residency) : { ok: false, status: 503, code: 'UPSTREAM_UNAVAILABLE', message: 'no origin is configured for this tenant' };
  return { ok: true, origin: { target: origins[region]!, region } };
}

function refuse(residency: string | null): OriginChoice {
  return { ok: false, status: 451, code: 'RESIDENCY_VIOLATION', message: `no origin satisfies the tenant's ${residency ?? 'unknown'} residency` };
}

/** The URL on `target` for the request URL `url`: the same path and query under the origin's base. */
export function upstreamUrl(target: OriginTarget, url: URL): string {
  const base = target.kind === 'url' ? target.base : `https://${target.binding.toLowerCase().replace(/_/g, '-')}.internal`;
  return `${base}${url.pathname}${url.search}`;
}
