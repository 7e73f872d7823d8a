/**
 * Fault injection for tests, loopback only:
 *   POST /regions/<region>/stop|start     stops that region's PostgreSQL / brings it back with its data;
 *   POST /regions/<region>/pause|resume   SIGSTOP / SIGCONT to every process of the cluster: it
 *                                         accepts TCP connections and then says nothing, like a
 *                                         compute that hangs (the case timeouts exist for);
 *   GET  /regions/<region>/log?contains=s how many lines of the cluster's server log contain `s`.
 * Closing the server resumes whatever it paused, so the stack can still stop its clusters.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { sendJson } from './http-util.js';
import { listen } from './ports.js';
import type { Cluster } from './postgres.js';

/** Starts the fault server over `clusters`. */
export async function startFaultServer(clusters: Record<string, Cluster>): Promise<{ url: string; close(): Promise<void> }> {
  const paused = new Set<Cluster>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/regions\/([a-z0-9-]+)\/(stop|start|pause|resume|log)$/.exec(url.pathname);
    const cluster = m ? clusters[m[1]!] : undefined;
    if (!m || !cluster) return sendJson(res, 404, { error: 'not found' });
    const action = m[2]!;
    if (action === 'log') {
      if (req.method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });
      return sendJson(res, 200, { region: m[1], lines: logLines(cluster, url.searchParams.get('contains') ?? '') });
    }
    if (req.method !== 'POST') return sendJson(res, 405, { error: 'method not allowed' });
    if (action === 'pause' || action === 'resume') {
      try {
        const pids = signalCluster(cluster, action === 'pause' ? 'SIGSTOP' : 'SIGCONT');
        if (action === 'pause') paused.add(cluster); else paused.delete(cluster);
        return sendJson(res, 200, { region: m[1], state: action === 'pause' ? 'paused' : 'running', processes: pids.length });
      } catch (err) {
        return sendJson(res, 500, { error: String(err) });
      }
    }
    const done = action === 'stop' ? cluster.stop() : cluster.restart();
    done.then(() => sendJson(res, 200, { region: m[1], state: action === 'stop' ? 'stopped' : 'running' }),
      (err: unknown) => sendJson(res, 500, { error: String(err) }));
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => {
      for (const c of paused) { try { signalCluster(c, 'SIGCONT'); } catch { /* gone */ } }
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/**
 * Sends `signal` to the postmaster and every process below it. When stopping, the postmaster goes
 * first so that it forks nothing new while its children are being listed; when continuing, last.
 */
function signalCluster(cluster: Cluster, signal: 'SIGSTOP' | 'SIGCONT'): number[] {
  const postmaster = Number(readFileSync(`${cluster.dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
  if (!(postmaster > 0)) throw new Error(`no postmaster for ${cluster.region}`);
  if (signal === 'SIGSTOP') process.kill(postmaster, signal);
  const pids = descendants(postmaster);
  for (const pid of pids) { try { process.kill(pid, signal); } catch { /* exited meanwhile */ } }
  if (signal === 'SIGCONT') process.kill(postmaster, signal);
  return [postmaster, ...pids];
}

/** Every process below `pid` (backends, background workers, and anything they started). */
function descendants(pid: number): number[] {
  const out: number[] = [];
  for (let queue = [pid]; queue.length > 0;) {
    const parent = queue.shift()!;
    let children: number[] = [];
    try {
      children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(parent)], { encoding: 'utf8' })
        .split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
    } catch { /* ps exits 1 when there are none */ }
    out.push(...children);
    queue.push(...children);
  }
  return out;
}

function logLines(cluster: Cluster, needle: string): number {
  if (!needle) return 0;
  try {
    return readFileSync(cluster.logFile, 'utf8').split('\n').filter((l) => l.includes(needle)).length;
  } catch { return 0; }
}
