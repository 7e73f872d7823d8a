/** The waves of `migrate` (pure): a canary share of the pending tenants first, then the rest, in batches. */
import { UsageError } from './command.js';

export interface Wave<T> { name: 'canary' | 'rest' | 'all'; tenants: T[] }

/** `--canary`: "5%" or "5" (a percentage, more than 0, at most 100, fractions allowed). */
export function parsePercent(value: string, option = 'canary'): number {
  const m = /^(\d+(?:\.\d+)?)%?$/.exec(value.trim());
  const p = m ? Number(m[1]) : NaN;
  if (!(p > 0 && p <= 100)) throw new UsageError(`--${option} must be a percentage more than 0 and at most 100 (e.g. 5%)`);
  return p;
}

/** `--max-failures`: a whole number, 0 or more. */
export function parseCount(value: string, option = 'max-failures'): number {
  if (!/^\d{1,9}$/.test(value)) throw new UsageError(`--${option} must be a whole number, 0 or more`);
  return Number(value);
}

/**
 * The waves over `pending` (in its order: tenant ids are random, so the first share is a random
 * sample): without a canary one wave; with one, ceil(p% of them) first (at least one), then the rest.
 */
export function planWaves<T>(pending: readonly T[], canaryPercent: number | undefined): Wave<T>[] {
  if (canaryPercent === undefined) return [{ name: 'all', tenants: [...pending] }];
  const n = Math.min(pending.length, Math.max(1, Math.ceil((pending.length * canaryPercent) / 100)));
  const waves: Wave<T>[] = [{ name: 'canary', tenants: pending.slice(0, n) }];
  if (n < pending.length) waves.push({ name: 'rest', tenants: pending.slice(n) });
  return waves;
}

/** `items` in slices of at most `size`. */
export function batches<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Whether the run must stop: more failures than allowed (no limit: never). */
export function tripped(failures: number, maxFailures: number | undefined): boolean {
  return maxFailures !== undefined && failures > maxFailures;
}

/**
 * What a stopped wave's rollback must undo: every migration its tenants got in this run, oldest
 * first; those of them that ship no `down` (then nothing is rolled back); and the tenants to
 * revert: every tenant the wave migrated, not only those that reported a migration applied. Row
 * tenants of one region share a target: the first of them to be migrated applies it, the others
 * report nothing applied, and their records must be taken back to the reverted head too.
 */
export function rollbackPlan<T extends { applied: readonly string[] }>(done: readonly T[], hasDown: ReadonlyMap<string, boolean>): { migrations: string[]; withoutDown: string[]; tenants: T[] } {
  const migrations = [...new Set(done.flatMap((d) => d.applied))].sort();
  return { migrations, withoutDown: migrations.filter((m) => !hasDown.get(m)), tenants: migrations.length > 0 ? [...done] : [] };
}
