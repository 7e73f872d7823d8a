/**
 * Host normalisation and classification, pure. The Host header is attacker-controlled: it is
 * lowercased, stripped of port and trailing dot, converted to punycode by the WHATWG URL parser,
 * then checked label by label; anything that is not a DNS hostname is refused before any lookup.
 */

export type HostClass =
  | { kind: 'subdomain'; host: string; slug: string; base: string }
  | { kind: 'api'; host: string; base: string }
  | { kind: 'apex'; host: string; base: string }
  | { kind: 'unknown'; host: string; base: string }
  | { kind: 'custom'; host: string };

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** The canonical ASCII hostname of a raw Host header value, or null when it is not one. */
export function normalizeHost(raw: string | null | undefined): string | null {
  if (!raw || raw.length > 300) return null;
  const trimmed = raw.trim();
  if (trimmed === '' || /[\s/\\?#@]/.test(trimmed) || trimmed.startsWith('[')) return null;
  let host: string;
  try {
    host = new URL(`http://${trimmed}`).hostname;
  } catch {
    return null;
  }
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.length === 0 || host.length > 253 || IPV4.test(host)) return null;
  const labels = host.split('.');
  if (!labels.every((l) => LABEL.test(l))) return null;
  return host;
}

/**
 * Splits a normalised host against the configured base domains (longest base first). Under a base
 * domain only `<slug>.<base>` and `api.<base>` mean anything; a deeper name (`login.acme.<base>`)
 * is `unknown`, never looked up as a custom domain: the base domains are the platform's, and a
 * record for such a name could only ever serve it as some other tenant.
 */
export function classifyHost(host: string, bases: readonly string[]): HostClass {
  for (const base of bases) {
    if (host === base) return { kind: 'apex', host, base };
    if (!host.endsWith(`.${base}`)) continue;
    const sub = host.slice(0, -(base.length + 1));
    if (sub.includes('.')) return { kind: 'unknown', host, base };
    if (sub === 'api') return { kind: 'api', host, base };
    return { kind: 'subdomain', host, slug: sub, base };
  }
  return { kind: 'custom', host };
}

/** Parses TENANT_BASE_DOMAINS ("localhost,example.com") into normalised bases, longest first. */
export function parseBaseDomains(value: string): string[] {
  const bases = value.split(',').map((s) => s.trim()).filter(Boolean).map((b) => {
    const n = normalizeHost(b);
    if (!n) throw new Error(`invalid base domain in TENANT_BASE_DOMAINS: ${b}`);
    return n;
  });
  if (bases.length === 0) throw new Error('TENANT_BASE_DOMAINS is empty');
  return bases.sort((a, b) => b.length - a.length);
}
