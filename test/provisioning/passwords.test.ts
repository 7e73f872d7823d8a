/**
 * No role password reaches a PostgreSQL log, though every cluster of the stack logs all DDL
 * (`log_statement = ddl`): the provisioners and the bootstrap send SCRAM verifiers, never
 * passwords. The fault server reports how many log lines contain a string.
 */
import { describe, expect, it } from 'vitest';
import { importMasterKey, open } from '../../src/crypto/secret-box.js';
import { LocalProvisioner } from '../../src/provisioning/local-provisioner.js';
import { NeonProvisioner } from '../../src/provisioning/neon-provisioner.js';
import { sqlAt, stack } from '../support/helpers.js';

const EU = 'aws-eu-central-1';
const TRACKS = { name: '0001_tracks.sql', sql: 'CREATE TABLE tracks (id int PRIMARY KEY)' };

/** Lines of `region`'s server log that contain `text`. */
async function logLines(region: string, text: string): Promise<number> {
  const res = await fetch(`${stack.faults}/regions/${region}/log?contains=${encodeURIComponent(text)}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { lines: number }).lines;
}

/** Waits until the log shows `text` (the server writes it asynchronously); fails if it never does. */
async function logged(region: string, text: string): Promise<void> {
  for (let i = 0; i < 40; i++) {
    if ((await logLines(region, text)) > 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`"${text}" never reached the ${region} log`);
}

describe('role passwords and the server log', () => {
  it('a database tenant of the local provisioner: its role is created in a logged statement without its password', async () => {
    const key = await importMasterKey(stack.routerEnv.MASTER_KEY!);
    const p = new LocalProvisioner({ regions: { [EU]: { adminUrl: stack.regions[EU]!.postgresUrl } }, routerRole: 'app_router', masterKey: key });
    const id = crypto.randomUUID();
    const placement = await p.provision({ tenantId: id, region: EU, isolation: 'database', migrations: [TRACKS] });
    const url = new URL(await open(key, placement.connectionSecret!, id));
    expect(await sqlAt(url.toString()).query('SELECT current_user AS "user"')).toEqual([{ user: placement.roleName }]);
    await logged(EU, `ROLE ${placement.roleName} `);
    expect(await logLines(EU, 'SCRAM-SHA-256$')).toBeGreaterThan(0);
    expect(await logLines(EU, url.password)).toBe(0);
    await p.deprovision(id, placement);
  });

  it("a Neon database tenant: neither the runtime role's password nor the owner's reaches the log", async () => {
    const key = await importMasterKey(stack.routerEnv.MASTER_KEY!);
    const p = new NeonProvisioner({
      apiKey: stack.neonApi.apiKey, baseUrl: stack.neonApi.url, masterKey: key, routerRole: 'app_router', pollIntervalMs: 20,
      regions: { [EU]: { adminUrl: stack.regions[EU]!.postgresUrl } },
    });
    const id = crypto.randomUUID();
    const placement = await p.provision({ tenantId: id, region: EU, isolation: 'database', migrations: [TRACKS] });
    const runtime = new URL(await open(key, placement.connectionSecret!, id));
    const ident = placement.databaseName!;
    const res = await fetch(`${stack.neonApi.url}/projects/${placement.externalRef}/connection_uri?database_name=${ident}&role_name=${ident}`,
      { headers: { authorization: `Bearer ${stack.neonApi.apiKey}` } });
    const owner = new URL(((await res.json()) as { uri: string }).uri);
    await logged(EU, `ROLE ${placement.roleName} `);
    expect(await logLines(EU, runtime.password)).toBe(0);
    expect(await logLines(EU, owner.password)).toBe(0);
    await p.deprovision(id, placement);
  });

  it("the bootstrap's router and control roles: created without their passwords in the log", async () => {
    for (const [region, { routerUrl }] of Object.entries(stack.regions)) {
      await logged(region, 'ROLE app_router ');
      expect(await logLines(region, new URL(routerUrl).password)).toBe(0);
    }
    await logged('control', 'ROLE control_router ');
    expect(await logLines('control', new URL(stack.control.routerUrl).password)).toBe(0);
  });
});
