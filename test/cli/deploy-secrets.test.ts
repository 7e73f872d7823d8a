/**
 * `npm run secrets`: fresh keys in the key-ring format, router database URLs composed from the
 * owner URLs, values kept across runs unless rotated, refusals of bad input, and files written
 * 0600 in a 0700 folder, with nothing but names on the terminal; given values come from
 * SECRETS_* variables or an --input file (or stdin), never from arguments.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDotenv as formatEnvFile, parseDotenv as parseEnvFile } from '../../src/dotenv/dotenv.js';
import { newKid, ringKids } from '../../src/deploy/key-ring.js';
import { planSecrets, type SecretsInput } from '../../src/deploy/secrets-plan.js';
import { secretsInput } from '../../src/deploy/secrets-input.js';
import type { Randomness } from '../../src/deploy/secret-values.js';
import { importJWK, jwtVerify, SignJWT } from 'jose';
import { parseSigningKeys } from '../../src/proxy/signing-keys.js';
import { ROOT } from './support.js';

/** Deterministic randomness: each call's bytes differ (a counter from `seed`), on a fixed day. */
function counter(day = '2026-12-02T10:00:00Z', seed = 0): Randomness {
  let n = seed;
  return { bytes: (len) => { n += 1; return Uint8Array.from({ length: len }, (_, i) => (n * 37 + i * 11) % 256); }, now: () => new Date(day) };
}

const EU_OWNER = 'postgresql://neondb_owner:npg_eu@ep-eu-1.eu-central-1.aws.neon.tech/app?sslmode=require';
const US_OWNER = 'postgresql://neondb_owner:npg_us@ep-us-1.us-east-2.aws.neon.tech/app?sslmode=require';
const CONTROL_OWNER = 'postgresql://neondb_owner:npg_ctl@ep-ctl-1.eu-central-1.aws.neon.tech/control?sslmode=require';
const FULL: SecretsInput = {
  controlOwnerUrl: CONTROL_OWNER, regions: { 'aws-eu-central-1': EU_OWNER, 'aws-us-east-2': US_OWNER },
  upstashUrl: 'https://eu1-test.upstash.io', upstashToken: 'AXupstash', neonApiKey: 'napi_key', cloudflareApiToken: 'cf_token',
  rotate: new Set(),
};
const none = { router: {}, control: {} };

describe('planSecrets', () => {
  it('generates key rings, an admin token and router URLs on the owners\' hosts with the router roles', () => {
    const { files, missing } = planSecrets(FULL, none, counter());
    expect(missing).toEqual([]);
    expect(files.router.MASTER_KEY).toMatch(/^k20261202:[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(files.router.MASTER_KEY!.split(':')[1]!, 'base64')).toHaveLength(32);
    expect(files.control.MASTER_KEY).toBe(files.router.MASTER_KEY);
    expect(files.router.PLATFORM_JWT_SECRET).toMatch(/^k20261202:[A-Za-z0-9_-]{43}$/);
    expect(files.control.ADMIN_TOKEN!.length).toBeGreaterThanOrEqual(32);
    const ctl = new URL(files.router.CONTROL_DATABASE_URL!);
    expect([ctl.username, ctl.hostname, ctl.pathname, ctl.search]).toEqual(['control_router', 'ep-ctl-1.eu-central-1.aws.neon.tech', '/control', '?sslmode=require']);
    expect(ctl.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const regions = JSON.parse(files.router.REGION_DATABASE_URLS!) as Record<string, string>;
    expect(Object.keys(regions)).toEqual(['aws-eu-central-1', 'aws-us-east-2']);
    const eu = new URL(regions['aws-eu-central-1']!);
    expect([eu.username, eu.hostname, eu.pathname]).toEqual(['app_router', 'ep-eu-1.eu-central-1.aws.neon.tech', '/app']);
    expect(eu.password).not.toBe(new URL(regions['aws-us-east-2']!).password);
    expect(JSON.parse(files.control.REGION_ADMIN_URLS!)).toEqual({ 'aws-eu-central-1': EU_OWNER, 'aws-us-east-2': US_OWNER });
    expect(files.control.CONTROL_DATABASE_URL).toBe(CONTROL_OWNER);
    expect(files.router.UPSTASH_REDIS_REST_TOKEN).toBe('AXupstash');
    expect(files.control.UPSTASH_REDIS_REST_URL).toBe('https://eu1-test.upstash.io');
    expect(files.control.NEON_API_KEY).toBe('napi_key');
    expect(files.control.CLOUDFLARE_API_TOKEN).toBe('cf_token');
    expect(files.router.NEON_API_KEY).toBeUndefined();
  });

  it('keeps every value on a second run, whatever the randomness', () => {
    const first = planSecrets(FULL, none, counter());
    const again = planSecrets({ regions: {}, rotate: new Set() }, first.files, counter('2027-03-01T00:00:00Z', 100));
    expect(again.files).toEqual(first.files);
    expect(again.missing).toEqual([]);
    expect(again.report.filter((l) => l.startsWith('generated') || l.startsWith('rotated'))).toEqual([]);
  });

  it('--rotate MASTER_KEY puts a new key in front and keeps the old one, and changes nothing else', () => {
    const first = planSecrets(FULL, none, counter());
    const { files, report } = planSecrets({ regions: {}, rotate: new Set(['MASTER_KEY']) }, first.files, counter(undefined, 100));
    expect(ringKids(files.router.MASTER_KEY)).toEqual(['k20261202-2', 'k20261202']);
    expect(files.router.MASTER_KEY!.endsWith(`,${first.files.router.MASTER_KEY}`)).toBe(true);
    expect(files.control.MASTER_KEY).toBe(files.router.MASTER_KEY);
    expect({ ...files.router, MASTER_KEY: '' }).toEqual({ ...first.files.router, MASTER_KEY: '' });
    expect(report).toContain('rotated   MASTER_KEY');
  });

  it('generates CONTEXT_SIGNING_KEY as a ring of ES256 private JWKs that sign what their public halves verify; --rotate keeps the old key', async () => {
    const first = planSecrets(FULL, none, counter());
    const parsed = parseSigningKeys(first.files.router.CONTEXT_SIGNING_KEY!);
    if (!parsed.ok) throw new Error(parsed.error);
    expect(parsed.ring.current).toBe('k20261202');
    const jwk = parsed.ring.keys.get('k20261202')!;
    const jwt = await new SignJWT({ tid: 't' }).setProtectedHeader({ alg: 'ES256' }).sign(await importJWK(jwk, 'ES256'));
    const { payload } = await jwtVerify(jwt, await importJWK({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, 'ES256'));
    expect(payload.tid).toBe('t');
    expect(first.files.control.CONTEXT_SIGNING_KEY).toBeUndefined();
    const { files } = planSecrets({ regions: {}, rotate: new Set(['CONTEXT_SIGNING_KEY']) }, first.files, counter(undefined, 100));
    expect(ringKids(files.router.CONTEXT_SIGNING_KEY)).toEqual(['k20261202-2', 'k20261202']);
    expect(files.router.CONTEXT_SIGNING_KEY!.endsWith(`,${first.files.router.CONTEXT_SIGNING_KEY}`)).toBe(true);
    expect({ ...files.router, CONTEXT_SIGNING_KEY: '' }).toEqual({ ...first.files.router, CONTEXT_SIGNING_KEY: '' });
  });

  it('--rotate ROUTER_PASSWORDS gives the router roles new passwords on the same hosts, owners untouched', () => {
    const first = planSecrets(FULL, none, counter());
    const { files } = planSecrets({ regions: {}, rotate: new Set(['ROUTER_PASSWORDS']) }, first.files, counter('2026-12-03T00:00:00Z', 100));
    const before = new URL(first.files.router.CONTROL_DATABASE_URL!);
    const after = new URL(files.router.CONTROL_DATABASE_URL!);
    expect(after.password).not.toBe(before.password);
    expect(after.host).toBe(before.host);
    expect(files.control).toEqual(first.files.control);
  });

  it('--rotate ROUTER_PASSWORDS alternates the login roles (single → _a → _b → _a), so the deployed one keeps working; without it the role stays', () => {
    const users = (f: { router: Record<string, string> }) => [new URL(f.router.CONTROL_DATABASE_URL!).username,
      ...Object.values(JSON.parse(f.router.REGION_DATABASE_URLS!) as Record<string, string>).map((u) => new URL(u).username)];
    const rotate: SecretsInput = { regions: {}, rotate: new Set(['ROUTER_PASSWORDS']) };
    let files = planSecrets(FULL, none, counter()).files;
    expect(users(files)).toEqual(['control_router', 'app_router', 'app_router']);
    const seen: string[][] = [];
    for (let i = 0; i < 3; i++) {
      const next = planSecrets(rotate, files, counter('2026-12-03T00:00:00Z', 100 + i * 50)).files;
      expect(new URL(next.router.CONTROL_DATABASE_URL!).password).not.toBe(new URL(files.router.CONTROL_DATABASE_URL!).password);
      files = next;
      seen.push(users(files));
    }
    expect(seen).toEqual([
      ['control_router_a', 'app_router_a', 'app_router_a'], ['control_router_b', 'app_router_b', 'app_router_b'], ['control_router_a', 'app_router_a', 'app_router_a'],
    ]);
    const kept = planSecrets({ regions: {}, rotate: new Set() }, files, counter(undefined, 500)).files;
    expect(kept.router).toEqual(files.router);
  });

  it('a new owner URL moves the router URL to its host and keeps the router password', () => {
    const first = planSecrets(FULL, none, counter());
    const moved = 'postgresql://neondb_owner:npg_eu2@ep-eu-2.eu-central-1.aws.neon.tech/app?sslmode=require';
    const { files, report } = planSecrets({ regions: { 'aws-eu-central-1': moved }, rotate: new Set() }, first.files, counter(undefined, 100));
    const eu = new URL((JSON.parse(files.router.REGION_DATABASE_URLS!) as Record<string, string>)['aws-eu-central-1']!);
    expect(eu.hostname).toBe('ep-eu-2.eu-central-1.aws.neon.tech');
    expect(eu.password).toBe(new URL((JSON.parse(first.files.router.REGION_DATABASE_URLS!) as Record<string, string>)['aws-eu-central-1']!).password);
    expect((JSON.parse(files.control.REGION_ADMIN_URLS!) as Record<string, string>)['aws-us-east-2']).toBe(US_OWNER);
    expect(report.some((l) => l.includes('aws-eu-central-1, aws-us-east-2'))).toBe(true);
  });

  it('lists what deploy will need and is still absent, by variable and option', () => {
    const { missing, files } = planSecrets({ regions: {}, rotate: new Set() }, none, counter());
    expect(missing).toEqual(['CONTROL_DATABASE_URL (SECRETS_CONTROL_OWNER_URL)', 'REGION_ADMIN_URLS (SECRETS_REGION_<REGION>, as SECRETS_REGION_AWS_EU_CENTRAL_1)',
      'NEON_API_KEY (SECRETS_NEON_API_KEY)', 'CLOUDFLARE_API_TOKEN (SECRETS_CLOUDFLARE_API_TOKEN)']);
    expect(Object.keys(files.router).sort()).toEqual(['CONTEXT_SIGNING_KEY', 'MASTER_KEY', 'PLATFORM_JWT_SECRET']);
  });

  it('refuses bad input with one sentence', () => {
    const plan = (i: Partial<SecretsInput>, old = none) => () => planSecrets({ regions: {}, rotate: new Set(), ...i }, old, counter());
    expect(plan({ controlOwnerUrl: 'postgresql://neondb_owner@ep-1.aws.neon.tech/control' })).toThrow('SECRETS_CONTROL_OWNER_URL must name the owner role and its password');
    expect(plan({ controlOwnerUrl: 'https://ep-1.aws.neon.tech/control' })).toThrow('must be a postgres:// URL');
    expect(plan({ regions: { 'aws-eu-central-1': 'postgresql://o:p@ep-1.aws.neon.tech/' } })).toThrow('must name its database');
    expect(plan({ regions: { 'eu-mars-1': EU_OWNER } })).toThrow('unknown region "eu-mars-1"');
    expect(plan({ upstashUrl: 'https://x.upstash.io' })).toThrow('SECRETS_UPSTASH_URL and SECRETS_UPSTASH_TOKEN go together');
    expect(plan({ upstashUrl: 'http://x.upstash.io', upstashToken: 't' })).toThrow('https:// REST URL');
    expect(plan({}, { router: { MASTER_KEY: 'k20261201:a' }, control: { MASTER_KEY: 'k20261201:b' } })).toThrow('different MASTER_KEY values');
  });

  it('reports names only: no generated or given value appears in the report', () => {
    const { files, report } = planSecrets(FULL, none, counter());
    const values = [...Object.values(files.router), ...Object.values(files.control)];
    const passwords = [files.router.CONTROL_DATABASE_URL!, ...Object.values(JSON.parse(files.router.REGION_DATABASE_URLS!) as Record<string, string>)].map((u) => new URL(u).password);
    for (const secret of [...values, ...passwords, 'npg_eu', 'napi_key', 'cf_token', 'AXupstash']) {
      expect(report.join('\n')).not.toContain(secret);
    }
  });
});

describe('key rings and the file format', () => {
  it('kids are k<yyyymmdd>, suffixed when the ring holds that day already', () => {
    expect(newKid(new Date('2026-12-02T23:59:59Z'))).toBe('k20261202');
    expect(newKid(new Date('2026-12-02T00:00:00Z'), 'k20261202:AAAA,k20261202-2:BBBB')).toBe('k20261202-3');
    expect(ringKids('k20261202-2:ab+/=,k20261101:cd_-')).toEqual(['k20261202-2', 'k20261101']);
  });

  it('writes single-quoted values that read back exactly (JSON, #, $ included) and refuses a quote', () => {
    const values = { A: '{"aws-eu-central-1":"postgresql://u:p@h/app?sslmode=require"}', B: 'x#y $HOME `z`', C: 'k20261202:ab+/=' };
    const text = formatEnvFile(['header'], Object.entries(values).map(([name, value]) => ({ name, value, comment: `about ${name}` })));
    expect(text).toContain("# about A\nA='{\"aws-eu-central-1\"");
    expect(parseEnvFile(text)).toEqual(values);
    expect(() => formatEnvFile([], [{ name: 'A', value: "it's" }])).toThrow('A contains a quote or a line break');
  });
});

/** The given values as `npm run secrets` reads them: SECRETS_* variables. */
const GIVEN: Record<string, string> = {
  SECRETS_CONTROL_OWNER_URL: CONTROL_OWNER, SECRETS_REGION_AWS_EU_CENTRAL_1: EU_OWNER, SECRETS_NEON_API_KEY: 'napi_key',
  SECRETS_CLOUDFLARE_API_TOKEN: 'cf_token', SECRETS_UPSTASH_URL: 'https://eu1-test.upstash.io', SECRETS_UPSTASH_TOKEN: 'AXupstash',
};
/** The runner's environment without any SECRETS_* of its own, plus `extra`. */
const envWith = (extra: Record<string, string> = {}) =>
  ({ ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SECRETS_'))), ...extra });

describe('secretsInput', () => {
  it('takes SECRETS_* variables, the --input file over the environment, regions by their upper-cased id, empty as absent', () => {
    const input = secretsInput({ SECRETS_NEON_API_KEY: 'from-env', SECRETS_UPSTASH_URL: '', PATH: '/bin', CLOUDFLARE_API_TOKEN: 'wranglers-own' },
      { SECRETS_NEON_API_KEY: 'from-file', SECRETS_REGION_AWS_US_EAST_2: US_OWNER }, new Set());
    expect(input).toEqual({ controlOwnerUrl: undefined, regions: { 'aws-us-east-2': US_OWNER }, upstashUrl: undefined, upstashToken: undefined,
      neonApiKey: 'from-file', cloudflareApiToken: undefined, rotate: new Set() });
  });

  it('refuses an unknown SECRETS_ name or region, naming the variable and not its value', () => {
    expect(() => secretsInput({ SECRETS_NEON_KEY: 'napi_zzz' }, {}, new Set())).toThrow(/^SECRETS_NEON_KEY is not a variable npm run secrets reads/);
    expect(() => secretsInput({}, { SECRETS_REGION_MARS_1: 'postgres://o:pw_zzz@h/app' }, new Set())).toThrow(/^SECRETS_REGION_MARS_1 names no region/);
    expect(() => secretsInput({}, { NEON_API_KEY: 'napi_zzz' }, new Set())).toThrow(/^the input file holds NEON_API_KEY/);
    for (const f of [() => secretsInput({ SECRETS_NEON_KEY: 'napi_zzz' }, {}, new Set()), () => secretsInput({}, { NEON_API_KEY: 'napi_zzz' }, new Set())]) {
      try { f(); } catch (err) { expect((err as Error).message).not.toContain('zzz'); }
    }
  });
});

describe('npm run secrets', () => {
  const run = (dir: string, args: string[], env: Record<string, string> = {}, stdin?: string) => spawnSync(process.execPath,
    ['--import', 'tsx', join(ROOT, 'src/deploy/secrets.ts'), '--secrets-dir', dir, ...args], { cwd: ROOT, encoding: 'utf8', env: envWith(env), input: stdin });

  it('writes both files 0600 in 0700 folders, prints names and commands but no value, and keeps them on a rerun', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'secrets-')), '.secrets');
    const r = run(dir, ['--env', 'staging'], GIVEN);
    expect(r.status, r.stderr).toBe(0);
    for (const d of [dir, join(dir, 'staging')]) expect(statSync(d).mode & 0o777).toBe(0o700);
    const router = readFileSync(join(dir, 'staging/router.env'), 'utf8');
    const control = readFileSync(join(dir, 'staging/control.env'), 'utf8');
    for (const f of ['router.env', 'control.env']) expect(statSync(join(dir, 'staging', f)).mode & 0o777).toBe(0o600);
    const values = { ...parseEnvFile(router), ...parseEnvFile(control) };
    expect(Object.keys(parseEnvFile(router)).sort()).toEqual(['CONTEXT_SIGNING_KEY', 'CONTROL_DATABASE_URL', 'MASTER_KEY', 'PLATFORM_JWT_SECRET', 'REGION_DATABASE_URLS', 'UPSTASH_REDIS_REST_TOKEN', 'UPSTASH_REDIS_REST_URL']);
    expect(Object.keys(parseEnvFile(control)).sort()).toEqual(['ADMIN_TOKEN', 'CLOUDFLARE_API_TOKEN', 'CONTROL_DATABASE_URL', 'MASTER_KEY', 'NEON_API_KEY', 'REGION_ADMIN_URLS', 'UPSTASH_REDIS_REST_TOKEN', 'UPSTASH_REDIS_REST_URL']);
    for (const v of [...Object.values(values), new URL(parseEnvFile(router).CONTROL_DATABASE_URL!).password]) {
      expect(r.stdout + r.stderr).not.toContain(v);
    }
    expect(r.stdout).toContain(`npx wrangler secret bulk ${join(dir, 'staging/router.env')} --env staging\n`);
    expect(r.stdout).toContain(`npx wrangler secret bulk ${join(dir, 'staging/control.env')} --env staging -c workers/control/wrangler.toml`);
    expect(r.stdout).toContain('shared by both workers (one value in both files): MASTER_KEY, UPSTASH_REDIS_REST_URL, UPSTASH_REDIS_REST_TOKEN');

    const again = run(dir, ['--env', 'staging']);
    expect(again.status, again.stderr).toBe(0);
    expect(readFileSync(join(dir, 'staging/router.env'), 'utf8')).toBe(router);
    expect(readFileSync(join(dir, 'staging/control.env'), 'utf8')).toBe(control);
  });

  it('refuses to run without an environment or with an unknown rotation, writing nothing', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'secrets-')), '.secrets');
    const noEnv = run(dir, []);
    expect(noEnv.status).toBe(2);
    expect(noEnv.stderr.trim()).toBe('secrets are per environment: pass --env staging or --env production');
    const badRotate = run(dir, ['--env', 'production', '--rotate', 'NEON_API_KEY']);
    expect(badRotate.status).toBe(2);
    expect(badRotate.stderr.trim()).toBe('--rotate takes MASTER_KEY, PLATFORM_JWT_SECRET, CONTEXT_SIGNING_KEY, ADMIN_TOKEN, ROUTER_PASSWORDS (the value given is none of them)');
    expect(() => statSync(dir)).toThrow();
  });

  it('reads the given values from an --input file, or from standard input (--input -), with the same result as the environment', () => {
    const fromEnv = join(mkdtempSync(join(tmpdir(), 'secrets-')), '.secrets');
    expect(run(fromEnv, ['--env', 'staging'], GIVEN).status).toBe(0);
    const file = join(mkdtempSync(join(tmpdir(), 'secrets-in-')), 'given.env');
    const text = formatEnvFile(['the owner URLs and tokens'], Object.entries(GIVEN).map(([name, value]) => ({ name, value })));
    writeFileSync(file, text, { mode: 0o600 });
    for (const [args, stdin] of [[['--env', 'staging', '--input', file], undefined], [['--env', 'staging', '--input', '-'], text]] as const) {
      const dir = join(mkdtempSync(join(tmpdir(), 'secrets-')), '.secrets');
      const r = run(dir, [...args], {}, stdin);
      expect(r.status, r.stderr).toBe(0);
      const keys = (f: string) => Object.keys(parseEnvFile(readFileSync(f, 'utf8'))).sort();
      expect(keys(join(dir, 'staging/control.env'))).toEqual(keys(join(fromEnv, 'staging/control.env')));
      expect(parseEnvFile(readFileSync(join(dir, 'staging/control.env'), 'utf8')).CONTROL_DATABASE_URL).toBe(CONTROL_OWNER);
      expect(r.stdout).not.toContain('npg_');
    }
  });

  it('takes no value on the command line: the old options, a stray argument and a bad input file are refused without echoing what was typed', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'secrets-')), '.secrets');
    const secret = 'postgresql://neondb_owner:npg_LEAKED@ep-ctl-1.aws.neon.tech/control';
    const retired = run(dir, ['--env', 'staging', '--control-owner-url', secret]);
    expect(retired.status).toBe(2);
    expect(retired.stderr).toContain('--control-owner-url is no longer taken on the command line');
    expect(retired.stderr).toContain('set SECRETS_CONTROL_OWNER_URL in the environment or in the --input file');
    const inline = run(dir, ['--env', 'staging', `--region=aws-eu-central-1=${secret}`]);
    expect(inline.status).toBe(2);
    expect(inline.stderr).toContain('--region is no longer taken on the command line');
    const stray = run(dir, ['--env', 'staging', secret]);
    expect(stray.status).toBe(2);
    expect(stray.stderr).toContain('an argument that belongs to no option (not shown');
    const unknown = run(dir, ['--env', 'staging', `--owner=${secret}`]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr.trim()).toBe('unknown option --owner: the options are --env, --secrets-dir, --input, --rotate');
    const badFile = join(mkdtempSync(join(tmpdir(), 'secrets-in-')), 'bad.env');
    writeFileSync(badFile, `SECRETS_NEON_API_KEY='napi_LEAKED\n${secret}\n`);
    const bad = run(dir, ['--env', 'staging', '--input', badFile]);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe(`--input ${badFile}: line 1 has an unterminated quote`);
    for (const r of [retired, inline, stray, unknown, bad]) expect(r.stdout + r.stderr).not.toContain('LEAKED');
    expect(() => statSync(dir)).toThrow();
  });
});

describe('a platform token for a deployed router', () => {
  it('is HS256 under the ring\'s current key, names it in the header, and carries the environment\'s iss and aud', async () => {
    const { jwtVerify, decodeProtectedHeader } = await import('jose');
    const dir = join(mkdtempSync(join(tmpdir(), 'token-')), '.secrets');
    const old = 'k20261101:' + 'o'.repeat(43);
    mkdirSync(join(dir, 'staging'), { recursive: true });
    writeFileSync(join(dir, 'staging/router.env'), `PLATFORM_JWT_SECRET='k20261202:${'n'.repeat(43)},${old}'\n`);
    const id = '0b7e4c1a-2f3d-4e5f-8a9b-0c1d2e3f4a5b';
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/deploy/token.ts'), '--env', 'staging', '--tenant', id, '--secrets-dir', dir], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const token = r.stdout.trim();
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT', kid: 'k20261202' });
    const { payload } = await jwtVerify(token, new TextEncoder().encode('n'.repeat(43)), { issuer: 'https://auth.staging.example.com', audience: 'tenant-router', algorithms: ['HS256'] });
    expect(payload.tid).toBe(id);
    expect(payload.exp! - payload.iat!).toBe(3600);
    await expect(jwtVerify(token, new TextEncoder().encode('o'.repeat(43)))).rejects.toThrow();
    const slug = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/deploy/token.ts'), '--env', 'staging', '--tenant', 'acme', '--secrets-dir', dir], { cwd: ROOT, encoding: 'utf8' });
    expect(slug.status).toBe(2);
    expect(slug.stderr).toContain('platform tokens never carry a slug');
  });
});
