/**
 * Platform tokens for local use: `npm run -s token -- <slug>` prints a fresh one for a tenant of
 * the running stack (read from .local/stack.json), seeded or created since with tenantctl.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Signs an HS256 platform token naming `tenantId` in `tid`, valid for `ttlSec`. */
export function signPlatformToken(platform: { issuer: string; audience: string; secret: string }, tenantId: string, ttlSec = 3600): string {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ iss: platform.issuer, aud: platform.audience, sub: 'local-developer', tid: tenantId, iat: now, exp: now + ttlSec })}`;
  return `${body}.${createHmac('sha256', platform.secret).update(body).digest('base64url')}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const slug = process.argv[2];
  const file = process.env.STACK_FILE ?? '.local/stack.json';
  let stack: { platform: { issuer: string; audience: string; secret: string }; tenants: Record<string, { id: string }> };
  try { stack = JSON.parse(readFileSync(file, 'utf8')); } catch {
    console.error(`no ${file}: start the stack first (npm start)`);
    process.exit(1);
  }
  if (!slug || !/^[a-z0-9-]{2,64}$/.test(slug)) {
    console.error(`usage: npm run -s token -- <slug>   (seeded: ${Object.keys(stack.tenants).join(', ')}; or any tenant made with tenantctl)`);
    process.exit(1);
  }
  // `tid` may name a tenant by id or by slug, so tenants created later need no lookup.
  console.log(signPlatformToken(stack.platform, stack.tenants[slug]?.id ?? slug));
}
