/**
 * `npx tsx src/deploy/token.ts --env <env> --tenant <tenant id>`: a platform token for a deployed
 * router, signed with the current key of `.secrets/<env>/router.env`'s PLATFORM_JWT_SECRET, `iss`
 * and `aud` from the environment's wrangler.toml vars. For trying a deployment out; the
 * platform's own auth service issues the real ones. Prints the token only.
 */
import { parseArgs } from 'node:util';
import { signPlatformToken, UUID } from './platform-token.js';
import { DEFAULT_SECRETS_DIR, readSecrets } from './secrets-files.js';
import { ENVIRONMENTS, isDeployEnv, WORKERS } from './targets.js';
import { loadEnvConfig } from './wrangler-config.js';

async function main(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({ args: argv, options: { env: { type: 'string' }, tenant: { type: 'string' }, ttl: { type: 'string' }, 'secrets-dir': { type: 'string' } }, strict: true });
  if (!isDeployEnv(v.env)) { console.error(`pass --env ${ENVIRONMENTS.join(' or --env ')}`); return 2; }
  if (!v.tenant || !UUID.test(v.tenant)) { console.error('pass --tenant <the tenant\'s id> (a UUID: tenantctl tenant show <slug> prints it; platform tokens never carry a slug)'); return 2; }
  const ttlSec = v.ttl === undefined ? 3600 : Number(v.ttl);
  if (!Number.isInteger(ttlSec) || ttlSec < 1 || ttlSec > 86_400) { console.error('--ttl is seconds, 1 to 86400'); return 2; }
  const ring = readSecrets(v['secrets-dir'] ?? DEFAULT_SECRETS_DIR, v.env).router.PLATFORM_JWT_SECRET;
  if (!ring) { console.error(`no PLATFORM_JWT_SECRET in .secrets/${v.env}/router.env: run npm run secrets -- --env ${v.env}`); return 1; }
  const vars = (await loadEnvConfig(WORKERS.find((w) => w.name === 'router')!, v.env)).vars;
  console.log(signPlatformToken(ring, { issuer: String(vars.PLATFORM_ISSUER), audience: String(vars.PLATFORM_AUDIENCE), tenantId: v.tenant.toLowerCase(), ttlSec, now: Math.floor(Date.now() / 1000) }));
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
