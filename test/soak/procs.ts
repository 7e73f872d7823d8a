/** Processes of the local stack, for faults (SIGSTOP/SIGCONT/SIGKILL) and memory samples (RSS). */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** Direct children of `pid`. */
export function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' }).split('\n').map((s) => Number(s.trim())).filter((n) => n > 0);
  } catch { return []; }
}

/** `pid` and all its descendants. */
export function treeOf(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...childrenOf(out[i]!));
  return out;
}

/** The command name of `pid` (`workerd`, `postgres`, `node` …), or null when it is gone. */
export function commOf(pid: number): string | null {
  try { return readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { return null; }
}

/** Resident memory of `pid` in MiB, or null when it is gone. */
export function rssMb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch { return null; }
}

/** Processes whose command line contains `needle`. */
export function findByCmdline(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try { if (readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' ').includes(needle)) out.push(Number(d)); } catch { /* gone */ }
  }
  return out;
}

/** Sends `signal` to every pid, ignoring the ones already gone. */
export function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const p of pids) { try { process.kill(p, signal); } catch { /* gone */ } }
}

/** The postmaster of the cluster in `dataDir` and its backends. */
export function postgresPids(dataDir: string): number[] {
  try {
    const pid = Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[0]);
    return pid > 0 ? treeOf(pid) : [];
  } catch { return []; }
}
