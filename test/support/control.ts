/** Calls to the control plane the stack runs (workerd, `wrangler dev`), and tenants made through it. */
import { SignJWT } from 'jose';
import { stack, unique } from './helpers.js';

export const ADMIN = `Bearer ${stack.control.adminToken}`;

/** A request to the admin API; `token: null` sends no credential. */
export function admin(path: string, init: RequestInit & { token?: string | null; json?: unknown } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token !== null) headers.set('authorization', init.token ? `Bearer ${init.token}` : ADMIN);
  let body = init.body;
  if (init.json !== undefined) { headers.set('content-type', 'application/json'); body = JSON.stringify(init.json); }
  const { token: _t, json: _j, ...rest } = init;
  const send = () => fetch(`${stack.control.url}${path}`, { ...rest, headers, body });
  // wrangler dev reloads a worker now and then under load and answers 503 for requests it
  // cannot replay (only GET/HEAD are retried automatically), or drops the connection
  // ("Network connection lost"): send such a request once more.
  return send().then(async (res) => {
    if (res.status !== 503 || !(await res.clone().text()).includes('restarted mid-request')) return res;
    return send();
  }, (err: unknown) => {
    if (!/Network connection lost/i.test(String(err))) throw err;
    return send();
  });
}

export interface CreatedTenant { id: string; slug: string; tier: string; region: string; isolation: string; status: string; version: number; domains: string[]; [k: string]: unknown }

/** Creates a tenant through the API (a fresh slug unless given) and returns its view. */
export async function createViaApi(spec: Record<string, unknown> = {}): Promise<CreatedTenant> {
  const json = { slug: unique('t-'), tier: 'STANDARD', region: 'aws-us-east-2', overrides: { ratePerMinute: 600_000, burst: 10_000 }, ...spec };
  let res = await admin('/admin/v1/tenants', { method: 'POST', json });
  // A slug of our own already taken: a first attempt that wrangler cut off had made it after all.
  if (res.status === 409 && (await res.clone().text()).includes('TENANT_EXISTS')) {
    res = await admin(`/admin/v1/tenants/${json.slug}`);
    if (res.status === 200) return res.json() as Promise<CreatedTenant>;
  }
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${await res.text()}`);
  return res.json() as Promise<CreatedTenant>;
}

/** Polls `probe` until it returns true or `ms` pass; returns the elapsed milliseconds, or null. */
export async function within(ms: number, probe: () => Promise<boolean>): Promise<number | null> {
  const t0 = Date.now();
  while (Date.now() - t0 <= ms) {
    if (await probe()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 200));
  }
  return null;
}

/** A platform token for tenant `id` (any tenant, seeded or made through the API). */
export function tokenFor(id: string): Promise<string> {
  return new SignJWT({ tid: id }).setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: stack.platform.kid })
    .setIssuer(stack.platform.issuer).setAudience(stack.platform.audience).setSubject('user-1').setIssuedAt().setExpirationTime('10m')
    .sign(new TextEncoder().encode(stack.platform.secret));
}

/** The router's L1 TTL in this stack (its default): how long a router may serve a stale tenant. */
export const L1_TTL_MS = Number(stack.routerEnv.TENANT_CACHE_TTL_MS ?? 5_000);

/** A custom domain as the admin API shows it. */
export interface DomainView {
  hostname: string; tenantId: string; status: 'pending' | 'active' | 'failed'; statusDetail: string | null;
  records: { type: 'CNAME' | 'TXT' | 'HTTP'; name: string; value: string; purpose: string }[];
  cloudflareId: string | null; createdAt: string; checkedAt: string | null; activatedAt: string | null; nextCheckAt: string | null;
}

/** Publishes `records` in the Cloudflare stand-in's DNS, as the tenant would at its DNS provider (HTTP records need no publishing there). */
export async function publishRecords(records: DomainView['records']): Promise<void> {
  for (const r of records) {
    if (r.type === 'HTTP') continue;
    const res = await fetch(`${stack.cloudflare.hooks}/_dns/${r.type}/${encodeURIComponent(r.name)}`, { method: 'PUT', body: r.value });
    if (res.status !== 200) throw new Error(`publishing ${r.type} ${r.name} failed: ${res.status}`);
  }
}

/**
 * Makes a pending custom domain of tenant `tenantId` active as a tenant would: publishes the
 * records its domain view names, then asks the control plane to check it now. Returns the view
 * and when the refresh answered (from then on the router's bound applies).
 */
export async function activateDomain(tenantId: string, host: string): Promise<{ domain: DomainView; at: number }> {
  const path = `/admin/v1/tenants/${tenantId}/domains/${host}`;
  const view = await admin(path);
  if (view.status !== 200) throw new Error(`domain ${host}: ${view.status} ${await view.text()}`);
  let domain = await view.json() as DomainView;
  // A domain given at tenant creation is registered at Cloudflare by maintenance or by the first
  // refresh; its records are known from then on, so a second round may be needed.
  for (let round = 0; round < 3; round++) {
    await publishRecords(domain.records);
    const res = await admin(`${path}/refresh`, { method: 'POST' });
    const at = Date.now();
    domain = await res.json() as DomainView;
    if (res.status !== 200) throw new Error(`refresh of ${host}: ${res.status} ${JSON.stringify(domain)}`);
    if (domain.status === 'active') return { domain, at };
  }
  throw new Error(`domain ${host} not active after refresh: ${JSON.stringify(domain)}`);
}
