/**
 * Fault injection for tests: `POST /regions/<region>/stop` stops that region's PostgreSQL,
 * `POST /regions/<region>/start` brings it back with its data. Loopback only.
 */
import { createServer } from 'node:http';
import { sendJson } from './http-util.js';
import { listen } from './ports.js';
import type { Cluster } from './postgres.js';

/** Starts the fault server over `clusters`. */
export async function startFaultServer(clusters: Record<string, Cluster>): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const m = /^\/regions\/([a-z0-9-]+)\/(stop|start)$/.exec(req.url ?? '');
    const cluster = m ? clusters[m[1]!] : undefined;
    if (req.method !== 'POST' || !m || !cluster) return sendJson(res, 404, { error: 'not found' });
    const action = m[2] === 'stop' ? cluster.stop() : cluster.restart();
    action.then(() => sendJson(res, 200, { region: m[1], state: m[2] === 'stop' ? 'stopped' : 'running' }),
      (err: unknown) => sendJson(res, 500, { error: String(err) }));
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}
