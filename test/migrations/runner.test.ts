/** The migration runner against a real cluster, through the local Neon WebSocket proxy. */
import { describe, expect, it } from 'vitest';
import { applyMigrations } from '../../src/migrations/runner.js';
import { withClient } from '../../src/provisioning/local-provisioner.js';
import { sqlAt, stack, unique } from '../support/helpers.js';

const url = () => stack.regions['aws-us-east-2']!.postgresUrl;

describe('migration runner', () => {
  it('applies pending migrations once, in order, and records them with checksums', async () => {
    const schema = unique('mig_');
    const migrations = [
      { name: '0002_more.sql', sql: 'ALTER TABLE things ADD COLUMN note text;' },
      { name: '0001_things.sql', sql: 'CREATE TABLE things (id int PRIMARY KEY); INSERT INTO things VALUES (1);' },
    ];
    await sqlAt(url()).query(`CREATE SCHEMA ${schema}`);
    const first = await withClient(url(), (c) => applyMigrations(c, migrations, { schema }));
    expect(first).toEqual(['0001_things.sql', '0002_more.sql']);
    const again = await withClient(url(), (c) => applyMigrations(c, migrations, { schema }));
    expect(again).toEqual([]);
    const rows = await sqlAt(url()).query(`SELECT name, length(checksum) AS len FROM ${schema}.schema_migrations ORDER BY name`);
    expect(rows).toEqual([{ name: '0001_things.sql', len: 64 }, { name: '0002_more.sql', len: 64 }]);
    expect(await sqlAt(url()).query(`SELECT id, note FROM ${schema}.things`)).toEqual([{ id: 1, note: null }]);
  });

  it('refuses to run when an applied migration was edited', async () => {
    const schema = unique('mig_');
    await sqlAt(url()).query(`CREATE SCHEMA ${schema}`);
    await withClient(url(), (c) => applyMigrations(c, [{ name: '0001.sql', sql: 'CREATE TABLE a (x int);' }], { schema }));
    await expect(withClient(url(), (c) => applyMigrations(c, [{ name: '0001.sql', sql: 'CREATE TABLE a (x bigint);' }], { schema })))
      .rejects.toThrow(/changed after it was applied/);
  });

  it('rolls a failing migration back entirely and records nothing for it', async () => {
    const schema = unique('mig_');
    await sqlAt(url()).query(`CREATE SCHEMA ${schema}`);
    const err = await withClient(url(), (c) => applyMigrations(c, [
      { name: '0001.sql', sql: 'CREATE TABLE ok (x int);' },
      { name: '0002.sql', sql: 'CREATE TABLE half (x int); SELECT no_such_function();' },
    ], { schema })).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe('42883');
    const tables = await sqlAt(url()).query('SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1', [schema]);
    expect(tables).toEqual([{ tablename: 'ok' }, { tablename: 'schema_migrations' }]);
    expect(await sqlAt(url()).query(`SELECT name FROM ${schema}.schema_migrations`)).toEqual([{ name: '0001.sql' }]);
  });

  it('recorded the tenant migrations for every kind of target at provisioning', async () => {
    const shared = await sqlAt(url()).query('SELECT name FROM shared.schema_migrations');
    expect(shared).toEqual([{ name: '0001_tracks.sql' }]);
    const control = await sqlAt(stack.control.postgresUrl).query('SELECT name FROM schema_migrations ORDER BY name');
    expect(control).toEqual([{ name: '0001_tenancy.sql' }, { name: '0002_usage.sql' }, { name: '0003_control_plane.sql' }, { name: '0004_usage_sources.sql' }, { name: '0005_control_hardening.sql' }, { name: '0006_custom_hostnames.sql' }, { name: '0007_idempotency.sql' }, { name: '0008_claims_and_rechecks.sql' }, { name: '0009_quotas.sql' }, { name: '0010_tenant_proxy.sql' }, { name: '0011_storage_attempts.sql' }, { name: '0012_alerts.sql' }, { name: '0013_tenant_keys.sql' }, { name: '0014_migration_waves.sql' }, { name: '0016_tenant_moves.sql' }, { name: '0017_tenant_backups.sql' }, { name: '0018_tenant_operations.sql' }, { name: '0019_delete_claims.sql' }]);
    const eu = stack.regions['aws-eu-central-1']!.postgresUrl;
    const schema = `t_${stack.tenants.globex!.id.replace(/-/g, '')}`;
    expect(await sqlAt(eu).query(`SELECT name FROM ${schema}.schema_migrations`)).toEqual([{ name: '0001_tracks.sql' }]);
    const db = new URL(eu);
    db.pathname = `/t_${stack.tenants.initech!.id.replace(/-/g, '')}`;
    expect(await sqlAt(db.toString()).query('SELECT name FROM public.schema_migrations')).toEqual([{ name: '0001_tracks.sql' }]);
  });
});
