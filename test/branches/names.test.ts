/** The pure parts of src/branches/: what a branch is for, read from its name, and the comparison of counts. */
import { describe, expect, it } from 'vitest';
import { branchKind, preservedName, restoreName, stamp } from '../../src/branches/names.js';
import { compareCounts } from '../../src/branches/verify.js';

describe('branch names', () => {
  it('stamps a point in time sortably and reads the kind back', () => {
    const at = new Date('2026-12-03T12:51:20.048Z');
    expect(stamp(at)).toBe('20261203T125120048Z');
    expect(restoreName(at)).toBe('restore-20261203T125120048Z');
    expect(branchKind(restoreName(at), false)).toBe('restore');
    expect(branchKind(preservedName(at), false)).toBe('preserved');
    expect(branchKind('main', true)).toBe('main');
    // The default branch is main whatever its name; a look-alike name is not a restore branch.
    expect(branchKind(restoreName(at), true)).toBe('main');
    expect(branchKind('restore-yesterday', false)).toBe('other');
    expect(stamp(new Date('2026-12-03T12:51:21Z')) > stamp(at)).toBe(true);
  });

  it('reports the tables whose count differs, and missing tables as null', () => {
    expect(compareCounts({ tracks: 3, albums: 0 }, { tracks: 3 })).toEqual([]);
    expect(compareCounts({ tracks: 4 }, { tracks: 3, albums: 1 })).toEqual([
      { table: 'tracks', expected: 3, actual: 4 }, { table: 'albums', expected: 1, actual: null },
    ]);
  });
});
