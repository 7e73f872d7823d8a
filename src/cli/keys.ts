/**
 * `keys status|reseal`: the MASTER_KEY ring as the control plane sees it, and re-sealing every
 * connection secret under its current key (docs/key-rotation.md). Re-sealing goes call by call,
 * each continuing where the previous stopped, so a large fleet is never one long request; a run
 * cut short is simply run again (nothing already under the current key is touched twice).
 */
import type { KeyStatus, ResealFailure } from '../crypto/reseal.js';
import type { ResealResult } from './client.js';
import { int, type Command } from './command.js';
import { count, keyValues, list, table } from './format.js';

const statusLines = (s: KeyStatus): string[] => [
  ...keyValues([
    ['current key', s.current],
    ['ring', s.kids.join(', ')],
    ['retirable', list(s.retirable)],
    ['unrecognised', s.unrecognised ? count(s.unrecognised) : null],
    ['pending invalidations', s.pendingInvalidations ? `${count(s.pendingInvalidations)} (routers may still hold old records; they are retried every minute)` : null],
  ]),
  '',
  ...table(['KID', 'SEALED', 'TENANT KEYS', 'IN RING'], [...new Set([...Object.keys(s.sealed), ...Object.keys(s.tenantKeys ?? {})])].map((kid) =>
    [kid, count(s.sealed[kid] ?? 0), count(s.tenantKeys?.[kid] ?? 0), s.kids.includes(kid) ? (kid === s.current ? 'current' : 'yes') : 'NO'])),
];

const status: Command = {
  name: 'keys status', arity: [0, 0], summary: 'Key ids of the MASTER_KEY ring and the sealed secrets under each (never the keys)',
  async run(ctx) {
    const s = await ctx.client().keyStatus();
    ctx.out.result(s, () => statusLines(s));
    return 0;
  },
};

const reseal: Command = {
  name: 'keys reseal', arity: [0, 0], summary: 'Re-seal every connection secret and re-wrap every tenant data key not under the current key (idempotent; exit 1 if some do not open)',
  details: 'Run it after every worker has the new key first in MASTER_KEY; remove the old key once `keys status` counts 0 under it.',
  options: { limit: { type: 'string', arg: 'N', help: 'secrets examined per call, 1-10000 (default 1000)' } },
  async run(ctx, a) {
    const limit = int(a, 'limit', 10_000);
    // Connection secrets first, then tenant data keys (re-wrapped: the data keys themselves stay).
    const secrets = await drain((body) => ctx.client().reseal(body), limit, (n) => ctx.out.note(`reseal: ${n}`));
    const keys = await drain((body) => ctx.client().rewrap(body), limit, (n) => ctx.out.note(`rewrap: ${n}`));
    const { totals, failed } = secrets;
    const result = { current: keys.last.current, ...totals, failed, tenantKeys: { ...keys.totals, failed: keys.failed }, status: keys.last.status };
    const failures = (what: string, r: typeof secrets) => r.failed.length
      ? ['', `${count(r.totals.failedCount)} ${what} could not be opened:`, ...table(['TENANT', 'KID', 'REASON'], r.failed.map((f) => [f.tenantId, f.kid ?? '-', f.reason]))] : [];
    ctx.out.result(result, () => [
      `re-sealed ${count(totals.resealed)} of ${count(totals.examined)} secrets under ${keys.last.current}` +
        `${totals.raced ? `; ${count(totals.raced)} changed meanwhile (run it again)` : ''}`,
      `re-wrapped ${count(keys.totals.resealed)} of ${count(keys.totals.examined)} tenant keys under ${keys.last.current}` +
        `${keys.totals.raced ? `; ${count(keys.totals.raced)} changed meanwhile (run it again)` : ''}`,
      ...failures('secrets', secrets), ...failures('tenant keys', keys),
      '', ...statusLines(keys.last.status),
    ]);
    return totals.failedCount || keys.totals.failedCount ? 1 : 0;
  },
};

/** Calls `step` until it returns no cursor; the summed counts, up to 20 failures, and the last answer. */
async function drain(step: (body: { cursor?: string; limit?: number }) => Promise<ResealResult>, limit: number | undefined, note: (progress: string) => void) {
  const totals = { examined: 0, resealed: 0, raced: 0, failedCount: 0 };
  const failed: ResealFailure[] = [];
  let cursor: string | undefined;
  let last: ResealResult;
  do {
    last = await step({ cursor, limit });
    for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += last[k];
    failed.push(...last.failed.slice(0, Math.max(0, 20 - failed.length)));
    cursor = last.nextCursor ?? undefined;
    if (cursor) note(`${count(totals.examined)} examined, ${count(totals.resealed)} done so far`);
  } while (cursor);
  return { totals, failed, last };
}

export const keysCommands: Command[] = [status, reseal];
