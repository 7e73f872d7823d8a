/** connection_limit: the runtime role of a schema or database tenant carries it, and follows tier changes. */
import { describe, expect, it } from 'vitest';
import { ControlStore } from '../../src/tenancy/control-store.js';
import { tenantIdent } from '../../src/provisioning/provisioner.js';
import { runtimeRoleName } from '../../src/provisioning/runtime-role.js';
import { refreshStorage } from '../../src/storage/refresh.js';
import { sqlAt, stack } from '../support/helpers.js';
import { admin, createViaApi } from '../support/control.js';
import { controlEnv, servicesFor } from '../control/in-process.js';

const REGION = 'aws-us-east-2';
const connLimit = async (role: string) => {
  const [r] = await sqlAt(stack.regions[REGION]!.postgresUrl).query('SELECT rolconnlimit FROM pg_roles WHERE rolname = $1', [role]) as { rolconnlimit: number }[];
  return r?.rolconnlimit;
};
const patch = (id: string, json: unknown) => admin(`/admin/v1/tenants/${id}`, { method: 'PATCH', json });

describe('connection limit', () => {
  it("a schema tenant's role has its tier's connection_limit; a tier change moves it to a database whose role has the new one; an override changes it", async () => {
    const t = await createViaApi({ tier: 'PREMIUM', overrides: {} });
    expect(await connLimit(tenantIdent(t.id))).toBe(50);
    // ENTERPRISE is a database of its own: the tier change moves the tenant there first.
    expect((await patch(t.id, { tier: 'ENTERPRISE' })).status).toBe(200);
    const role = await runtimeRoleName(t.id);
    expect(await connLimit(tenantIdent(t.id))).toBeUndefined();
    expect(await connLimit(role)).toBe(200);
    expect((await patch(t.id, { overrides: { connectionLimit: 7 } })).status).toBe(200);
    expect(await connLimit(role)).toBe(7);
    // The router sees the same limit, for bounding interactive transactions.
    const record = await new ControlStore(stack.control.routerUrl).find({ kind: 'id', value: t.id });
    expect(record!.limits.connections).toBe(7);
  });

  it("a database tenant's login role has it too; the scheduled run sets it again when it drifted", async () => {
    const t = await createViaApi({ tier: 'ENTERPRISE', overrides: {} });
    const role = await runtimeRoleName(t.id);
    expect(await connLimit(role)).toBe(200);
    expect((await patch(t.id, { tier: 'ENTERPRISE_PLUS' })).status).toBe(200);
    expect(await connLimit(role)).toBe(500);
    // Drifted (say, a template change, which reaches its tenants through this run).
    await sqlAt(stack.regions[REGION]!.postgresUrl).query(`ALTER ROLE ${role} CONNECTION LIMIT 3`);
    const report = await refreshStorage(await servicesFor(controlEnv({ STORAGE_REFRESH_SECONDS: '0' })), { only: [t.id] });
    expect(report).toMatchObject({ measured: 1, connectionLimits: 1 });
    expect(await connLimit(role)).toBe(500);
    // A row tenant has no role of its own: the limit is only on its record.
    const row = await createViaApi({ tier: 'STANDARD' });
    expect((await new ControlStore(stack.control.routerUrl).find({ kind: 'id', value: row.id }))!.limits.connections).toBe(20);
  });
});
