/**
 * What the branches of a database tenant's Neon project are for, read from their names (pure):
 * - the default branch (`main`): the tenant's live data, behind the endpoint its sealed
 *   connection string names;
 * - `restore-<T>`: a restore branch made at point in time T, to be verified and then promoted or
 *   discarded;
 * - `pre-restore-<when>`: the state the default branch had before a promotion at <when>, kept until
 *   discarded (the way back);
 * - `migrate-<T>`: a blue-green migration's branch, made at T under the write fence, migrated,
 *   verified and promoted (or discarded when the migration failed);
 * - anything else was made outside the control plane (`other`).
 */
export type BranchKind = 'main' | 'restore' | 'preserved' | 'migration' | 'other';

export interface BranchView {
  id: string;
  name: string;
  kind: BranchKind;
  default: boolean;
  parentId: string | null;
  /** The point in time the branch was made at (Neon's `parent_timestamp`). */
  parentTimestamp: string | null;
  createdAt: string;
  state: string;
}

/** Neon's branch ids: `br-` and lower-case words. */
export const BRANCH_ID = /^br-[a-z0-9-]{1,57}$/;

/** `2026-12-03T12:51:20.048Z` → `20261203T125120048Z`: sortable, and only characters every name allows. */
export function stamp(at: Date): string {
  return at.toISOString().replace(/[-:.]/g, '');
}

export const restoreName = (at: Date): string => `restore-${stamp(at)}`;
export const preservedName = (now: Date): string => `pre-restore-${stamp(now)}`;
export const migrationName = (at: Date): string => `migrate-${stamp(at)}`;

export function branchKind(name: string, isDefault: boolean): BranchKind {
  if (isDefault) return 'main';
  if (/^restore-\d{8}T\d{9}Z$/.test(name)) return 'restore';
  if (/^pre-restore-\d{8}T\d{9}Z$/.test(name)) return 'preserved';
  if (/^migrate-\d{8}T\d{9}Z$/.test(name)) return 'migration';
  return 'other';
}
