/**
 * Defect 5: the TenantGuard's jurisdiction is fixed when the tenant is created, so a residency
 * change through the API can never swap the object (and reset its bucket and monthly counter).
 */
import { describe, expect, it } from 'vitest';
import { ControlStore } from '../../src/tenancy/control-store.js';
import { errorOf, stack } from '../support/helpers.js';
import { admin, createViaApi } from '../support/control.js';
import { control } from './fixtures.js';

const record = (id: string) => new ControlStore(stack.control.routerUrl).find({ kind: 'id', value: id });

describe('guard jurisdiction', () => {
  it('is set from the residency at creation and survives residency patches through the API', async () => {
    const eu = await createViaApi({ region: 'aws-eu-central-1', residency: 'EU' });
    const plain = await createViaApi({ region: 'aws-eu-central-1' });
    expect(await record(eu.id)).toMatchObject({ residency: 'EU', guardJurisdiction: 'eu' });
    expect(await record(plain.id)).toMatchObject({ residency: null, guardJurisdiction: 'global' });

    for (const [t, residency] of [[eu, null], [plain, 'EU']] as const) {
      const res = await admin(`/admin/v1/tenants/${t.id}`, { method: 'PATCH', json: { residency } });
      expect(res.status, await res.clone().text()).toBe(200);
    }
    expect(await record(eu.id)).toMatchObject({ residency: null, guardJurisdiction: 'eu' });
    expect(await record(plain.id)).toMatchObject({ residency: 'EU', guardJurisdiction: 'global' });
  });

  it('cannot be changed afterwards, even by the database owner', async () => {
    const t = await createViaApi({ region: 'aws-eu-central-1', residency: 'EU' });
    await expect(control().query("UPDATE tenants SET guard_jurisdiction = 'global' WHERE id = $1", [t.id])).rejects.toThrow(/cannot change/);
    // Any other change still goes through.
    expect((await admin(`/admin/v1/tenants/${t.id}`, { method: 'PATCH', json: { name: 'Renamed' } })).status).toBe(200);
    const bad = await admin(`/admin/v1/tenants/${t.id}`, { method: 'PATCH', json: { guardJurisdiction: 'global' } });
    if (bad.status !== 200) expect((await errorOf(bad)).code).toBe('BAD_REQUEST');
    expect(await record(t.id)).toMatchObject({ guardJurisdiction: 'eu' });
  });
});
