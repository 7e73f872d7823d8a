/** tenantctl tenant move/moves: a row tenant moved to a schema of its own, read back through the API. */
import { describe, expect, inject, it } from 'vitest';
import { admin, field, tenantctl } from './support.js';

const stack = inject('stack');

describe('tenantctl tenant move', () => {
  it('moves row → schema, prints what it copied and how long writes paused, and lists the move', async () => {
    const created = await admin(stack, 'POST', '/tenants', { slug: 'cli-move', tier: 'STANDARD', region: 'aws-us-east-2', isolation: 'row' });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const r = await tenantctl('tenant', 'move', 'cli-move', '--isolation', 'schema');
    expect(r.code, r.stderr).toBe(0);
    expect(field(r.stdout, 'moved')).toBe('row in aws-us-east-2 → schema in aws-us-east-2');
    expect(field(r.stdout, 'writes paused')).toMatch(/^\d+ ms$/);
    expect(field(r.stdout, 'source')).toBe('cleaned');
    expect((await admin(stack, 'GET', '/tenants/cli-move')).body).toMatchObject({ isolation: 'schema', region: 'aws-us-east-2' });
    const list = await tenantctl('tenant', 'moves', 'cli-move', '--json');
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).moves).toMatchObject([{ state: 'cleaned', fromIsolation: 'row', toIsolation: 'schema' }]);
  });

  it('refuses a move with nothing to move (exit 1, the API code) and no target at all (exit 2, nothing sent)', async () => {
    await admin(stack, 'POST', '/tenants', { slug: 'cli-move2', tier: 'STANDARD', region: 'aws-us-east-2', isolation: 'row' });
    const same = await tenantctl('tenant', 'move', 'cli-move2', '--isolation', 'row');
    expect(same.code).toBe(1);
    expect(same.stderr).toMatch(/error NOTHING_TO_MOVE/);
    const none = await tenantctl('tenant', 'move', 'cli-move2');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/give --isolation, --region or both/);
  });
});
