/**
 * Which custom domains a tenant may claim, pure. A custom domain must be a registrable name
 * outside the platform's own namespace: anything at or under a base domain (any depth) would let
 * one tenant answer for another's subdomain (`login.acme.example.com` for tenant B), a public
 * suffix (`co.uk`, `github.io`) or a name without a registrable domain (`localhost`) would claim
 * a whole namespace, and IP literals are not names. The public-suffix list is `tldts`'s, private
 * section included; names are compared in punycode (normalizeHost converts IDN).
 */
import { parse } from 'tldts';
import { AppError } from '../errors.js';
import { normalizeHost } from '../tenancy/host.js';
import type { Isolation } from '../tenancy/tenant.js';

/** Custom domains a tenant may have, by the built-in tier its template derives from. */
export const DOMAIN_CAPS: Readonly<Record<string, number>> = {
  FREE: 1, STANDARD: 5, PREMIUM: 25, ENTERPRISE: 100, ENTERPRISE_PLUS: 100, WHITE_LABEL: 100,
};

// A template whose chain of origins was cut (its parent template deleted) is capped by isolation.
const BY_ISOLATION: Readonly<Record<Isolation, number>> = { row: 5, schema: 25, database: 100 };

/** The domain cap for a template whose nearest built-in ancestor is `builtinRoot`. */
export function domainCap(builtinRoot: string | null, isolation: Isolation): number {
  const cap = builtinRoot === null ? undefined : DOMAIN_CAPS[builtinRoot];
  return cap ?? BY_ISOLATION[isolation];
}

const notAllowed = (host: string, why: string) => new AppError(422, 'DOMAIN_NOT_ALLOWED', `${host.slice(0, 100)}: ${why}`);

/** The canonical (lower-case, punycode) custom domain for `raw`, or a 400/422 refusal. */
export function checkDomain(raw: string, baseDomains: readonly string[]): string {
  const host = normalizeHost(raw);
  // normalizeHost refuses IPv4 literals and brackets; a colon is a port or an IPv6 literal.
  if (!host || raw.includes(':') || !host.includes('.')) throw new AppError(400, 'BAD_REQUEST', `${raw.slice(0, 100)} is not a valid hostname`);
  const p = parse(host, { allowPrivateDomains: true });
  if (p.isIp) throw notAllowed(host, 'IP addresses cannot be custom domains');
  for (const base of baseDomains) {
    if (host === base || host.endsWith(`.${base}`)) throw notAllowed(host, `names under ${base} are tenant subdomains, not custom domains`);
    if (base.endsWith(`.${host}`)) throw notAllowed(host, `the platform's base domain ${base} is under this name`);
  }
  if (!p.domain || !p.publicSuffix || host === p.publicSuffix) throw notAllowed(host, 'a public suffix or a name without a registrable domain');
  return host;
}
