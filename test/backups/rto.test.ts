/**
 * Restore time (RTO) of a logical backup by size, on the local stack (docs/backups.md quotes the
 * figures): tenants of 1 000 and 10 000 rows, row and schema isolation; each backup taken, the
 * rows deleted, the backup restored, and the rows checked equal to the backup. Prints one JSON
 * line per case (`backup-rto`).
 */
import { describe, expect, it } from 'vitest';
import { call as controlCall, controlEnv } from '../control/in-process.js';
import { createViaApi } from '../support/control.js';
import { sqlAt, stack } from '../support/helpers.js';
import { env } from 'cloudflare:test';
import type { BackupRecord } from '../../src/backups/store.js';
import type { RestoreReport } from '../../src/backups/restore.js';

const US = 'aws-us-east-2';
const CONTROL = controlEnv({ BACKUPS: (env as unknown as { BACKUPS: R2Bucket }).BACKUPS });
const region = sqlAt(stack.regions[US]!.postgresUrl);
const ident = (id: string) => `t_${id.replace(/-/g, '')}`;

async function inTenant(id: string, table: string, text: string, params: unknown[]): Promise<{ n: number; d: string | null }[]> {
  const [, rows] = await region.transaction([region.query("SELECT set_config('app.tenant_id', $1, true)", [id]), region.query(text.replace('$T', table), params)]);
  return rows as { n: number; d: string | null }[];
}
const digest = (id: string, table: string) => inTenant(id, table, `SELECT count(*)::int AS n, md5(string_agg(md5(r::text), '' ORDER BY r.id::text COLLATE "C")) AS d FROM $T r WHERE tenant_id = $1`, [id]);

describe('restore time by size', () => {
  for (const isolation of ['row', 'schema'] as const) {
    for (const rows of [1_000, 10_000]) {
      it(`${isolation}, ${rows} rows`, async () => {
        const t = await createViaApi({ isolation, region: US });
        const table = `${isolation === 'row' ? 'shared' : ident(t.id)}.tracks`;
        await inTenant(t.id, table, `INSERT INTO $T (tenant_id, title, artist, duration_ms) SELECT $1, 'rto-' || g, repeat('a', 40), g FROM generate_series(1, $2::int) g`, [t.id, rows]);
        const want = await digest(t.id, table);
        const t0 = Date.now();
        const res = await controlCall(CONTROL, `/admin/v1/tenants/${t.id}/backups`, { method: 'POST' });
        const backupMs = Date.now() - t0;
        const b = await res.json() as BackupRecord;
        expect(res.status, JSON.stringify(b)).toBe(201);
        await inTenant(t.id, table, 'DELETE FROM $T WHERE tenant_id = $1', [t.id]);
        const t1 = Date.now();
        const r = await controlCall(CONTROL, `/admin/v1/tenants/${t.id}/restore`, { method: 'POST', json: { backupId: b.id } });
        const restoreMs = Date.now() - t1;
        const report = await r.json() as RestoreReport;
        expect(r.status, JSON.stringify(report)).toBe(200);
        expect(await digest(t.id, table)).toEqual(want);
        expect(want[0]!.n).toBe(rows);
        console.log(JSON.stringify({ msg: 'backup-rto', isolation, rows, bytes: b.bytes, backupMs, restoreMs, fenceMs: report.fenceMs, serverRestoreMs: report.durationMs }));
      }, 180_000);
    }
  }
});
