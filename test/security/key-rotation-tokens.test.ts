/**
 * Platform tokens under a PLATFORM_JWT_SECRET ring, through the production router run in the
 * test's isolate with the stack's configuration and another ring (services are built per env
 * object, so each ring is a fresh isolate's router): a token verifies with the key its `kid`
 * names, a token without one only with `k0`, and an unknown or removed key is the same 401 as
 * any bad token. Every other check (iss, aud, exp, tid) still holds.
 */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { SignJWT, type JWTPayload } from 'jose';
import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/env.js';
import { buildRouter } from '../../workers/router/index.js';
import { errorOf, stack, tenant } from '../support/helpers.js';

const app = buildRouter(undefined, { accessLog: null });
const secret = (c: string) => c.repeat(48);
const [S0, S1, S2, S3] = [secret('0'), secret('1'), secret('2'), secret('3')];
const routerWith = (ring: string): Env => ({ ...(env as unknown as Env), PLATFORM_JWT_SECRET: ring });
const ROTATING = routerWith(`k2:${S2},k1:${S1}`);
const RETIRED = routerWith(`k2:${S2}`);
const LEGACY = routerWith(`k1:${S1},k0:${S0}`);

async function tracks(router: Env, token: string, host = 'acme.localhost'): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://${host}/api/v1/tracks`, { headers: { host, authorization: `Bearer ${token}` } }), router, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** A platform token for acme, signed with `key`, `kid` in its header unless null. */
function token(key: string, kid: string | null | number, claims: JWTPayload = {}, audience = stack.platform.audience): Promise<string> {
  const header = kid === null ? { alg: 'HS256' } : { alg: 'HS256', kid: kid as string };
  return new SignJWT({ tid: tenant('acme').id, ...claims }).setProtectedHeader(header).setIssuer(stack.platform.issuer)
    .setAudience(audience).setIssuedAt().setExpirationTime('5m').sign(new TextEncoder().encode(key));
}

async function expectInvalid(res: Response, message?: RegExp) {
  expect(res.status).toBe(401);
  const err = await errorOf(res);
  expect(err.code).toBe('INVALID_TOKEN');
  if (message) expect(err.message).toMatch(message);
}

describe('platform tokens under a key ring', () => {
  it('verifies a token of the current key and one of the previous key, each by its kid', async () => {
    expect((await tracks(ROTATING, await token(S2, 'k2'))).status).toBe(200);
    expect((await tracks(ROTATING, await token(S1, 'k1'))).status).toBe(200);
  });

  it('refuses an unknown kid, a kid naming another key, and a key removed from the ring', async () => {
    await expectInvalid(await tracks(ROTATING, await token(S2, 'k3')), /no key matches/);
    await expectInvalid(await tracks(ROTATING, await token(S3, 'k3')), /no key matches/);
    await expectInvalid(await tracks(ROTATING, await token(S2, 'k1')), /signature/);
    // Once k1 is gone, its tokens are refused, while the current key's still pass.
    await expectInvalid(await tracks(RETIRED, await token(S1, 'k1')), /no key matches/);
    expect((await tracks(RETIRED, await token(S2, 'k2'))).status).toBe(200);
  });

  it('tries a token without kid against k0 only', async () => {
    await expectInvalid(await tracks(ROTATING, await token(S2, null)), /no key matches/);
    await expectInvalid(await tracks(ROTATING, await token(S1, null)), /no key matches/);
    expect((await tracks(LEGACY, await token(S0, null))).status).toBe(200);
    await expectInvalid(await tracks(LEGACY, await token(S1, null)), /signature/);
    expect((await tracks(LEGACY, await token(S1, 'k1'))).status).toBe(200);
  });

  it('refuses a kid that is not a string', async () => {
    await expectInvalid(await tracks(ROTATING, await token(S2, 5)));
  });

  it("keeps every other check: audience, expiry, the tenant's id, another tenant's host", async () => {
    await expectInvalid(await tracks(ROTATING, await token(S2, 'k2', {}, 'someone-else')), /aud/);
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ tid: tenant('acme').id }).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setIssuer(stack.platform.issuer)
      .setAudience(stack.platform.audience).setIssuedAt(now - 600).setExpirationTime(now - 120).sign(new TextEncoder().encode(S1));
    await expectInvalid(await tracks(ROTATING, expired), /expired/);
    await expectInvalid(await tracks(ROTATING, await token(S1, 'k1', { tid: 'acme' })), /tenant id/);
    const res = await tracks(ROTATING, await token(S1, 'k1'), 'globex.localhost');
    expect(res.status).toBe(403);
    expect((await errorOf(res)).code).toBe('TENANT_MISMATCH');
  });

  it('on the API host, finds the tenant from a token of either key, and refuses an unknown kid as any bad token', async () => {
    expect((await tracks(ROTATING, await token(S1, 'k1'), 'api.localhost')).status).toBe(200);
    expect((await tracks(ROTATING, await token(S2, 'k2'), 'api.localhost')).status).toBe(200);
    await expectInvalid(await tracks(ROTATING, await token(S2, 'k9'), 'api.localhost'), /^token is not valid$/);
  });

  it("the stack's own ring signs with its kid: the suite's tokens go through the same path", async () => {
    expect(stack.routerEnv.PLATFORM_JWT_SECRET).toBe(`${stack.platform.kid}:${stack.platform.secret}`);
    const stackRouter = env as unknown as Env;
    expect((await tracks(stackRouter, await token(stack.platform.secret, stack.platform.kid))).status).toBe(200);
    await expectInvalid(await tracks(stackRouter, await token(stack.platform.secret, 'k7')), /no key matches/);
  });
});
