/**
 * `Idempotency-Key` on POST: the first request with a key runs and its answer is kept (24 h);
 * the same key with the same request replays that answer (`Idempotent-Replayed: true`); with
 * another request it is `422 IDEMPOTENCY_KEY_REUSED`; while the first still runs, `409
 * IDEMPOTENCY_CONFLICT`. Keys belong to the authenticated caller, so this runs after adminAuth.
 * Answers that ask for a retry (5xx, Retry-After) or exceed 256 KiB are not kept: the key is
 * released and a retry runs again.
 */
import { createMiddleware } from 'hono/factory';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { AppError } from '../errors.js';
import type { ControlAppEnv } from '../control/app-env.js';
import { keepsAnswer, replayedHeaders, requestHash, validKey } from './rules.js';
import { claimKey, completeKey, releaseKey, type Claim, type HeldClaim, type KeyRef } from './store.js';

/** The request header. */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';
/** The header a replayed answer carries. */
export const REPLAYED_HEADER = 'Idempotent-Replayed';

/** The middleware; only POSTs with the header are affected. */
export const idempotency = () => createMiddleware<ControlAppEnv>(async function idempotency(c, next) {
  const key = c.req.header(IDEMPOTENCY_HEADER);
  if (c.req.method !== 'POST' || key === undefined) return next();
  if (!validKey(key)) throw new AppError(400, 'BAD_REQUEST', `${IDEMPOTENCY_HEADER} must be 1-255 printable ASCII characters`);
  const url = new URL(c.req.url);
  const path = url.pathname + url.search;
  const ref: KeyRef = { principal: c.var.admin.actor, key };
  const hash = await requestHash('POST', path, await c.req.arrayBuffer());
  const sql = c.var.services.sql;
  const claim = await claimKey(sql, { ...ref, hash, method: 'POST', path });
  if (claim.kind !== 'claimed') return answerExisting(c, claim, hash, path);
  try {
    await next();
  } catch (err) {
    await releaseKey(sql, claim.held).catch(logged);
    throw err;
  }
  await keep(c, claim.held);
});

/** Replays a finished answer, or refuses the request. */
function answerExisting(c: Context<ControlAppEnv>, claim: Exclude<Claim, { kind: 'claimed' }>, hash: string, path: string): Response {
  if (claim.kind === 'running') {
    throw new AppError(409, 'IDEMPOTENCY_CONFLICT', 'a request with this Idempotency-Key is still in progress; retry shortly', { 'Retry-After': '1' });
  }
  if (claim.hash !== hash) {
    const what = claim.path !== path ? `another path (${claim.method} ${claim.path.slice(0, 100)})` : 'another body';
    throw new AppError(422, 'IDEMPOTENCY_KEY_REUSED', `this Idempotency-Key was used with ${what}; use a new key for a new request`);
  }
  c.set('audit', { action: 'idempotent.replay', detail: { status: claim.status } });
  return new Response(claim.body, { status: claim.status as ContentfulStatusCode, headers: { ...claim.headers, [REPLAYED_HEADER]: 'true' } });
}

/** Keeps the answer for replay, or releases the key when it must not be kept. */
async function keep(c: Context<ControlAppEnv>, ref: HeldClaim): Promise<void> {
  const sql = c.var.services.sql;
  const body = await c.res.clone().text();
  const bytes = new TextEncoder().encode(body).byteLength;
  try {
    const mine = keepsAnswer(c.res.status, c.res.headers, bytes)
      ? await completeKey(sql, ref, { status: c.res.status, headers: replayedHeaders(c.res.headers), body })
      : await releaseKey(sql, ref);
    // A retry took the claim over (this request outlived RUNNING_STALE_SECONDS): its claim stays.
    if (!mine) console.warn(JSON.stringify({ level: 'warn', msg: 'idempotency claim was taken over by a retry; this answer is not kept' }));
  } catch (err) {
    // The change is made; only its replay is lost. A retry then runs again (every change here
    // is safe to repeat: a second create is 409 TENANT_EXISTS), and the key is released.
    logged(err);
    await releaseKey(sql, ref).catch(logged);
  }
}

function logged(err: unknown): void {
  console.error(JSON.stringify({ level: 'error', msg: 'idempotency key bookkeeping failed', error: String(err).slice(0, 300) }));
}
