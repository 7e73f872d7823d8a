/**
 * Points `@neondatabase/serverless` at a local Neon-compatible endpoint (SQL-over-HTTP `/sql`,
 * WebSocket proxy `/v1`) when one is configured. In production nothing is set and the driver
 * talks to Neon itself. The driver's configuration is global, so this runs once per isolate.
 */
import { neonConfig } from '@neondatabase/serverless';

let configured: string | undefined;

/** Configures the driver for `endpoint` (e.g. `http://127.0.0.1:4444`); no-op when unset or unchanged. */
export function useLocalNeonEndpoint(endpoint: string | undefined, webSocket?: unknown): void {
  if (!endpoint || configured === endpoint) return;
  const base = new URL(endpoint);
  neonConfig.fetchEndpoint = `${base.origin}/sql`;
  neonConfig.wsProxy = (host, port) => `${base.host}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = base.protocol === 'https:';
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
  if (webSocket) neonConfig.webSocketConstructor = webSocket as typeof neonConfig.webSocketConstructor;
  configured = endpoint;
}
