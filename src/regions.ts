/**
 * Regions the router can place tenants in, and the jurisdiction each one's data sits under.
 * Residency is decided here and nowhere else: an unknown region has no jurisdiction, so a tenant
 * placed there fails closed (451) instead of being routed somewhere that might be wrong.
 */
export type Jurisdiction = 'EU' | 'US' | 'UK' | 'APAC';

const REGIONS: Readonly<Record<string, Jurisdiction>> = {
  'aws-us-east-1': 'US',
  'aws-us-east-2': 'US',
  'aws-us-west-2': 'US',
  'aws-eu-central-1': 'EU',
  'aws-eu-west-1': 'EU',
  'aws-eu-west-2': 'UK',
  'aws-ap-southeast-1': 'APAC',
  'aws-ap-southeast-2': 'APAC',
};

/** The jurisdiction of `region`, or null for a region this router does not know. */
export function jurisdictionOf(region: string): Jurisdiction | null {
  return Object.hasOwn(REGIONS, region) ? REGIONS[region]! : null;
}

/** Whether data in `region` satisfies `residency` (null residency: anywhere known). */
export function satisfiesResidency(region: string, residency: string | null): boolean {
  const j = jurisdictionOf(region);
  if (!j) return false;
  return residency === null || residency === j;
}

/** Every region this router knows. */
export const knownRegions = (): string[] => Object.keys(REGIONS);
