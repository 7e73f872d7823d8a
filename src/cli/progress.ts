/**
 * Progress of `migrate`: a cli-progress bar when stdout is a terminal, otherwise one plain line per
 * finished tenant (`migrated <slug> (<n> applied)` / `failed <slug>: <error>`), which scripts and
 * the tests parse.
 */
import cliProgress from 'cli-progress';
import type { Output } from './format.js';

export interface Progress {
  migrated(slug: string, applied: number): void;
  failed(slug: string, error: string): void;
  /** A tenant a stopped wave rolled back (`rolled back <slug> (<n> reverted)`). */
  rolledBack(slug: string, reverted: number): void;
  /** Removes the bar (if any) and prints the failures it held back. */
  stop(): void;
}

/** The reporter for this terminal: bar, lines, or nothing (`--json` prints one result at the end). */
export function progress(out: Output, total: number, tty = Boolean(process.stdout.isTTY)): Progress {
  if (out.json) return { migrated() {}, failed() {}, rolledBack() {}, stop() {} };
  const rolledBack = (slug: string, n: number) => out.line(`rolled back ${slug} (${n} reverted)`);
  if (!tty) {
    return {
      migrated: (slug, n) => out.line(`migrated ${slug} (${n} applied)`),
      failed: (slug, error) => out.line(`failed ${slug}: ${oneLine(error)}`),
      rolledBack,
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar({
    format: 'migrate [{bar}] {value}/{total} tenants | {failures} failed | {duration_formatted} | eta {eta_formatted}',
    hideCursor: true, clearOnComplete: false,
  }, cliProgress.Presets.shades_classic);
  const failures: string[] = [];
  bar.start(total, 0, { failures: 0 });
  return {
    migrated: () => bar.increment(1),
    failed: (slug, error) => {
      failures.push(`failed ${slug}: ${oneLine(error)}`);
      bar.increment(1, { failures: failures.length });
    },
    rolledBack,
    stop() {
      bar.stop();
      for (const f of failures) out.line(f);
    },
  };
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();
