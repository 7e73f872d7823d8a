/** The shape of .local/stack.json as the tests use it. */
import type { JWK } from 'jose';
import type {} from 'vitest';

export interface Stack {
  router: string;
  faults: string;
  neonEndpoint: string;
  /** The Neon API stand-in: its key's organisation and each region's seeded shared project. */
  neonApi: { url: string; apiKey: string; orgId: string; regionProjects: Record<string, string> };
  /** The Cloudflare API v4 stand-in (custom hostnames); `hooks` is its test-hook base (`/_dns`, `/_test`). */
  cloudflare: { url: string; hooks: string; token: string; zoneId: string; cnameTarget: string };
  upstash: { url: string; token: string } | null;
  /** Proxy mode's tenant origins (test/harness/origins.ts), by region; their control routes are under `/_origin/`. */
  origins: Record<string, { url: string }>;
  /** The webhook receiver (test/harness/webhook-receiver.ts): POST /hooks/<name>, its records at /_hooks/<name>. */
  webhooks: { url: string };
  jwks: { url: string; idps: Record<string, { name: string; issuer: string; jwksUrl: string; alg: string; kid: string; privateJwk: JWK; publicJwk: JWK }> };
  /** The current key of the router's PLATFORM_JWT_SECRET ring (`kid:secret`) and its id. */
  platform: { issuer: string; audience: string; kid: string; secret: string };
  regions: Record<string, { postgresUrl: string; adminUrl: string; routerUrl: string }>;
  control: { url: string; adminToken: string; postgresUrl: string; routerUrl: string; pid: number | null };
  redis: { port: number } | null;
  /** Where the clusters keep their data (one folder per region, and `control`). */
  dataDir: string;
  tenants: Record<string, { id: string; slug: string; tier: string; region: string; isolation: 'row' | 'schema' | 'database'; domains: string[] }>;
  routerEnv: Record<string, string>;
}

declare module 'vitest' {
  interface ProvidedContext { stack: Stack }
}
