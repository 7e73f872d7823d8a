/**
 * SCRAM-SHA-256 password verifiers (RFC 5802/7677, PostgreSQL's `rolpassword` format), computed
 * here so that `CREATE ROLE … PASSWORD` carries the verifier, never the password: DDL text ends up
 * in PostgreSQL's logs whenever DDL is logged, and a verifier there does not let anyone log in.
 * WebCrypto only (PBKDF2, HMAC, SHA-256), so it runs in workerd and in Node alike.
 */
const enc = new TextEncoder();

/** PostgreSQL's default iteration count (`scram_iterations`). */
export const SCRAM_ITERATIONS = 4096;

// SASLprep (which PostgreSQL applies to passwords) is the identity on printable ASCII, so
// limiting passwords to it makes the verifier exactly what PostgreSQL computes itself.
const PRINTABLE_ASCII = /^[\x21-\x7e]{1,1024}$/;
const VERIFIER = /^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*:[A-Za-z0-9+/]+=*$/;

/** `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` for `password` (printable ASCII). */
export async function scramVerifier(password: string, opts: { iterations?: number; salt?: Uint8Array } = {}): Promise<string> {
  if (!PRINTABLE_ASCII.test(password)) throw new Error('SCRAM verifiers are made for printable ASCII passwords only');
  const iterations = opts.iterations ?? SCRAM_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error('iterations must be a positive integer');
  const salt = new Uint8Array(opts.salt ?? crypto.getRandomValues(new Uint8Array(16)));
  const base = await crypto.subtle.importKey('raw', enc.encode(password), 'PBKDF2', false, ['deriveBits']);
  const salted = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, base, 256);
  const hmac = await crypto.subtle.importKey('raw', salted, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const clientKey = await crypto.subtle.sign('HMAC', hmac, enc.encode('Client Key'));
  const storedKey = await crypto.subtle.digest('SHA-256', clientKey);
  const serverKey = await crypto.subtle.sign('HMAC', hmac, enc.encode('Server Key'));
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(new Uint8Array(storedKey))}:${b64(new Uint8Array(serverKey))}`;
}

/** The `PASSWORD '…'` clause for a verifier; refuses anything else, since it is spliced into DDL. */
export function passwordClause(verifier: string): string {
  if (!VERIFIER.test(verifier)) throw new Error('not a SCRAM-SHA-256 verifier');
  return `PASSWORD '${verifier}'`;
}

/** A random password of 48 hex characters (192 bits). */
export function randomPassword(): string {
  return [...crypto.getRandomValues(new Uint8Array(24))].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function b64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
