/**
 * The statement guard (pure): what the tenant handle refuses to send, whatever the spelling, and
 * what it lets through (ordinary statements, the words in literals, comments and identifiers).
 */
import { describe, expect, it } from 'vitest';
import { batchRefusal, MAX_BATCH, rememberedGuard, statementRefusal } from '../../src/data/statement-guard.js';

describe('statementRefusal', () => {
  it.each([
    'SELECT id, title FROM tracks WHERE id = $1',
    "INSERT INTO tracks (title) VALUES ('COMMIT; RESET ROLE') RETURNING id",
    'SELECT 1;',
    "SELECT $$ set_config('role', 'x', true); COMMIT $$ AS text -- COMMIT; SET ROLE x",
    'UPDATE tracks SET title = $2 WHERE id = $1',
    'WITH t AS (SELECT * FROM tracks) SELECT count(*) FROM t',
    'SELECT * FROM tracks FOR UPDATE',
    'SAVEPOINT a', 'RELEASE SAVEPOINT a', 'ROLLBACK TO SAVEPOINT a', 'ROLLBACK TRANSACTION TO a',
    'SELECT set_config FROM settings', 'SELECT "lo_price" FROM items', 'SELECT pg_sleep(0.1)',
    "SELECT E'it\\'s; COMMIT' AS s", 'SELECT "a;b" FROM t', 'SELECT a$b$ FROM t',
    'DECLARE c CURSOR FOR SELECT 1',
    "SELECT title FROM tracks WHERE title = 'u&\"x'",
  ])('lets %s through', (sql) => {
    expect(statementRefusal(sql)).toBeNull();
  });

  it.each([
    ['COMMIT', /COMMIT/], ['commit work', /COMMIT/], ['/* x */ END', /END/], ['  -- c\n rollback', /ROLLBACK/],
    ['ROLLBACK AND CHAIN', /ROLLBACK/], ['ROLLBACK PREPARED \'x\'', /ROLLBACK/], ['ABORT', /ABORT/], ['BEGIN', /BEGIN/],
    ['START TRANSACTION', /START/], ["PREPARE TRANSACTION 'x'", /PREPARE/], ['COPY tracks TO STDOUT', /COPY/],
    ['SELECT 1; COMMIT', /one statement/], ['SELECT 1; /* x */ SELECT 2', /one statement/],
    ['RESET ROLE', /RESET/], ['SET ROLE app_router', /SET/], ['set local app.tenant_id = \'x\'', /SET/],
    ['SET SESSION AUTHORIZATION app_router', /SET/], ['DISCARD ALL', /DISCARD/], ['LISTEN x', /LISTEN/], ['NOTIFY x', /NOTIFY/],
    ['PREPARE p AS SELECT 1', /PREPARE/], ['EXECUTE p', /EXECUTE/], ["DO $$BEGIN PERFORM 1; END$$", /DO/], ["LOAD 'x'", /LOAD/],
    ["ALTER ROLE CURRENT_USER SET app.tenant_id = 'x'", /ALTER ROLE/], ['alter database app set search_path = x', /ALTER DATABASE/],
    ["CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", /CREATE/],
    ['CREATE TEMP TABLE tracks (id uuid)', /temporary/], ['SELECT * INTO TEMPORARY t FROM tracks', /temporary/],
    ['SELECT * FROM pg_temp.tracks', /temporary/], ['SELECT * FROM "pg_temp_3".tracks', /temporary/],
    ['DECLARE c CURSOR WITH HOLD FOR SELECT 1', /WITH HOLD/],
    ["SELECT set_config('app.tenant_id', $1, true)", /set_config/], ["SELECT pg_catalog.SET_CONFIG ('role', 'x', false)", /set_config/],
    ['SELECT "set_config"(\'role\', \'x\', true)', /set_config/], ["SELECT set_config/**/('role', 'x', true)", /set_config/],
    ["SELECT query_to_xml('select 1', true, true, '')", /query_to_xml/], ["SELECT ts_stat('select 1')", /ts_stat/],
    ['SELECT pg_advisory_lock(7301, 1)', /pg_advisory_lock/], ['SELECT pg_try_advisory_xact_lock(1)', /advisory/],
    ['SELECT pg_terminate_backend(1)', /terminate/], ["SELECT pg_notify('c', 'x')", /pg_notify/], ['SELECT lo_get(1)', /lo_get/],
    ["SELECT 'unterminated", /unterminated/], ['SELECT $$x', /unterminated/], ['/* open', /unterminated/],
    ['', /empty/], [';', /empty/], ['  -- only a comment', /empty/],
    // pg_settings is writable by every role and an UPDATE of it is a session-wide set_config.
    ["UPDATE pg_settings SET setting = $1 WHERE name = 'app.tenant_id'", /pg_settings/],
    ["UPDATE pg_catalog.pg_settings SET setting = 'none' WHERE name = 'role'", /pg_settings/],
    ['SELECT U&"\\0073et_config"(\'app.tenant_id\', $1, true)', /U&/], ["SELECT u&'\\0041'", /U&/],
  ])('refuses %s', (sql, why) => {
    expect(statementRefusal(sql)).toMatch(why);
  });
});

describe('batchRefusal', () => {
  it('names the first refused statement, bounds the batch and checks params', () => {
    expect(batchRefusal([{ text: 'SELECT 1' }, { text: 'RESET ROLE' }])).toMatch(/^statement 2: RESET/);
    expect(batchRefusal(Array.from({ length: MAX_BATCH + 1 }, () => ({ text: 'SELECT 1' })))).toMatch(/at most/);
    expect(batchRefusal([{ text: 'SELECT $1', params: 'x' as unknown as unknown[] }])).toMatch(/params/);
    expect(batchRefusal([{ text: 'SELECT 1' }, { text: 'SELECT $1', params: [1] }])).toBeNull();
  });
});

describe('rememberedGuard', () => {
  it('gives the guard\'s own verdicts, asks it once per text, and stays bounded', () => {
    const asked: string[] = [];
    const guard = rememberedGuard((t) => { asked.push(t); return statementRefusal(t); }, 2, 40);
    const texts = ['SELECT id FROM tracks WHERE id = $1', 'RESET ROLE', "SELECT set_config('role', 'x', true)"];
    for (let i = 0; i < 3; i++) for (const t of texts.slice(0, 2)) expect(guard(t)).toBe(statementRefusal(t));
    expect(asked).toEqual(texts.slice(0, 2));
    // Full: the oldest verdict makes room; a refusal is remembered like an acceptance.
    expect(guard(texts[2]!)).toMatch(/set_config/);
    expect(guard(texts[2]!)).toMatch(/set_config/);
    expect(guard(texts[1]!)).toMatch(/RESET/);
    expect(guard(texts[0]!)).toBeNull();
    expect(asked).toEqual([...texts.slice(0, 2), texts[2], texts[0]]);
    // Past maxLength: asked every time, never kept.
    const long = `SELECT 1 ${' '.repeat(40)}`;
    guard(long); guard(long);
    expect(asked.filter((t) => t === long)).toHaveLength(2);
  });
});
