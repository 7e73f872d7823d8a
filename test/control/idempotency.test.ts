/**
 * Idempotency-Key on admin POSTs: a retry replays the first answer and changes nothing; another
 * request under the same key is refused; concurrent requests run once; a key belongs to its
 * caller, expires with the maintenance run, and is not kept for an answer that asks for a retry.
 */
import { describe, expect, it } from 'vitest';
import { runMaintenance } from '../../src/control/maintenance.js';
import { STALE_CLAIM_SECONDS } from '../../src/control/provisioning.js';
import { PROVISION_WAIT_MAX_MS } from '../../src/control/env.js';
import { RUNNING_STALE_SECONDS } from '../../src/idempotency/rules.js';
import { claimKey, completeKey, releaseKey, type HeldClaim } from '../../src/idempotency/store.js';
import { errorOf, idpToken, sqlAt, stack, unique } from '../support/helpers.js';
import { admin } from '../support/control.js';
import { call, controlEnv, servicesFor } from './in-process.js';

const control = () => sqlAt(stack.control.postgresUrl);
const spec = (slug: string) => ({ slug, tier: 'FREE', region: 'aws-us-east-2' });
const create = (key: string, json: unknown, token?: string) =>
  admin('/admin/v1/tenants', { method: 'POST', json, headers: { 'Idempotency-Key': key }, ...(token ? { token } : {}) });
const tenantsWithSlug = async (slug: string) =>
  Number(((await control().query('SELECT count(*) AS n FROM tenants WHERE slug = $1', [slug])) as { n: string }[])[0]!.n);
const keyRows = async (key: string) =>
  await control().query('SELECT principal, state, status FROM idempotency_keys WHERE key = $1 ORDER BY principal', [key]) as { principal: string; state: string; status: number | null }[];

describe('Idempotency-Key', () => {
  it('replays the first answer byte for byte (status, body, Location/ETag) and creates one tenant only', async () => {
    const key = unique('k-');
    const slug = unique('idem-');
    const first = await create(key, spec(slug));
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const body = await first.text();
    const again = await create(key, spec(slug));
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(again.headers.get('content-type')).toBe(first.headers.get('content-type'));
    expect(await again.text()).toBe(body);
    // The replay has a request id of its own.
    expect(again.headers.get('x-request-id')).not.toBe(first.headers.get('x-request-id'));
    expect(await tenantsWithSlug(slug)).toBe(1);
    expect(await keyRows(key)).toEqual([{ principal: 'admin-token', state: 'done', status: 201 }]);
  });

  it('refuses the same key with another body or another path (422 IDEMPOTENCY_KEY_REUSED) and runs neither', async () => {
    const key = unique('k-');
    const slug = unique('idem-');
    expect((await create(key, spec(slug))).status).toBe(201);
    const other = unique('idem-');
    const res = await create(key, spec(other));
    expect(res.status).toBe(422);
    expect((await errorOf(res)).code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await tenantsWithSlug(other)).toBe(0);
    const elsewhere = await admin('/admin/v1/tiers', { method: 'POST', json: { name: unique('T').toUpperCase().replace(/[^A-Z0-9]/g, '_'), from: 'FREE' }, headers: { 'Idempotency-Key': key } });
    expect(elsewhere.status).toBe(422);
    const e = await errorOf(elsewhere);
    expect(e.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(e.message).toContain('another path');
  });

  it('five concurrent requests with one key: exactly one runs, the others are 409 IDEMPOTENCY_CONFLICT or its replay', async () => {
    const key = unique('k-');
    const slug = unique('idem-');
    const answers = await Promise.all(Array.from({ length: 5 }, () => create(key, spec(slug))));
    const seen = await Promise.all(answers.map(async (r) => ({
      status: r.status, replayed: r.headers.get('idempotent-replayed') === 'true', code: r.status === 409 ? (await errorOf(r)).code : null,
      retryAfter: r.headers.get('retry-after'),
    })));
    expect(seen.filter((a) => a.status === 201 && !a.replayed)).toHaveLength(1);
    for (const a of seen.filter((x) => !(x.status === 201 && !x.replayed))) {
      expect(a.status === 201 ? a.replayed : a.code === 'IDEMPOTENCY_CONFLICT' && a.retryAfter === '1').toBe(true);
    }
    expect(await tenantsWithSlug(slug)).toBe(1);
  });

  it('belongs to its caller: the same key from another principal runs on its own and never sees the replay', async () => {
    const key = unique('k-');
    const slug = unique('idem-');
    expect((await create(key, spec(slug))).status).toBe(201);
    const jwt = await idpToken('idp-a', { sub: 'ops@example.com', scope: 'admin:write' }, { audience: 'tenant-control' });
    const theirs = await create(key, spec(slug), jwt);
    // It ran (the slug is taken now), and is not the admin token's 201.
    expect(theirs.status).toBe(409);
    expect(theirs.headers.get('idempotent-replayed')).toBeNull();
    expect((await errorOf(theirs)).code).toBe('TENANT_EXISTS');
    expect(await keyRows(key)).toEqual([
      { principal: 'admin-token', state: 'done', status: 201 },
      { principal: 'jwt:ops@example.com', state: 'done', status: 409 },
    ]);
    // Its own retry replays its own answer.
    const again = await create(key, spec(slug), jwt);
    expect([again.status, again.headers.get('idempotent-replayed')]).toEqual([409, 'true']);
  });

  it('refuses a key that is not 1-255 printable ASCII characters with 400', async () => {
    for (const key of ['', 'a'.repeat(256), 'tab\there']) {
      const slug = unique('idem-');
      const res = await create(key, spec(slug));
      expect({ key, status: res.status }).toEqual({ key, status: 400 });
      expect((await errorOf(res)).code).toBe('BAD_REQUEST');
      expect(await tenantsWithSlug(slug)).toBe(0);
    }
    expect((await create('a'.repeat(255), spec(unique('idem-')))).status).toBe(201);
    await control().query(`DELETE FROM idempotency_keys WHERE key = $1`, ['a'.repeat(255)]);
  });

  it('expires after 24 h: the maintenance run deletes the key and the request runs again', async () => {
    const key = unique('k-');
    const slug = unique('idem-');
    expect((await create(key, spec(slug))).status).toBe(201);
    await control().query(`UPDATE idempotency_keys SET created_at = now() - interval '24 hours 1 minute' WHERE key = $1`, [key]);
    const report = await runMaintenance(await servicesFor(controlEnv()));
    expect(report.idempotencyKeys).toMatchObject({ expired: expect.any(Number) });
    expect(await keyRows(key)).toEqual([]);
    const again = await create(key, spec(slug));
    expect(again.status).toBe(409);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect((await errorOf(again)).code).toBe('TENANT_EXISTS');
  });

  it('keeps no 5xx answer: the retry runs again', async () => {
    // This isolate's only region points at a closed port: provisioning fails with 503.
    const env = controlEnv({ REGION_ADMIN_URLS: JSON.stringify({ 'aws-us-east-2': 'postgres://nobody:nothing@127.0.0.1:9/app' }) });
    const key = unique('k-');
    const slug = unique('idem-');
    const post = () => call(env, '/admin/v1/tenants', { method: 'POST', json: spec(slug), headers: { 'Idempotency-Key': key } });
    const first = await post();
    expect(first.status).toBe(503);
    expect((await errorOf(first)).code).toBe('PROVISIONING_FAILED');
    expect(await keyRows(key)).toEqual([]);
    const again = await post();
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(again.status).toBe(409);
    expect((await errorOf(again)).code).toBe('TENANT_EXISTS');
    await control().query('DELETE FROM tenants WHERE slug = $1', [slug]);
  });

  describe('a claim has an owner', () => {
    const sql = () => control() as unknown as Parameters<typeof claimKey>[0];
    const request = (key: string) => ({ principal: 'test-owner', key, hash: 'h'.repeat(64), method: 'POST', path: '/admin/v1/tenants' });
    const held = (c: Awaited<ReturnType<typeof claimKey>>): HeldClaim => {
      if (c.kind !== 'claimed') throw new Error(`expected a claim, got ${c.kind}`);
      return c.held;
    };
    const row = async (key: string) => ((await control().query(
      'SELECT state, status, body, claim_id FROM idempotency_keys WHERE principal = $1 AND key = $2', ['test-owner', key])) as { state: string; status: number | null; body: string | null; claim_id: string }[])[0];
    const goStale = (key: string) => control().query(
      `UPDATE idempotency_keys SET started_at = now() - make_interval(secs => $2) - interval '1 second' WHERE key = $1`, [key, RUNNING_STALE_SECONDS]);

    it('two racing claims: exactly one holds the key, the other sees it running', async () => {
      const key = unique('own-');
      const claims = await Promise.all([claimKey(sql(), request(key)), claimKey(sql(), request(key))]);
      expect(claims.map((c) => c.kind).sort()).toEqual(['claimed', 'running']);
      expect((await row(key))!.claim_id).toBe(held(claims.find((c) => c.kind === 'claimed')!).claimId);
    });

    it('after a stale takeover the first request can neither finish nor release the retry\'s claim', async () => {
      const key = unique('own-');
      const first = held(await claimKey(sql(), request(key)));
      // The first request outlives the stale bound; its retry takes the key over.
      await goStale(key);
      const second = held(await claimKey(sql(), request(key)));
      expect(second.claimId).not.toBe(first.claimId);
      // The first request answers late: neither its completion nor its release touches the retry's claim.
      expect(await completeKey(sql(), first, { status: 201, headers: {}, body: 'first' })).toBe(false);
      expect(await releaseKey(sql(), first)).toBe(false);
      expect(await row(key)).toMatchObject({ state: 'running', status: null, body: null, claim_id: second.claimId });
      // While the retry runs, a third attempt is still 409 (running), not a replay of the first answer.
      expect((await claimKey(sql(), request(key))).kind).toBe('running');
      expect(await completeKey(sql(), second, { status: 201, headers: {}, body: 'second' })).toBe(true);
      expect(await row(key)).toMatchObject({ state: 'done', status: 201, body: 'second' });
      // And once done, a late release by the first changes nothing either.
      expect(await releaseKey(sql(), first)).toBe(false);
      expect(await row(key)).toMatchObject({ state: 'done', body: 'second' });
    });

    it('over HTTP: a retry takes over a stale claim and its answer survives the first request\'s late completion', async () => {
      const key = unique('k-');
      const slug = unique('idem-');
      const body = new TextEncoder().encode(JSON.stringify(spec(slug)));
      const { requestHash } = await import('../../src/idempotency/rules.js');
      const hash = await requestHash('POST', '/admin/v1/tenants', body.buffer as ArrayBuffer);
      // The first request claimed the key and is still running, past the stale bound.
      const first = held(await claimKey(sql(), { principal: 'admin-token', key, hash, method: 'POST', path: '/admin/v1/tenants' }));
      await goStale(key);
      const retry = await create(key, spec(slug));
      expect(retry.status).toBe(201);
      const kept = await retry.text();
      expect(await completeKey(sql(), first, { status: 500, headers: {}, body: 'late' })).toBe(false);
      const again = await create(key, spec(slug));
      expect([again.status, again.headers.get('idempotent-replayed'), await again.text()]).toEqual([201, 'true', kept]);
    });

    it('the stale bound outlasts the longest wait inside a request (the provisioning claim, the provisioning wait)', () => {
      expect(RUNNING_STALE_SECONDS).toBeGreaterThanOrEqual(STALE_CLAIM_SECONDS);
      expect(RUNNING_STALE_SECONDS * 1000).toBeGreaterThan(PROVISION_WAIT_MAX_MS);
    });
  });
});
