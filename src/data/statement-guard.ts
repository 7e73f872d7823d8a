/**
 * What the tenant database handle refuses to send (pure). Every call runs inside a transaction the
 * handle opened and whose first statement applied the tenant's isolation (setup.ts), with
 * transaction-local settings. A statement that ended that transaction, changed those settings or
 * left state behind in the (pooled) session would undo it for what follows, so such statements
 * never leave the isolate:
 *
 * - more than one statement in a text (the WebSocket path's simple protocol would run them all);
 * - transaction control: BEGIN, START, COMMIT, END, ROLLBACK (not ROLLBACK TO a savepoint), ABORT,
 *   PREPARE (TRANSACTION), and COPY, which the drivers cannot carry;
 * - session state: SET, RESET, DISCARD, LISTEN/UNLISTEN/NOTIFY, prepared statements, DO blocks,
 *   ALTER ROLE/USER/DATABASE/SYSTEM (a role may change its own session defaults), CREATE FUNCTION or
 *   PROCEDURE (a body is SQL this scan cannot see into), temporary objects (TEMP, `pg_temp`: they
 *   outlive the transaction in a pooled session), cursors WITH HOLD;
 * - functions that change settings, run SQL given as text, take session-wide locks, signal other
 *   sessions of the same role or reach database-wide large objects; the `pg_settings` view in any
 *   position (an UPDATE of it is a set_config for the whole session);
 * - Unicode-escaped identifiers and strings (`U&"..."`, `U&'...'`): this scan does not decode them,
 *   so a name it refuses could be spelled past it.
 *
 * It is a second wall, and a lexical one: statements are the application's code, never its users'
 * input (which travels as bound parameters). The first walls are the server's: row-level security,
 * the tenant's role, the tenant's own database.
 */

const TX_CONTROL = new Set(['begin', 'start', 'commit', 'end', 'abort', 'prepare', 'copy']);
const SESSION = new Set(['set', 'reset', 'discard', 'listen', 'unlisten', 'notify', 'execute', 'deallocate', 'do', 'load']);
const ALTER_TARGETS = new Set(['role', 'user', 'group', 'database', 'system']);
const CREATE_TARGETS = new Set(['function', 'procedure', 'role', 'user', 'group', 'database']);
const TEMP_WORDS = new Set(['temp', 'temporary']);
const TEMP_SCHEMA = /^pg_(toast_)?temp/;
const FUNCTIONS = /^(set_config|pg_notify|query_to_xml\w*|ts_stat|ts_rewrite|pg_(try_)?advisory\w*|pg_terminate_backend|pg_cancel_backend|lo_\w+|lo(read|write)|dblink\w*)$/;
/** Statements one batch may hold. */
export const MAX_BATCH = 100;

/** A word or quoted identifier, lower-cased; `called` when a `(` (or a comment) follows it. */
interface Token { word: string; quoted: boolean; called: boolean }

/** Why `text` must not be sent for a tenant, or null when it may. */
export function statementRefusal(text: string): string | null {
  if (typeof text !== 'string' || text.trim() === '') return 'empty statement';
  const lexed = lex(text);
  if (typeof lexed === 'string') return lexed;
  const { tokens, statements } = lexed;
  if (statements > 1) return 'one statement per call';
  const words = tokens.filter((t) => !t.quoted).map((t) => t.word);
  const [first, second, third] = words;
  if (!first) return 'empty statement';
  if (TX_CONTROL.has(first)) return `${first.toUpperCase()} is the handle's to run`;
  if (first === 'rollback' && !(second === 'to' || ((second === 'work' || second === 'transaction') && third === 'to'))) return 'ROLLBACK is the handle\'s to run';
  if (SESSION.has(first)) return `${first.toUpperCase()} changes the session`;
  if (first === 'alter' && second && ALTER_TARGETS.has(second)) return `ALTER ${second.toUpperCase()} changes session defaults`;
  if (first === 'create' && words.slice(1, 5).some((w) => CREATE_TARGETS.has(w))) return 'CREATE of a function, procedure, role or database';
  if (first === 'declare' && words.includes('hold')) return 'cursors WITH HOLD outlive the transaction';
  if (/(^|[^\w$])u&["']/i.test(text.replace(/'(?:[^']|'')*'/g, "''"))) return 'Unicode-escaped names and strings (U&) are not accepted';
  for (const t of tokens) {
    if ((!t.quoted && TEMP_WORDS.has(t.word)) || TEMP_SCHEMA.test(t.word)) return 'temporary objects outlive the transaction';
    if (t.word === 'pg_settings') return 'pg_settings changes settings for the session';
    if (t.called && FUNCTIONS.test(t.word)) return `${t.word}() is not available to tenants`;
  }
  return null;
}

/**
 * `guard` with its verdicts remembered per statement text (it is a pure function of the text):
 * an application sends the same few texts with new parameters, so each is lexed once per isolate,
 * not on every request. Bounded: at most `limit` texts of at most
 * `maxLength` characters (a longer text, or one past the bound once full, is lexed every time;
 * the oldest verdict makes room for a new one).
 */
export function rememberedGuard(guard: (text: string) => string | null = statementRefusal, limit = 1_000, maxLength = 4_096): (text: string) => string | null {
  const verdicts = new Map<string, string | null>();
  return (text) => {
    if (typeof text !== 'string' || text.length > maxLength) return guard(text);
    const hit = verdicts.get(text);
    if (hit !== undefined) return hit;
    const why = guard(text);
    if (verdicts.size >= limit) verdicts.delete(verdicts.keys().next().value!);
    verdicts.set(text, why);
    return why;
  };
}

/** Why a batch must not be sent, or null. */
export function batchRefusal(statements: readonly { text: string; params?: unknown[] }[], guard: (text: string) => string | null = statementRefusal): string | null {
  if (!Array.isArray(statements)) return 'a batch is an array of statements';
  if (statements.length > MAX_BATCH) return `a batch holds at most ${MAX_BATCH} statements`;
  for (const [i, s] of statements.entries()) {
    const why = guard(s?.text);
    if (why) return `statement ${i + 1}: ${why}`;
    if (s.params !== undefined && !Array.isArray(s.params)) return `statement ${i + 1}: params must be an array`;
  }
  return null;
}

/**
 * Words and quoted identifiers of `sql`, lower-cased, skipping literals and comments, and how many
 * statements it holds; or why it cannot be read (an unterminated literal or comment).
 */
export function lex(sql: string): { tokens: Token[]; statements: number } | string {
  const tokens: Token[] = [];
  let statements = 0;
  let inStatement = false;
  let i = 0;
  const n = sql.length;
  const mark = () => { if (!inStatement) { inStatement = true; statements++; } };
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '-' && next === '-') { const e = sql.indexOf('\n', i); i = e < 0 ? n : e + 1; continue; }
    if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') { depth++; i += 2; } else if (sql[i] === '*' && sql[i + 1] === '/') { depth--; i += 2; } else i++;
      }
      if (depth > 0) return 'unterminated comment';
      continue;
    }
    if (c === ';') { inStatement = false; i++; continue; }
    mark();
    if (c === "'" || ((c === 'e' || c === 'E') && next === "'")) {
      const escapes = c !== "'";
      i += escapes ? 2 : 1;
      const end = skipQuoted(sql, i, "'", escapes);
      if (end < 0) return 'unterminated string literal';
      i = end;
      continue;
    }
    if (c === '"') {
      const end = skipQuoted(sql, i + 1, '"', false);
      if (end < 0) return 'unterminated quoted identifier';
      tokens.push({ word: sql.slice(i + 1, end - 1).replace(/""/g, '"').toLowerCase(), quoted: true, called: calls(sql, end) });
      i = end;
      continue;
    }
    if (c === '$') {
      const tag = /^\$([A-Za-z_\u0080-\uffff][\w\u0080-\uffff]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        if (close < 0) return 'unterminated dollar-quoted string';
        i = close + tag[0].length;
        continue;
      }
    }
    const word = /^[A-Za-z_\u0080-\uffff][\w$\u0080-\uffff]*/.exec(sql.slice(i, i + 200));
    if (word) {
      i += word[0].length;
      tokens.push({ word: word[0].toLowerCase(), quoted: false, called: calls(sql, i) });
      continue;
    }
    i++;
  }
  return { tokens, statements };
}

/** Whether a call's `(` follows position `i` (a comment there counts as one: it may hide it). */
function calls(sql: string, i: number): boolean {
  while (i < sql.length && /\s/.test(sql[i]!)) i++;
  return sql[i] === '(' || sql.startsWith('/*', i) || sql.startsWith('--', i);
}

/** Index just past the closing `quote` from `i` (doubled quotes, and backslashes when `escapes`, stay inside); -1 if none. */
function skipQuoted(sql: string, i: number, quote: string, escapes: boolean): number {
  while (i < sql.length) {
    const c = sql[i]!;
    if (escapes && c === '\\') { i += 2; continue; }
    if (c === quote) {
      if (sql[i + 1] === quote) { i += 2; continue; }
      return i + 1;
    }
    i++;
  }
  return -1;
}
