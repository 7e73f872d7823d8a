/** The local provisioner: idempotent, resumable after a failure half-way, deprovisioning cleans up, unsafe roles refused. */
import { describe, expect, it } from 'vitest';
import { importMasterKey } from '../../src/crypto/secret-box.js';
import { LocalProvisioner } from '../../src/provisioning/local-provisioner.js';
import { tenantIdent } from '../../src/provisioning/provisioner.js';
import { sqlAt, stack } from '../support/helpers.js';
import { admin, createViaApi } from '../support/control.js';

const REGION = 'aws-eu-central-1';
const provisioner = async () => new LocalProvisioner({
  regions: { [REGION]: { adminUrl: stack.regions[REGION]!.postgresUrl } }, routerRole: 'app_router',
  masterKey: await importMasterKey(stack.routerEnv.MASTER_KEY!),
});
const good = { name: '0001_a.sql', sql: 'CREATE TABLE items (id int PRIMARY KEY)' };
const broken = { name: '0002_b.sql', sql: 'CREATE TABLE items (id int PRIMARY KEY)' }; // already exists: fails
const tables = async (schema: string) => ((await sqlAt(stack.regions[REGION]!.postgresUrl).query(
  'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1', [schema])) as { table_name: string }[]).map((r) => r.table_name);

describe('LocalProvisioner', () => {
  it('a schema tenant whose migrations fail half-way is completed by a retry and removed by deprovision', async () => {
    const p = await provisioner();
    const id = crypto.randomUUID();
    const ident = tenantIdent(id);
    await expect(p.provision({ tenantId: id, region: REGION, isolation: 'schema', migrations: [good, broken] })).rejects.toThrow();
    expect(await tables(ident)).toEqual(['items', 'schema_migrations']);
    const placement = await p.provision({ tenantId: id, region: REGION, isolation: 'schema', migrations: [good] });
    expect(placement).toMatchObject({ strategy: 'schema', schemaName: ident, roleName: ident });
    expect(await p.provision({ tenantId: id, region: REGION, isolation: 'schema', migrations: [good] })).toEqual(placement);
    expect(await p.migrate(id, placement, [good, { name: '0003_c.sql', sql: 'ALTER TABLE items ADD COLUMN note text' }])).toEqual(['0003_c.sql']);
    await p.deprovision(id, placement);
    expect(await tables(ident)).toEqual([]);
    await p.deprovision(id, placement); // idempotent
    const roles = await sqlAt(stack.regions[REGION]!.postgresUrl).query('SELECT 1 FROM pg_roles WHERE rolname = $1', [ident]);
    expect(roles).toHaveLength(0);
  });

  it('a database tenant is idempotent too, and its sealed URL opens a database with the migrations', async () => {
    const p = await provisioner();
    const id = crypto.randomUUID();
    const a = await p.provision({ tenantId: id, region: REGION, isolation: 'database', migrations: [good] });
    const b = await p.provision({ tenantId: id, region: REGION, isolation: 'database', migrations: [good] });
    expect(b.databaseName).toBe(a.databaseName);
    const exists = async () => ((await sqlAt(stack.regions[REGION]!.adminUrl).query('SELECT 1 FROM pg_database WHERE datname = $1', [a.databaseName])) as unknown[]).length;
    expect(await exists()).toBe(1);
    await p.deprovision(id, b);
    expect(await exists()).toBe(0);
  });
});

describe('LocalProvisioner: the serving role', () => {
  it('refuses to place a tenant behind a router role that could bypass RLS', async () => {
    const p = new LocalProvisioner({
      regions: { [REGION]: { adminUrl: stack.regions[REGION]!.postgresUrl } }, routerRole: 'postgres',
      masterKey: await importMasterKey(stack.routerEnv.MASTER_KEY!),
    });
    await expect(p.provision({ tenantId: crypto.randomUUID(), region: REGION, isolation: 'row', migrations: [] }))
      .rejects.toThrow('tenant database role is not safe to serve: role postgres is a superuser');
  });
});

describe('provision through the API', () => {
  it('retrying the provisioning of an active tenant is refused, not repeated', async () => {
    const t = await createViaApi();
    const res = await admin(`/admin/v1/tenants/${t.id}/provision`, { method: 'POST' });
    expect(res.status).toBe(409);
  });
});
