/**
 * Copying a tenant's rows between placements (src/moves/copy.ts) with real databases: from the US
 * region's shared tables (row isolation, other tenants' rows beside it) to a schema of the tenant's
 * own in the EU cluster, and between two schema placements with a table of many column types. The
 * copy takes the tenant's rows only, exactly (same digest on both sides); the tail sync after
 * inserts, updates and deletes on the source moves only what changed.
 */
import { Client } from '@neondatabase/serverless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tracksSql from '../../migrations/tenant/0001_tracks.sql?raw';
import { importMasterKey } from '../../src/crypto/secret-box.js';
import { copyAll, diffDigests, digestMismatches, digestOf, PAGE_ROWS, prepareSession, syncTail, tenantTables } from '../../src/moves/copy.js';
import { LocalProvisioner } from '../../src/provisioning/local-provisioner.js';
import type { Placement } from '../../src/provisioning/provisioner.js';
import { stack } from '../support/helpers.js';

const US = 'aws-us-east-2';
const EU = 'aws-eu-central-1';
const TRACKS = { name: '0001_tracks.sql', sql: tracksSql };
const ITEMS = {
  name: '0001_items.sql', sql: `
  CREATE TABLE items (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), tenant_id uuid NOT NULL, title text NOT NULL,
    n numeric, f float8, at timestamptz, tags text[], doc jsonb, blob bytea, span interval);
  ALTER TABLE items ENABLE ROW LEVEL SECURITY; ALTER TABLE items FORCE ROW LEVEL SECURITY;
  CREATE POLICY items_tenant ON items USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);`,
};

let provisioner: LocalProvisioner;
const made: [string, Placement][] = [];
const clients: Client[] = [];

async function owner(region: string): Promise<Client> {
  const c = new Client(stack.regions[region]!.postgresUrl);
  c.on('error', () => {});
  await c.connect();
  clients.push(c);
  return c;
}

beforeAll(async () => {
  provisioner = new LocalProvisioner({
    regions: { [US]: { adminUrl: stack.regions[US]!.postgresUrl }, [EU]: { adminUrl: stack.regions[EU]!.postgresUrl } },
    routerRole: 'app_router', masterKey: await importMasterKey(stack.routerEnv.MASTER_KEY!),
  });
});
afterAll(async () => {
  for (const c of clients) await c.end().catch(() => {});
  for (const [id, p] of made) await provisioner.deprovision(id, p).catch(() => {});
});

describe('copying a tenant between placements', () => {
  it('row (US, shared tables) → schema (EU): its rows only, in pages, exact; the tail sync moves only what changed', async () => {
    const id = crypto.randomUUID();
    const neighbour = crypto.randomUUID();
    const src = await owner(US);
    await prepareSession(src, id);
    const n = PAGE_ROWS * 2 + 37;
    await src.query(`INSERT INTO shared.tracks (tenant_id, title, artist, duration_ms)
                     SELECT $1, 'track ' || i || E' \\u00e9\\t"q"', 'band', i FROM generate_series(1, $2::int) i`, [id, n]);
    await src.query("SELECT set_config('app.tenant_id', $1, false)", [neighbour]);
    await src.query("INSERT INTO shared.tracks (tenant_id, title, artist, duration_ms) VALUES ($1, 'neighbour', 'x', 1)", [neighbour]);
    await prepareSession(src, id);

    const target = await provisioner.provision({ tenantId: id, region: EU, isolation: 'schema', migrations: [TRACKS] });
    made.push([id, target]);
    const dst = await owner(EU);
    await prepareSession(dst, id);
    const tables = await tenantTables(dst, target.schemaName!);
    expect(tables).toEqual([{ name: 'tracks', key: 'id' }]);

    expect(await copyAll(src, 'shared', dst, target.schemaName!, id, tables)).toEqual({ tracks: n });
    const before = await digestOf(src, 'shared', id, tables);
    expect(before.tracks!.rows).toBe(n);
    expect(digestMismatches(before, await digestOf(dst, target.schemaName!, id, tables))).toEqual([]);
    // Nothing of the neighbour crossed over.
    expect((await dst.query(`SELECT count(*)::int AS n FROM ${target.schemaName}.tracks WHERE tenant_id <> $1`, [id])).rows).toEqual([{ n: 0 }]);

    // The tenant keeps writing to the source: 3 new, 2 changed, 4 deleted.
    await src.query("INSERT INTO shared.tracks (tenant_id, title, artist, duration_ms) SELECT $1, 'late ' || i, 'band', 5 FROM generate_series(1, 3) i", [id]);
    await src.query("UPDATE shared.tracks SET title = title || ' (edited)' WHERE id IN (SELECT id FROM shared.tracks WHERE tenant_id = $1 AND title LIKE 'track %' ORDER BY id LIMIT 2)", [id]);
    await src.query("DELETE FROM shared.tracks WHERE id IN (SELECT id FROM shared.tracks WHERE tenant_id = $1 AND title LIKE 'track %' AND title NOT LIKE '%edited%' ORDER BY id DESC LIMIT 4)", [id]);
    const moved = await digestOf(src, 'shared', id, tables);
    expect(digestMismatches(moved, await digestOf(dst, target.schemaName!, id, tables))).toEqual(['tracks']);
    expect(await syncTail(src, 'shared', dst, target.schemaName!, id, tables)).toEqual({ tracks: { inserted: 3, replaced: 2, deleted: 4 } });
    expect(digestMismatches(moved, await digestOf(dst, target.schemaName!, id, tables))).toEqual([]);
    expect(await syncTail(src, 'shared', dst, target.schemaName!, id, tables)).toEqual({ tracks: { inserted: 0, replaced: 0, deleted: 0 } });
  });

  it('schema → schema across clusters keeps every column type exact (numeric, float, timestamptz, arrays, jsonb, bytea, interval)', async () => {
    const id = crypto.randomUUID();
    const from = await provisioner.provision({ tenantId: id, region: US, isolation: 'schema', migrations: [ITEMS] });
    made.push([id, from]);
    const src = await owner(US);
    await prepareSession(src, id);
    await src.query(`INSERT INTO ${from.schemaName}.items (tenant_id, title, n, f, at, tags, doc, blob, span) VALUES
      ($1, 'a', 12345678901234567890.000000001, 0.1 + 0.2, '2026-12-02 15:04:05.123456+01', ARRAY['x', 'y,z', NULL], '{"k": [1, 2.50, null], "s": "\\u00fc"}', '\\xdeadbeef00', '1 year 2 mons 3 days 04:05:06.789'),
      ($1, 'b', NULL, 'NaN', '-infinity', '{}', 'null', '\\x', '-1 day')`, [id]);
    // The same tenant's schema name, in the other cluster, whose session defaults differ.
    const to = await provisioner.provision({ tenantId: id, region: EU, isolation: 'schema', migrations: [ITEMS] });
    made.push([id, to]);
    const dst = await owner(EU);
    await dst.query("SET TimeZone = 'Pacific/Auckland'");
    await prepareSession(dst, id);
    const tables = await tenantTables(src, from.schemaName!);
    await copyAll(src, from.schemaName!, dst, to.schemaName!, id, tables);
    const q = `SELECT title, n::text, f::text, at::text, tags::text, doc::text, encode(blob, 'hex') AS blob, span::text, r::text AS whole FROM ${from.schemaName}.items r ORDER BY title`;
    expect((await dst.query(q)).rows).toEqual((await src.query(q)).rows);
    expect(digestMismatches(await digestOf(src, from.schemaName!, id, tables), await digestOf(dst, to.schemaName!, id, tables))).toEqual([]);
  });

  it('diffDigests and digestMismatches are exact set differences', () => {
    const a = new Map([['1', 'x'], ['2', 'y'], ['3', 'z']]);
    const b = new Map([['2', 'y'], ['3', 'Z'], ['4', 'w']]);
    expect(diffDigests(a, b)).toEqual({ insert: ['1'], replace: ['3'], remove: ['4'] });
    expect(digestMismatches({ t: { rows: 1, digest: 'a' }, u: { rows: 2, digest: 'b' } }, { t: { rows: 1, digest: 'a' }, u: { rows: 2, digest: 'c' }, v: { rows: 0, digest: '' } })).toEqual(['u', 'v']);
  });
});
