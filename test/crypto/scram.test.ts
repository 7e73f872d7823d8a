/**
 * SCRAM-SHA-256 verifiers made in the Worker: exactly what PostgreSQL computes for the same salt,
 * accepted as a role's password (the role logs in with the password, not with another), and
 * nothing but a verifier can be spliced into DDL.
 */
import { NeonDbError } from '@neondatabase/serverless';
import { describe, expect, it } from 'vitest';
import { passwordClause, randomPassword, scramVerifier } from '../../src/crypto/scram.js';
import { sqlAt, stack } from '../support/helpers.js';

const owner = () => sqlAt(stack.regions['aws-us-east-2']!.adminUrl);
const roleName = () => `scram_${crypto.randomUUID().replace(/-/g, '').slice(0, 16)}`;
const fromB64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

describe('scramVerifier', () => {
  it('matches the verifier PostgreSQL itself stores for the same password, salt and iterations', async () => {
    const role = roleName();
    const password = randomPassword();
    // The one place a password is given to PostgreSQL in clear: to have it compute a reference.
    await owner().query(`CREATE ROLE ${role} PASSWORD '${password}'`);
    try {
      const [row] = await owner().query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role]) as [{ rolpassword: string }];
      const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(row.rolpassword)!;
      expect(await scramVerifier(password, { iterations: Number(m[1]), salt: fromB64(m[2]!) })).toBe(row.rolpassword);
    } finally {
      await owner().query(`DROP ROLE ${role}`);
    }
  });

  it('gives a role a password it logs in with, while the DDL carries no password', async () => {
    const role = roleName();
    const password = randomPassword();
    const verifier = await scramVerifier(password);
    expect(verifier).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/);
    expect(verifier).not.toContain(password);
    expect(await scramVerifier(password)).not.toBe(verifier); // a fresh salt each time
    await owner().query(`CREATE ROLE ${role} LOGIN ${passwordClause(verifier)}`);
    try {
      const url = new URL(stack.regions['aws-us-east-2']!.adminUrl);
      url.username = role;
      url.password = password;
      expect(await sqlAt(url.toString()).query('SELECT current_user AS "user"')).toEqual([{ user: role }]);
      url.password = randomPassword();
      const err = await sqlAt(url.toString()).query('SELECT 1').catch((e: unknown) => e);
      expect((err as NeonDbError).code).toBe('28P01');
    } finally {
      await owner().query(`DROP ROLE ${role}`);
    }
  });

  it('takes printable ASCII passwords only, and splices nothing but a verifier into DDL', async () => {
    await expect(scramVerifier('pässword')).rejects.toThrow(/printable ASCII/);
    await expect(scramVerifier('')).rejects.toThrow();
    expect(() => passwordClause("x'; ALTER ROLE app_router SUPERUSER; --")).toThrow(/not a SCRAM-SHA-256 verifier/);
    expect(() => passwordClause('md5abcdef')).toThrow();
  });
});
