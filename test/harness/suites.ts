/**
 * `npm test`: the four vitest suites, each against a stack of its own. The workerd suite and the
 * tenantctl suite run side by side (both spend most of their time waiting on I/O and on child
 * processes, and their stacks share nothing but the machine); the browser suite follows, and the
 * soak runs last and alone, since its traffic floors and memory checks assume an idle machine.
 *
 * The workerd suite's output streams as it runs; the tenantctl suite's is held and printed whole
 * when it ends, so the two never interleave. Exits non-zero when any suite failed, after every
 * suite of its stage has finished (a failure in one does not cut the other short).
 */
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const VITEST = resolve(ROOT, 'node_modules/.bin/vitest');

interface Suite { name: string; config: string; live: boolean }

const STAGES: Suite[][] = [
  [
    { name: 'workerd', config: 'test/vitest.config.ts', live: true },
    { name: 'tenantctl', config: 'test/vitest.cli.config.ts', live: false },
  ],
  [{ name: 'browser', config: 'test/vitest.browser.config.ts', live: true }],
  [{ name: 'soak', config: 'test/vitest.soak.config.ts', live: true }],
];

/** Runs one suite; resolves with its exit code and how long it took. */
function run(s: Suite): Promise<{ suite: Suite; code: number; seconds: number }> {
  const started = Date.now();
  const child = spawn(VITEST, ['run', '--config', s.config], { cwd: ROOT, stdio: s.live ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
  const held: Buffer[] = [];
  if (!s.live) {
    child.stdout!.on('data', (d: Buffer) => held.push(d));
    child.stderr!.on('data', (d: Buffer) => held.push(d));
  }
  return new Promise((done) => {
    child.once('error', (err) => { held.push(Buffer.from(`${s.name}: ${err.message}\n`)); });
    child.once('close', (code, signal) => {
      if (!s.live) {
        process.stdout.write(`\n===== ${s.name} suite (${s.config}), held while it ran =====\n`);
        process.stdout.write(Buffer.concat(held));
      }
      done({ suite: s, code: code ?? (signal ? 1 : 0), seconds: Math.round((Date.now() - started) / 1000) });
    });
  });
}

const results: { suite: Suite; code: number; seconds: number }[] = [];
for (const stage of STAGES) {
  const done = await Promise.all(stage.map(run));
  results.push(...done);
  if (done.some((r) => r.code !== 0)) break;
}
process.stdout.write('\n' + results.map((r) => `${r.code === 0 ? 'passed' : 'FAILED'}  ${r.suite.name} suite in ${r.seconds} s`).join('\n') + '\n');
const ran = new Set(results.map((r) => r.suite.name));
const skipped = STAGES.flat().filter((s) => !ran.has(s.name));
if (skipped.length) process.stdout.write(`not run (an earlier stage failed): ${skipped.map((s) => s.name).join(', ')}\n`);
process.exit(results.every((r) => r.code === 0) && skipped.length === 0 ? 0 : 1);
