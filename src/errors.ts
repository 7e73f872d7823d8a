/**
 * One error type and one error shape: `{"error":{"code","message","requestId"}}`.
 * Refusals throw `AppError`; anything else becomes a 500 whose details stay in the log.
 */
import { HTTPException } from 'hono/http-exception';
import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

export type ErrorCode =
  | 'BAD_REQUEST' | 'INVALID_HOST' | 'UNAUTHENTICATED' | 'INVALID_TOKEN' | 'TENANT_MISMATCH'
  | 'GEO_BLOCKED' | 'IP_NOT_ALLOWED' | 'FORBIDDEN' | 'TENANT_NOT_FOUND' | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED' | 'PAYLOAD_TOO_LARGE' | 'UNSUPPORTED_MEDIA_TYPE' | 'RATE_LIMITED' | 'QUOTA_EXCEEDED'
  | 'CONCURRENCY_LIMIT' | 'RESIDENCY_VIOLATION' | 'CIRCUIT_OPEN' | 'TENANT_SUSPENDED' | 'TENANT_MIGRATING'
  | 'UPSTREAM_UNAVAILABLE' | 'INTERNAL' | 'STORAGE_QUOTA_EXCEEDED' | 'INVALID_PATH'
  | 'ORIGIN_NOT_ALLOWED' | 'ORIGIN_SERVICE_UNKNOWN' | 'ISOLATION_CHANGED'
  // Field encryption (c.var.crypto): a value that does not open for this tenant and field.
  | 'SEALED_VALUE_INVALID'
  // Control plane.
  | 'TENANT_EXISTS' | 'DOMAIN_TAKEN' | 'ISSUER_TAKEN' | 'TEMPLATE_EXISTS' | 'TEMPLATE_IN_USE' | 'TEMPLATE_NOT_FOUND'
  | 'SLUG_RESERVED' | 'RESIDENCY_MISMATCH' | 'UNKNOWN_REGION' | 'INVALID_STATE' | 'CONFIRMATION_REQUIRED'
  | 'MIGRATION_CONFLICT' | 'MIGRATION_FAILED' | 'PROVISIONING_FAILED' | 'INVALID_YAML'
  | 'DOMAIN_NOT_ALLOWED' | 'DOMAIN_LIMIT_REACHED' | 'PROVISIONING_IN_PROGRESS'
  // Admin API: idempotent POSTs, conditional writes.
  | 'IDEMPOTENCY_KEY_REUSED' | 'IDEMPOTENCY_CONFLICT' | 'PRECONDITION_FAILED'
  // Custom hostnames (Cloudflare for SaaS).
  | 'HOSTNAME_QUOTA_EXCEEDED'
  // Moves of a tenant's data (src/moves/).
  | 'NOTHING_TO_MOVE' | 'MOVE_NOT_SUPPORTED' | 'MOVE_IN_PROGRESS' | 'MOVE_FAILED' | 'MOVE_CLEANUP_PENDING'
  // One data operation (move, restore, backup, branch promotion) per tenant at a time (src/operations/).
  | 'OPERATION_IN_PROGRESS'
  // Branches of database tenants on Neon (src/branches/).
  | 'BRANCHES_NOT_SUPPORTED' | 'BRANCH_POINT_INVALID' | 'BRANCH_IS_MAIN' | 'BRANCH_HAS_CHILDREN' | 'BRANCH_VERIFY_FAILED'
  // Backups and restores (src/backups/).
  | 'BACKUP_NOT_FOUND' | 'BACKUP_CORRUPT' | 'BACKUP_KEY_DESTROYED' | 'BACKUP_IN_PROGRESS' | 'BACKUP_FAILED' | 'RESTORE_FAILED' | 'BACKUPS_UNAVAILABLE'
  | 'BACKUP_TOO_LARGE' | 'BACKUP_HAS_SEALED_VALUES';

/** A refusal with a status, a stable code and optional headers (`Retry-After`, `WWW-Authenticate`). */
export class AppError extends HTTPException {
  constructor(status: ContentfulStatusCode, readonly code: ErrorCode, message: string, readonly headers: Record<string, string> = {}) {
    super(status, { message });
    this.name = 'AppError';
  }
}

/** Writes the JSON error body. */
export function errorResponse(c: Context, status: ContentfulStatusCode, code: ErrorCode, message: string, headers: Record<string, string> = {}): Response {
  const requestId = (c.get('requestId') as string | undefined) ?? null;
  // For the access log (observe.ts).
  c.set('errorCode' as never, code as never);
  for (const [k, v] of Object.entries(headers)) c.header(k, v);
  return c.json({ error: { code, message, requestId } }, status);
}

/** Hono's status codes from its own middleware (body limit, validators) mapped to our codes. */
function codeForStatus(status: number): ErrorCode {
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 404) return 'NOT_FOUND';
  if (status === 415) return 'UNSUPPORTED_MEDIA_TYPE';
  return status >= 500 ? 'INTERNAL' : 'BAD_REQUEST';
}

/** The single `onError`: AppError as is, other HTTP exceptions by status, the rest a bare 500. */
export const onError: ErrorHandler = (err, c) => {
  if (err instanceof AppError) return errorResponse(c, err.status as ContentfulStatusCode, err.code, err.message, err.headers);
  if (err instanceof HTTPException) {
    const status = err.status as ContentfulStatusCode;
    const message = status === 413 ? 'request body too large' : err.message || 'bad request';
    return errorResponse(c, status, codeForStatus(status), message);
  }
  console.error(JSON.stringify({ level: 'error', requestId: c.get('requestId'), msg: 'unhandled', error: String(err) }));
  return errorResponse(c, 500, 'INTERNAL', 'internal error');
};

/** JSON 404 for routes that do not exist. */
export const notFound: NotFoundHandler = (c) => errorResponse(c, 404, 'NOT_FOUND', 'no such route');
