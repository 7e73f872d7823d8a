/** How database failures become refusals: fenced tenants, unsafe roles, timeouts, refused connections. */
import { describe, expect, it } from 'vitest';
import { isTargetFailure, StalePlacement, staleRecord, toAppError } from '../../src/data/db-errors.js';

const pgError = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('toAppError', () => {
  it('maps a fenced tenant to 404 TENANT_NOT_FOUND', () => {
    expect(toAppError(pgError('TR001'))).toMatchObject({ status: 404, code: 'TENANT_NOT_FOUND', message: 'tenant no longer exists' });
  });

  it('maps an unsafe serving role to 503 without echoing the reason', () => {
    const e = toAppError(pgError('TR002', 'the serving role is not safe: role neon_superuser bypasses row-level security'));
    expect(e).toMatchObject({ status: 503, code: 'UPSTREAM_UNAVAILABLE', message: 'tenant database role is not safe to serve' });
  });

  it.each(['57014', 'TR003', '55P03', '25P03', '08006', '28P01'])('maps %s (timeout, late request, idle transaction, lost or refused connection) to 503 with Retry-After', (code) => {
    const e = toAppError(pgError(code));
    expect(e).toMatchObject({ status: 503, code: 'UPSTREAM_UNAVAILABLE' });
    expect(e.headers['Retry-After']).toBe('5');
  });

  it('takes refused credentials (28P01: a role dropped by a move or a deletion, a rotated password) and a dropped database as a stale record, not the rest', () => {
    expect(staleRecord(toAppError(pgError('28P01')))).toBe(true);
    expect(isTargetFailure(toAppError(pgError('28P01')))).toBe(true);
    expect(staleRecord(toAppError(pgError('3D000')))).toBe(true);
    for (const code of ['57014', '08006', 'TR003', '40001']) expect(staleRecord(toAppError(pgError(code)))).toBe(false);
  });

  it('maps a serialization failure or deadlock to 409 with Retry-After: the client may retry', () => {
    for (const code of ['40001', '40P01']) expect(toAppError(pgError(code))).toMatchObject({ status: 409, code: 'BAD_REQUEST', headers: { 'Retry-After': '1' } });
  });

  it('maps a dropped dedicated database (3D000: its tenant moved out or was deleted) to a stale placement: 503 Retry-After 1', () => {
    const e = toAppError(Object.assign(new Error('database "t_x" does not exist'), { code: '3D000' }));
    expect(e).toBeInstanceOf(StalePlacement);
    expect([e.status, e.code, e.headers?.['Retry-After']]).toEqual([503, 'TENANT_MIGRATING', '1']);
    // Counted by the breaker: a database the control plane still points at opens the circuit
    // rather than having every request reload the record.
    expect(isTargetFailure(e)).toBe(true);
  });

  it('maps an aborted fetch (no SQLSTATE) to 503', () => {
    expect(toAppError(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))).toMatchObject({ status: 503, code: 'UPSTREAM_UNAVAILABLE' });
  });

  it('tells the tenant\'s own failures from the target\'s: only the latter count for the breaker', () => {
    const own = [pgError('57014', 'canceling statement due to statement timeout'), pgError('55P03', 'could not obtain lock on row'),
      pgError('25P03', 'terminating connection due to idle-in-transaction timeout'), pgError('53300', 'too many connections for role "t_ab"')];
    for (const e of own) expect([e.code, isTargetFailure(toAppError(e))]).toEqual([e.code, false]);
    const target = [pgError('TR003', 'request deadline passed before the transaction ran'), pgError('57014', 'request deadline passed before the transaction ran'), pgError('57P01', 'terminating connection due to administrator command'),
      pgError('08006'), pgError('53300', 'sorry, too many clients already'), new TypeError('fetch failed')];
    for (const e of target) expect(isTargetFailure(toAppError(e))).toBe(true);
    expect(isTargetFailure(toAppError(pgError('23505')))).toBe(false);
  });
});
