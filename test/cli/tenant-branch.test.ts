/**
 * tenantctl tenant branch: the stack's control worker runs PROVISIONER=local, so every branch call
 * is refused with the API's code (the full flow against Neon's stand-in is test/branches/);
 * malformed arguments are refused before anything is sent.
 */
import { describe, expect, inject, it } from 'vitest';
import { admin, tenantctl } from './support.js';

const stack = inject('stack');

describe('tenantctl tenant branch', () => {
  it('passes the refusal of a tenant without branches on (exit 1, the API code)', async () => {
    const created = await admin(stack, 'POST', '/tenants', { slug: 'cli-branch', tier: 'STANDARD', region: 'aws-us-east-2', isolation: 'row' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const list = await tenantctl('tenant', 'branch', 'list', 'cli-branch');
    expect(list.code).toBe(1);
    expect(list.stderr).toMatch(/error BRANCHES_NOT_SUPPORTED/);
    const create = await tenantctl('tenant', 'branch', 'create', 'cli-branch', '--at', new Date().toISOString(), '--expect', 'tracks=3');
    expect(create.code).toBe(1);
    expect(create.stderr).toMatch(/error BRANCHES_NOT_SUPPORTED/);
  });

  it('refuses a bad --at or --expect (exit 2, nothing sent)', async () => {
    const at = await tenantctl('tenant', 'branch', 'create', 'cli-branch', '--at', 'yesterday');
    expect(at.code).toBe(2);
    expect(at.stderr).toMatch(/--at must be an ISO 8601 timestamp/);
    const expectation = await tenantctl('tenant', 'branch', 'verify', 'cli-branch', 'br-quiet-lake-1a2b3c4d', '--expect', 'tracks');
    expect(expectation.code).toBe(2);
    expect(expectation.stderr).toMatch(/--expect takes TABLE=N, not tracks/);
  });
});
