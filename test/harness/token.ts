/**
 * Platform tokens for local use: `npm run -s token -- <slug or id>` prints a fresh one for a
 * tenant of the running stack (read from .local/stack.json), seeded or created since with
 * tenantctl. Platform tokens are bound to the tenant's id, never its slug (a slug can be reused
 * by a later tenant), so a slug is turned into the id: from the stack file for the seeded
 * tenants, from the control plane's admin API for the others.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What signs platform tokens: the current key of the router's PLATFORM_JWT_SECRET ring and its id. */
export interface PlatformSigner { issuer: string; audience: string; kid: string; secret: string }

/** Signs an HS256 platform token naming `tenantId` (the tenant's id) in `tid`, valid for `ttlSec`, with the key's id in the header. */
export function signPlatformToken(platform: PlatformSigner, tenantId: string, ttlSec = 3600): string {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT', kid: platform.kid })}.${b64({ iss: platform.issuer, aud: platform.audience, sub: 'local-developer', tid: tenantId, iat: now, exp: now + ttlSec })}`;
  return `${body}.${createHmac('sha256', platform.secret).update(body).digest('base64url')}`;
}

interface StackFile {
  platform: PlatformSigner;
  tenants: Record<string, { id: string }>;
  control?: { url: string; adminToken: string };
}

/** The id of tenant `ref` (a slug or an id): the stack file first, then the control plane. */
export async function tenantIdOf(stack: StackFile, ref: string): Promise<string> {
  if (UUID.test(ref)) return ref.toLowerCase();
  const seeded = stack.tenants[ref]?.id;
  if (seeded) return seeded;
  if (!stack.control) throw new Error(`no tenant ${ref} in the stack file, and no control plane to ask`);
  const res = await fetch(`${stack.control.url}/admin/v1/tenants/${encodeURIComponent(ref)}`, {
    headers: { authorization: `Bearer ${stack.control.adminToken}` }, signal: AbortSignal.timeout(5000),
  });
  if (res.status === 404) throw new Error(`no tenant ${ref}`);
  if (!res.ok) throw new Error(`control plane answered ${res.status} for tenant ${ref}`);
  const { id } = await res.json() as { id?: unknown };
  if (typeof id !== 'string' || !UUID.test(id)) throw new Error(`control plane gave no id for tenant ${ref}`);
  return id;
}

async function main(): Promise<void> {
  const ref = process.argv[2];
  const file = process.env.STACK_FILE ?? '.local/stack.json';
  let stack: StackFile;
  try { stack = JSON.parse(readFileSync(file, 'utf8')); } catch {
    console.error(`no ${file}: start the stack first (npm start)`);
    process.exit(1);
  }
  if (!ref || !(/^[a-z0-9-]{2,64}$/.test(ref) || UUID.test(ref))) {
    console.error(`usage: npm run -s token -- <slug or id>   (seeded: ${Object.keys(stack.tenants).join(', ')}; or any tenant made with tenantctl)`);
    process.exit(1);
  }
  try {
    console.log(signPlatformToken(stack.platform, await tenantIdOf(stack, ref)));
  } catch (err) {
    console.error(String((err as Error).message ?? err));
    process.exit(1);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main();
