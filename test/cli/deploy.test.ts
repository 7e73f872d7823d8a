/**
 * `npm run deploy`: its refusals (no environment, secrets missing or not shared, placeholders in
 * the committed configs), and its dry run, which builds both workers with their secrets files
 * exactly as the deploy would and prints the commands, without an account and without a value.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { placeholdersIn, requiredSecrets, sharedMismatches } from '../../src/deploy/deploy-checks.js';
import { parseDotenv as parseEnvFile } from '../../src/dotenv/dotenv.js';
import { WORKERS } from '../../src/deploy/targets.js';
import { ROOT } from './support.js';

const deploy = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/deploy/deploy.ts'), ...args], {
  cwd: ROOT, encoding: 'utf8', env: { ...process.env, CLOUDFLARE_API_TOKEN: '', CLOUDFLARE_ACCOUNT_ID: '' },
});
const secrets = (dir: string, given: Record<string, string>, ...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/deploy/secrets.ts'), '--secrets-dir', dir, ...args], {
  cwd: ROOT, encoding: 'utf8', env: { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SECRETS_'))), ...given },
});

const OWNER = (host: string, db: string) => `postgresql://neondb_owner:npg_${host}@ep-${host}.eu-central-1.aws.neon.tech/${db}?sslmode=require`;
/** A complete secrets folder for `env` (every option given), made by the real secrets script. */
function completeSecrets(env: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'deploy-')), '.secrets');
  const r = secrets(dir, {
    SECRETS_CONTROL_OWNER_URL: OWNER('ctl', 'control'), SECRETS_REGION_AWS_EU_CENTRAL_1: OWNER('eu', 'app'), SECRETS_NEON_API_KEY: 'napi_secretvalue',
    SECRETS_CLOUDFLARE_API_TOKEN: 'cf_secretvalue', SECRETS_UPSTASH_URL: 'https://eu1-secret.upstash.io', SECRETS_UPSTASH_TOKEN: 'AXsecretvalue',
  }, '--env', env);
  expect(r.status, r.stderr).toBe(0);
  return dir;
}

describe('npm run deploy refuses', () => {
  it('without --env: the top level is local-only', () => {
    const r = deploy();
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('refusing to deploy without --env staging|production: the top level of wrangler.toml and workers/control/wrangler.toml is the local configuration (no routes, workers.dev off), so a deploy of it would serve nothing');
  });

  it('an environment the configs do not define', () => {
    const r = deploy('--env', 'prod');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('refusing to deploy "prod": the environments are staging and production');
  });

  it('without its secrets files', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'deploy-')), '.secrets');
    const r = deploy('--env', 'production', '--secrets-dir', dir, '--dry-run');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`refusing to deploy production: ${join(dir, 'production/router.env')} does not exist; create it with npm run secrets -- --env production (docs/deploy.md)`);
  });

  it('with a required secret missing, naming it and not a single value', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'deploy-')), '.secrets');
    expect(secrets(dir, { SECRETS_CONTROL_OWNER_URL: OWNER('ctl', 'control'), SECRETS_REGION_AWS_EU_CENTRAL_1: OWNER('eu', 'app') }, '--env', 'staging').status).toBe(0);
    const r = deploy('--env', 'staging', '--secrets-dir', dir, '--dry-run');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`refusing to deploy staging: ${join(dir, 'staging/control.env')} has no NEON_API_KEY, CLOUDFLARE_API_TOKEN; set them with npm run secrets -- --env staging (docs/deploy.md)`);
    expect(r.stderr).not.toContain('npg_');
  });

  it('when the two files hold different MASTER_KEYs', () => {
    const dir = completeSecrets('staging');
    const path = join(dir, 'staging/control.env');
    writeFileSync(path, readFileSync(path, 'utf8').replace(/^MASTER_KEY='[^']*'$/m, "MASTER_KEY='k20261101:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='"));
    const r = deploy('--env', 'staging', '--secrets-dir', dir, '--dry-run');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('refusing to deploy staging: router.env and control.env must hold the same MASTER_KEY');
  });

  it('a real deploy while the committed placeholder names are still in the config', () => {
    const dir = completeSecrets('production');
    const r = deploy('--env', 'production', '--secrets-dir', dir);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('refusing to deploy production: wrangler.toml [env.production] still has placeholder names (route *.example.com/*, route api.example.com/*, route */*, var TENANT_BASE_DOMAINS, var PLATFORM_ISSUER): replace them with your own (docs/deploy.md, "Names to replace")');
    expect(r.stdout).not.toContain('deploying');
  });
});

describe('npm run deploy -- --dry-run', () => {
  it('builds router, then control, with their secrets files (names listed, values hidden) and prints the exact commands', () => {
    const dir = completeSecrets('production');
    const started = Date.now();
    const r = deploy('--env', 'production', '--secrets-dir', dir, '--dry-run');
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout;
    expect(out).toContain(`dry run: npm run deploy -- --env production would run, in this order:\n`
      + `  npx wrangler deploy --env production --secrets-file ${join(dir, 'production/router.env')}\n`
      + `  npx wrangler deploy --env production -c workers/control/wrangler.toml --secrets-file ${join(dir, 'production/control.env')}\n`);
    expect(out.indexOf('built router for production')).toBeLessThan(out.indexOf('built control for production'));
    // wrangler read each file as a deploy would: every secret is listed by name, its value hidden.
    for (const w of WORKERS) {
      for (const name of Object.keys(parseEnvFile(readFileSync(join(dir, 'production', w.secretsFile), 'utf8')))) {
        expect(out).toMatch(new RegExp(`env\\.${name} \\("\\(hidden\\)"\\)`));
      }
      expect(statSync(join(ROOT, `dist/${w.name}-production/index.js`)).mtimeMs).toBeGreaterThanOrEqual(started - 1000);
    }
    expect(out).toContain('env.TENANT_BASE_DOMAINS ("example.com")');
    expect(out).toContain('note: a real deploy would refuse: wrangler.toml [env.production] still has placeholder names');
    const values = [readFileSync(join(dir, 'production/router.env'), 'utf8'), readFileSync(join(dir, 'production/control.env'), 'utf8')]
      .flatMap((t) => Object.values(parseEnvFile(t)));
    for (const v of [...values, 'npg_ctl', 'secretvalue']) expect(out + r.stderr).not.toContain(v);
  });
});

describe('deploy checks', () => {
  it('finds no placeholder once the names are real ones, and every one the committed names leave', () => {
    const real = { name: 'tenant-router-production', routes: [{ pattern: '*.acme-saas.io/*', zone_name: 'acme-saas.io' }, { pattern: '*/*', zone_name: 'acme-hosts.net' }],
      vars: { TENANT_BASE_DOMAINS: 'acme-saas.io', NEON_REGION_PROJECTS: '{"aws-eu-central-1":"bold-meadow-123456"}', CLOUDFLARE_ZONE_ID: '023e105f4ecef8ad9ca31a8372d0c353' } };
    expect(placeholdersIn(real)).toEqual([]);
    expect(placeholdersIn({ name: 'x', routes: ['*.example.org/*', { pattern: '*/*', zone_name: 'example.net' }, { pattern: 'myexample.com/*' }],
      vars: { A: 'org-replace-me-00000000', B: '00000000000000000000000000000000', C: 'https://auth.example.com', D: 'fine' } }))
      .toEqual(['route *.example.org/*', 'route */*', 'var A', 'var B', 'var C']);
  });

  it('requires the Neon and Cloudflare credentials only where the vars use them, and MASTER_KEY and Upstash shared', () => {
    const control = WORKERS.find((w) => w.name === 'control')!;
    expect(requiredSecrets(control, { PROVISIONER: 'local' })).toEqual(['CONTROL_DATABASE_URL', 'MASTER_KEY', 'ADMIN_TOKEN', 'REGION_ADMIN_URLS']);
    expect(requiredSecrets(control, { PROVISIONER: 'neon', CUSTOM_HOSTNAMES: 'cloudflare' }).slice(-2)).toEqual(['NEON_API_KEY', 'CLOUDFLARE_API_TOKEN']);
    expect(sharedMismatches({ MASTER_KEY: 'a', UPSTASH_REDIS_REST_URL: 'u' }, { MASTER_KEY: 'a' })).toEqual(['UPSTASH_REDIS_REST_URL']);
  });
});
