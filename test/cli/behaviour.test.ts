/**
 * tenantctl as a command-line tool: --version, help for every group and command, "did you mean"
 * for mistyped commands and options, and one-line failures when the control plane is slow or gone.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, ROOT, spawnCli, tenantctl } from './support.js';

const VERSION = (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const bare = (args: string[], env: NodeJS.ProcessEnv = {}) => collect(spawnCli(args, { stack: false, env, cwd: tmpdir() }));

describe('tenantctl --version and --help', () => {
  it("prints the package's version with --version and -V, from any directory", async () => {
    for (const flag of ['--version', '-V']) {
      const r = await bare([flag]);
      expect(r).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
    }
  });

  it('lists every group and command; each command has its own help with options and an example', async () => {
    const help = await bare(['--help']);
    expect(help.code).toBe(0);
    const groups = /^groups: (.+)$/m.exec(help.stdout)?.[1]?.split(', ');
    expect(groups).toEqual(expect.arrayContaining(['tenant', 'domain', 'tier', 'audit', 'migrations']));
    const commands = [...help.stdout.matchAll(/^ {2}([a-z]+(?: [a-z]+)*?)(?: <[^>]+>(?:\.\.\.)?)* {2,}\S/gm)].map((m) => m[1]!);
    for (const c of ['tenant update', 'tenant provision', 'tenant migrate', 'tenant jwt set', 'tenant jwt remove', 'tenant geo set',
      'tenant geo clear', 'tier show', 'tier create', 'tier update', 'tier delete', 'migrations list', 'migrations status', 'migrations add']) {
      expect(commands).toContain(c);
    }
    // The domain, keys and bootstrap commands are covered by their own files.
    const mine = commands.filter((x) => !/^(domain|keys|bootstrap)\b/.test(x));
    for (let i = 0; i < mine.length; i += 6) {
      await Promise.all(mine.slice(i, i + 6).map(async (c) => {
        const r = await bare([...c.split(' '), '--help']);
        expect(r.code, c).toBe(0);
        expect(r.stdout, c).toMatch(new RegExp(`^usage: tenantctl ${c}\\b`));
        expect(r.stdout, c).toMatch(new RegExp(`^examples:\\n {2}tenantctl ${c}\\b`, 'm'));
        expect(r.stdout, c).toMatch(/^ {2}--timeout SECONDS +give up on an API call/m);
      }));
    }
    const jwt = await bare(['tenant', 'jwt', 'set', '--help']);
    expect(jwt.stdout).toMatch(/^ {2}--jwks-url URL +where its public keys are .*\(required\)$/m);
    const group = await bare(['tenant', 'geo', '--help']);
    expect(group.code).toBe(0);
    expect(group.stdout).toMatch(/^usage: tenantctl tenant geo <command>/);
    expect(group.stdout).toMatch(/^ {2}tenant geo clear <id\|slug> +Empty every list/m);
  });
});

describe('tenantctl did you mean', () => {
  it('suggests the nearest command or group for a typo (exit 2)', async () => {
    const cases: [string[], string][] = [
      [['tenant', 'craete'], 'error: unknown command "tenant craete". Did you mean "tenant create"?'],
      [['tenat', 'list'], 'error: unknown command "tenat list". Did you mean "tenant list"?'],
      [['tenant', 'jwt', 'st', 'acme'], 'error: unknown command "tenant jwt st". Did you mean "tenant jwt set"?'],
      [['migration', 'stauts'], 'error: unknown command "migration stauts". Did you mean "migrations status"?'],
      [['usge', 'acme'], 'error: unknown command "usge". Did you mean "usage"?'],
      [['tier', 'delet', 'X'], 'error: unknown command "tier delet". Did you mean "tier delete"?'],
    ];
    for (const [args, line] of cases) {
      const r = await bare(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toBe(`${line}\n`);
    }
    const far = await bare(['tenant', 'frobnicate']);
    expect(far.code).toBe(2);
    expect(far.stderr).toBe('error: unknown command "tenant frobnicate" (tenantctl tenant --help lists the commands)\n');
  });

  it('suggests the nearest option, the command\'s or a global one (exit 2)', async () => {
    const r = await bare(['tenant', 'create', 'x', '--tier', 'FREE', '--regoin', 'aws-us-east-2']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('error: unknown option "--regoin". Did you mean "--region"?');
    expect(r.stderr).toMatch(/^usage: tenantctl tenant create <slug> --tier T --region R \[options\]$/m);
    const global = await bare(['tier', 'list', '--timeuot', '3']);
    expect(global.stderr.split('\n')[0]).toBe('error: unknown option "--timeuot". Did you mean "--timeout"?');
    const none = await bare(['tier', 'list', '--zzzzzz']);
    expect(none.code).toBe(2);
    expect(none.stderr.split('\n')[0]).toBe('error: unknown option "--zzzzzz"');
  });
});

describe('tenantctl timeout and network failures', () => {
  let server: Server;
  let url: string;
  const held: import('node:net').Socket[] = [];
  beforeAll(async () => {
    // Accepts the connection and reads the request, but never answers it.
    server = createServer(() => {});
    server.on('connection', (s) => held.push(s));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of held) s.destroy();
    server.close();
  });

  it('gives up after --timeout seconds with one line, exit 1', async () => {
    const t0 = Date.now();
    const r = await bare(['--url', url, '--token', 'secret-xyz', '--timeout', '1', 'tier', 'list']);
    const ms = Date.now() - t0;
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error TIMEOUT: the control plane did not answer within 1 s (GET ${url}/admin/v1/tiers)\n`);
    expect(r.stdout).toBe('');
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(ms).toBeLessThan(6000);
  });

  it('takes TENANTCTL_TIMEOUT from the environment; a bad value is refused before any call', async () => {
    const t0 = Date.now();
    const r = await bare(['--url', url, '--token', 'x', 'tenant', 'show', 'acme'], { TENANTCTL_TIMEOUT: '0.5' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error TIMEOUT: the control plane did not answer within 0.5 s (GET ${url}/admin/v1/tenants/acme)\n`);
    expect(Date.now() - t0).toBeLessThan(5000);

    const env = await bare(['--url', url, '--token', 'x', 'tier', 'list'], { TENANTCTL_TIMEOUT: 'soon' });
    expect(env.code).toBe(1);
    expect(env.stderr).toBe('error: TENANTCTL_TIMEOUT must be seconds, more than 0 and at most 3600: soon\n');
    const flag = await bare(['--url', url, '--token', 'x', 'tier', 'list', '--timeout', '0']);
    expect(flag.code).toBe(2);
    expect(flag.stderr.split('\n')[0]).toBe('error: --timeout must be seconds, more than 0 and at most 3600');
  });

  it('reports a refused connection in one line without a stack', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const port = (closed.address() as AddressInfo).port;
    closed.close();
    await once(closed, 'close');
    const r = await bare(['--url', `http://127.0.0.1:${port}`, '--token', 'secret-xyz', 'tenant', 'list']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error UNREACHABLE: control plane at http://127.0.0.1:${port} did not answer (ECONNREFUSED; GET http://127.0.0.1:${port}/admin/v1/tenants)\n`);
  });

  it('still works against the real control plane with a short timeout', async () => {
    const r = await tenantctl('--timeout', '20', 'tier', 'show', 'FREE');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^name +FREE$/m);
  });
});
