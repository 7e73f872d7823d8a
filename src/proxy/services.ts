/** Proxy mode's part of the isolate's services, built once from the validated configuration. */
import type { BreakerLimits } from '../breaker/circuit.js';
import type { OriginTarget } from './config.js';
import { ContextSigner } from './context-signer.js';
import type { KeyRing } from '../crypto/key-ring.js';
import type { PrivateEcJwk } from './signing-keys.js';

/** What sends a request to an origin: the global fetch, or a service binding's. */
export type SendFn = (req: Request) => Promise<Response>;

export interface ProxyServices {
  /** The router's prefixes (PROXY_PREFIXES); a tenant's own replace them. */
  prefixes: string[];
  /** region → origin (ORIGINS). */
  origins: Record<string, OriginTarget>;
  /** Null when CONTEXT_SIGNING_KEY is unset: nothing is forwarded then (a tenant's own origin is refused 503). */
  signer: ContextSigner | null;
  timeoutMs: number;
  /** What a tenant's dedicated origin may be (./dedicated-origin.ts). */
  originPolicy: { allowLoopback: boolean };
  breaker: BreakerLimits;
  /** How to reach `target`; null for a service binding this router does not have. */
  sender(target: OriginTarget): SendFn | null;
}

export interface ProxyConfig {
  ORIGINS: Record<string, OriginTarget>;
  PROXY_PREFIXES: string[];
  CONTEXT_SIGNING_KEY?: KeyRing<PrivateEcJwk>;
  ORIGIN_TIMEOUT_MS: number;
  PROXY_ORIGIN_LOOPBACK?: boolean;
  ORIGIN_BREAKER: BreakerLimits;
  PLATFORM_ISSUER: string;
}

/** A binding's fetch, or null when `env` has no service binding of that name. */
function bindingOf(env: object, name: string): SendFn | null {
  const b = (env as Record<string, unknown>)[name] as { fetch?: unknown } | undefined;
  return b && typeof b.fetch === 'function' ? (req) => (b as Fetcher).fetch(req) : null;
}

/** The proxy services; throws naming the binding when ORIGINS names a service this router lacks. */
export function proxyServices(config: ProxyConfig, env: object): ProxyServices {
  for (const [region, t] of Object.entries(config.ORIGINS)) {
    if (t.kind === 'service' && !bindingOf(env, t.binding)) throw new Error(`invalid configuration: ORIGINS: ${region} names service:${t.binding}, but the router has no such service binding`);
  }
  const send: SendFn = (req) => fetch(req);
  return {
    prefixes: config.PROXY_PREFIXES,
    origins: config.ORIGINS,
    signer: config.CONTEXT_SIGNING_KEY ? new ContextSigner(config.CONTEXT_SIGNING_KEY, config.PLATFORM_ISSUER) : null,
    timeoutMs: config.ORIGIN_TIMEOUT_MS,
    originPolicy: { allowLoopback: config.PROXY_ORIGIN_LOOPBACK === true },
    breaker: config.ORIGIN_BREAKER,
    sender: (t) => (t.kind === 'url' ? send : bindingOf(env, t.binding)),
  };
}
