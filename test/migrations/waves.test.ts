/** The waves of `tenantctl migrate` and the pending list per target (pure). */
import { describe, expect, it } from 'vitest';
import { batches, parseCount, parsePercent, planWaves, rollbackPlan, tripped } from '../../src/cli/waves.js';
import { pendingFor } from '../../src/migrations/batch-runner.js';

const ids = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('waves', () => {
  it('takes ceil(p%) of the pending tenants as the canary (at least one), then the rest, in order', () => {
    expect(planWaves(ids(200), 5)).toEqual([{ name: 'canary', tenants: ids(10) }, { name: 'rest', tenants: ids(200).slice(10) }]);
    expect(planWaves(ids(10_019), 5)[0]!.tenants).toHaveLength(501);
    expect(planWaves(ids(3), 5)).toEqual([{ name: 'canary', tenants: [0] }, { name: 'rest', tenants: [1, 2] }]);
    expect(planWaves(ids(4), 100)).toEqual([{ name: 'canary', tenants: [0, 1, 2, 3] }]);
    expect(planWaves(ids(4), undefined)).toEqual([{ name: 'all', tenants: [0, 1, 2, 3] }]);
    expect(planWaves([], 5)).toEqual([{ name: 'canary', tenants: [] }]);
  });

  it('reads --canary as a percentage and --max-failures as a whole number, refusing anything else', () => {
    expect(parsePercent('5%')).toBe(5);
    expect(parsePercent('0.5')).toBe(0.5);
    expect(parsePercent('100%')).toBe(100);
    for (const bad of ['0%', '0', '100.5%', '-5%', 'five', '5%%', '', '1e2']) expect(() => parsePercent(bad), bad).toThrow(/--canary must be a percentage/);
    expect(parseCount('0')).toBe(0);
    expect(parseCount('12')).toBe(12);
    for (const bad of ['-1', '1.5', 'x', '', '1e3']) expect(() => parseCount(bad), bad).toThrow(/--max-failures must be a whole number/);
  });

  it('stops only past the limit, never without one', () => {
    expect(tripped(1, 1)).toBe(false);
    expect(tripped(2, 1)).toBe(true);
    expect(tripped(1, 0)).toBe(true);
    expect(tripped(10_000, undefined)).toBe(false);
  });

  it('slices batches and plans a rollback of everything the wave got, refusing it when a migration has no down', () => {
    expect(batches(ids(7), 3)).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    const downs = new Map([['0002_a.sql', true], ['0003_b.sql', false]]);
    const t = (id: string, ...applied: string[]) => ({ tenantId: id, applied });
    expect(rollbackPlan([t('a', '0002_a.sql'), t('b', '0002_a.sql')], downs)).toEqual({ migrations: ['0002_a.sql'], withoutDown: [], tenants: [t('a', '0002_a.sql'), t('b', '0002_a.sql')] });
    expect(rollbackPlan([t('a', '0003_b.sql'), t('b', '0002_a.sql', '0003_b.sql')], downs)).toMatchObject({ migrations: ['0002_a.sql', '0003_b.sql'], withoutDown: ['0003_b.sql'] });
    // A row tenant whose shared target an earlier batch had already migrated reports nothing
    // applied; it is rolled back with the others, so its record follows the target back.
    expect(rollbackPlan([t('a', '0002_a.sql'), t('b')], downs).tenants.map((x) => x.tenantId)).toEqual(['a', 'b']);
    expect(rollbackPlan([t('a'), t('b')], downs)).toEqual({ migrations: [], withoutDown: [], tenants: [] });
  });
});

describe('pendingFor', () => {
  const catalogue = [{ name: '0002_b.sql', sql: 'b', checksum: 'cb' }, { name: '0001_a.sql', sql: 'a', checksum: 'ca' }];
  it("lists the catalogue's migrations a target lacks, in name order, and refuses one whose checksum changed", () => {
    expect((pendingFor(catalogue, undefined) as { name: string }[]).map((m) => m.name)).toEqual(['0001_a.sql', '0002_b.sql']);
    expect(pendingFor(catalogue, new Map([['0001_a.sql', 'ca']]))).toEqual([catalogue[0]]);
    expect(pendingFor(catalogue, new Map([['0001_a.sql', 'ca'], ['0002_b.sql', 'cb']]))).toEqual([]);
    expect(pendingFor(catalogue, new Map([['0001_a.sql', 'other']]))).toEqual({ error: 'migration 0001_a.sql changed after it was applied' });
  });
});
