import { describe, expect, it } from 'vitest';
import { call, errorOf, platformToken, postJson, sqlAt, stack, tenant, unique } from '../support/helpers.js';

const US = 'aws-us-east-2';
const EU = 'aws-eu-central-1';

/**
 * Counts rows titled `title` in every tracks table of every database of a cluster. Other files run
 * meanwhile: their temporary tables are skipped, and a database or schema they drop between the
 * listing and the count holds no row of ours (3D000, 42P01, 3F000 are taken as empty).
 */
async function rowsInCluster(region: string, title: string): Promise<number> {
  const admin = sqlAt(stack.regions[region]!.adminUrl);
  const dbs = await admin.query("SELECT datname FROM pg_database WHERE datname = 'app' OR datname LIKE 't\\_%'") as { datname: string }[];
  let total = 0;
  for (const { datname } of dbs) {
    const url = new URL(stack.regions[region]!.adminUrl);
    url.pathname = `/${datname}`;
    const sql = sqlAt(url.toString());
    const gone = (e: unknown) => ['3D000', '42P01', '3F000'].includes((e as { code?: string }).code ?? '');
    const tables = await sql.query(`SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS t FROM pg_tables
      WHERE tablename = 'tracks' AND schemaname !~ '^pg_temp_'`).catch((e: unknown) => { if (gone(e)) return []; throw e; }) as { t: string }[];
    for (const { t } of tables) {
      // The superuser bypasses RLS only when not forced; read with row_security off as the owner.
      const r = await sql.transaction([sql.query("SELECT set_config('row_security', 'off', true)"), sql.query(`SELECT count(*)::int AS n FROM ${t} WHERE title = $1`, [title])])
        .then(([, rows]) => rows as { n: number }[], (e: unknown) => { if (gone(e)) return [{ n: 0 }]; throw e; });
      total += r[0]!.n;
    }
  }
  return total;
}

describe('residency', () => {
  it.each(['globex', 'initech'])("EU tenant %s's rows exist only in the EU cluster", async (slug) => {
    const title = unique(`eu-only-${slug}-`);
    const host = slug === 'initech' ? 'initech.test' : `${slug}.localhost`;
    const res = await postJson(host, '/api/v1/tracks', { title, artist: 'Residency', durationMs: 1 }, await platformToken(slug));
    expect(res.status).toBe(201);
    expect(res.headers.get('x-tenant-region')).toBe(EU);
    expect(await rowsInCluster(EU, title)).toBe(1);
    expect(await rowsInCluster(US, title)).toBe(0);
  });

  it("a US tenant's rows exist only in the US cluster", async () => {
    const title = unique('us-only-');
    expect((await postJson('acme.localhost', '/api/v1/tracks', { title, artist: 'R', durationMs: 1 }, await platformToken('acme'))).status).toBe(201);
    expect(await rowsInCluster(US, title)).toBe(1);
    expect(await rowsInCluster(EU, title)).toBe(0);
  });

  it('an EU-resident tenant placed in a US region is refused with 451, never served', async () => {
    const title = unique('misplaced-');
    const res = await postJson('misplaced.localhost', '/api/v1/tracks', { title, artist: 'R', durationMs: 1 }, await platformToken('misplaced'));
    expect(res.status).toBe(451);
    expect((await errorOf(res)).code).toBe('RESIDENCY_VIOLATION');
    expect(await rowsInCluster(US, title)).toBe(0);
    expect(tenant('misplaced').region).toBe(US);
  });
});

describe('geo policy', () => {
  it('refuses a blocked country with 403 GEO_BLOCKED and lets others through', async () => {
    const token = await platformToken('hooli');
    const blocked = await call('hooli.localhost', '/api/v1/tracks', { token, cf: { country: 'KP' } });
    expect(blocked.status).toBe(403);
    expect((await errorOf(blocked)).code).toBe('GEO_BLOCKED');
    expect((await call('hooli.localhost', '/api/v1/tracks', { token, cf: { country: 'DE' } })).status).toBe(200);
  });

  it('with a country allowlist, refuses countries outside it', async () => {
    const token = await platformToken('vandelay');
    const res = await call('vandelay.localhost', '/api/v1/tracks', { token, cf: { country: 'US' }, headers: { 'cf-connecting-ip': '203.0.113.5' } });
    expect(res.status).toBe(403);
    expect((await errorOf(res)).code).toBe('GEO_BLOCKED');
  });

  it('with an IP allowlist, admits v4 and v6 addresses inside it and refuses the rest', async () => {
    const token = await platformToken('vandelay');
    const at = (ip: string) => call('vandelay.localhost', '/api/v1/tracks', { token, cf: { country: 'DE' }, headers: { 'cf-connecting-ip': ip } });
    expect((await at('203.0.113.77')).status).toBe(200);
    expect((await at('2001:db8:1::5')).status).toBe(200);
    const outside = await at('198.51.100.7');
    expect(outside.status).toBe(403);
    expect((await errorOf(outside)).code).toBe('IP_NOT_ALLOWED');
    const missing = await call('vandelay.localhost', '/api/v1/tracks', { token, cf: { country: 'DE' } });
    expect(missing.status).toBe(403);
  });

  it('applies policy only after authentication, so anonymous callers learn nothing of it', async () => {
    const res = await call('hooli.localhost', '/api/v1/tracks', { cf: { country: 'KP' } });
    expect(res.status).toBe(401);
  });
});
