/**
 * The short soak in `npm test`: the same invariants as `npm run soak`, for SOAK_SECONDS (75 here)
 * instead of 600, so a regression of the class "correct alone, wrong under traffic, changes and
 * faults" fails CI. Each expectation names one invariant of the soak's final JSON.
 */
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface SoakResult {
  ok: boolean; error?: string; requests: number; tenants: number; byStatus: Record<string, number>; refusals: Record<string, number>;
  hangUps: number;
  devServerRestarts: { events: number; requests: number };
  metering: { admittedUnits: number; hungUpUnits: number; meteredUnits: number; mismatches: number; abuserAdmitted: number | null };
  rows: { checked: number; foreign: number; lost: number; phantom: number };
  changes: Record<string, { n: number; maxMs: number; boundMs: number }>;
  faults: { kind: string }[]; deletedTenants: number; leftovers: number;
  moves: { moved: number; rolledBack: number; fenceMs: number[] };
  memoryMb: Record<string, { flat: boolean }>; breaches: string[];
}

let result: SoakResult;
let log = '';

/** Runs the soak once; its last stdout line is the JSON result. */
async function runSoak(): Promise<SoakResult> {
  const child = spawn(resolve(ROOT, 'node_modules/.bin/tsx'), ['test/soak/soak.ts'], {
    cwd: ROOT, env: { ...process.env, SOAK_SECONDS: process.env.SOAK_SECONDS ?? '75' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  log = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  await new Promise((r) => child.once('exit', r));
  const r = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as SoakResult;
  process.stderr.write(log.split('\n').filter((l) => l.startsWith('[soak')).join('\n') + '\n');
  return r;
}

// The soak draws its faults, changes and tenants at random on a shared 2-core machine: a breached
// run is run once more (both are printed) before the invariants below fail the suite, so a
// regression that breaches every time fails, and a one-off scheduling accident does not sink CI.
beforeAll(async () => {
  result = await runSoak();
  if (!result.ok) {
    process.stderr.write(`short soak: first run breached (${result.breaches?.[0] ?? result.error}); running it once more\n`);
    result = await runSoak();
  }
}, 900_000);

describe('short soak: traffic, tenant changes and faults', () => {
  it('ran every kind of fault and change over a fleet of at least 50 tenants', () => {
    expect(result.error).toBeUndefined();
    expect(result.tenants).toBeGreaterThanOrEqual(50);
    expect(result.requests).toBeGreaterThan(500);
    expect(new Set(result.faults.map((f) => f.kind))).toEqual(new Set(['region-pause', 'guard-crash', 'redis-pause', 'control-pause', 'region-kill']));
    expect(Object.keys(result.changes)).toEqual(expect.arrayContaining(['suspend', 'resume', 'delete', 'recreate']));
    // Tenants moved between row and schema under the traffic (their rows are checked with everyone's).
    expect(result.moves.moved).toBeGreaterThanOrEqual(1);
  });

  it('no cross-tenant read or write, no acknowledged write lost', () => {
    expect(result.rows.checked).toBeGreaterThan(0);
    expect(result.rows).toMatchObject({ foreign: 0, lost: 0, phantom: 0 });
  });

  it('meters exactly what the routers admitted, deleted tenants included', () => {
    expect(result.metering.admittedUnits).toBeGreaterThan(0);
    expect(result.hangUps).toBeGreaterThan(0);
    // Exact, except that a request whose client hung up may or may not have been admitted.
    expect(result.metering.meteredUnits).toBeGreaterThanOrEqual(result.metering.admittedUnits);
    expect(result.metering.meteredUnits).toBeLessThanOrEqual(result.metering.admittedUnits + result.metering.hungUpUnits);
    expect(result.metering.mismatches).toBe(0);
  });

  it("the local dev server's own restarts are rare: at most 4 in a run (they are not the router's answers)", () => {
    expect(result.devServerRestarts.events).toBeLessThanOrEqual(4);
  });

  it('refuses no tenant within its limits, answers no 500, and every answer has the documented shape', () => {
    const within = result.breaches.filter((b) => /refused within limits|server error|documented shape|not JSON|unexpected/.test(b));
    expect(within).toEqual([]);
    expect(Object.keys(result.byStatus).filter((s) => Number(s) >= 500 && s !== '503')).toEqual([]);
  });

  it('shows every change at the edge within the documented bound', () => {
    for (const [change, v] of Object.entries(result.changes)) expect(v.maxMs, change).toBeLessThanOrEqual(v.boundMs);
  });

  it('leaves nothing of a deleted tenant in any store', () => {
    expect(result.deletedTenants).toBeGreaterThan(0);
    expect(result.leftovers).toBe(0);
  });

  it('keeps memory flat and breaches no invariant at all', () => {
    for (const [proc, m] of Object.entries(result.memoryMb)) expect(m.flat, proc).toBe(true);
    expect(result.breaches).toEqual([]);
    expect(result.ok).toBe(true);
  });
});
