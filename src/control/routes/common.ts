/**
 * Pieces every admin route shares: error responses (each status with the codes it can carry),
 * request headers, ETags, the validation hook and the 405 for a known path's other methods.
 */
import { z, type Hook } from '@hono/zod-openapi';
import type { Context, NotFoundHandler } from 'hono';
import { AppError, errorResponse, notFound, type ErrorCode } from '../../errors.js';

const errorSchema = (codes: readonly [ErrorCode, ...ErrorCode[]]) => z.object({
  error: z.object({ code: z.enum(codes), message: z.string(), requestId: z.string().nullable() }),
});
/** An error response whose `code` is one of `codes`. */
export const errorSpec = (description: string, codes: readonly [ErrorCode, ...ErrorCode[]]) =>
  ({ description, content: { 'application/json': { schema: errorSchema(codes) } } });

/** The refusals any admin call can meet. */
export const ERRORS = {
  400: errorSpec('Invalid request', ['BAD_REQUEST', 'CONFIRMATION_REQUIRED', 'INVALID_YAML']),
  401: errorSpec('Missing or invalid admin credential', ['UNAUTHENTICATED', 'INVALID_TOKEN']),
  403: errorSpec('The credential lacks the scope', ['FORBIDDEN']),
  503: errorSpec('Control database, cache, audit log or provisioning unavailable', ['UPSTREAM_UNAVAILABLE', 'PROVISIONING_FAILED']),
} as const;

export const NOT_FOUND = { 404: errorSpec('No such tenant or template', ['TENANT_NOT_FOUND', 'TEMPLATE_NOT_FOUND', 'NOT_FOUND']) } as const;
export const CONFLICT = {
  409: errorSpec('Conflicts with existing state, or a request with this Idempotency-Key is still in progress', [
    'TENANT_EXISTS', 'DOMAIN_TAKEN', 'ISSUER_TAKEN', 'TEMPLATE_EXISTS', 'TEMPLATE_IN_USE', 'INVALID_STATE',
    'MIGRATION_CONFLICT', 'PROVISIONING_IN_PROGRESS', 'OPERATION_IN_PROGRESS', 'IDEMPOTENCY_CONFLICT']),
} as const;
export const UNPROCESSABLE = {
  422: errorSpec('Valid shape, refused by policy; or an Idempotency-Key reused for another request', [
    'SLUG_RESERVED', 'RESIDENCY_MISMATCH', 'UNKNOWN_REGION', 'TEMPLATE_NOT_FOUND', 'DOMAIN_NOT_ALLOWED',
    'DOMAIN_LIMIT_REACHED', 'IDEMPOTENCY_KEY_REUSED']),
} as const;
export const PRECONDITION = { 412: errorSpec('If-Match names another version: nothing was changed', ['PRECONDITION_FAILED']) } as const;

/** Schema validation failures are our 400 with the first problem named, never zod's raw output. */
export const validationHook: Hook<any, any, any, any> = (result) => {
  if (result.success) return;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  throw new AppError(400, 'BAD_REQUEST', `${result.target}: ${where}${issue?.message ?? 'invalid'}`.slice(0, 300));
};

const ETAG_HEADER = { ETag: { description: 'The version of the resource, for If-Match / If-None-Match', schema: { type: 'string' as const } } };

/** A JSON request body. */
export const jsonBody = <T>(schema: T) => ({ content: { 'application/json': { schema } }, required: true });

/** A JSON response. */
export const jsonOk = <T>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

/** A JSON response carrying the resource's ETag. */
export const jsonTagged = <T>(schema: T, description: string) => ({ ...jsonOk(schema, description), headers: ETAG_HEADER });

/** 304 for a GET whose If-None-Match names the current version. */
export const NOT_MODIFIED = { 304: { description: 'Not modified: If-None-Match names the current version', headers: ETAG_HEADER } } as const;

/** `If-Match` (PATCH, DELETE) as a documented, validated parameter. */
export const IfMatchHeader = z.object({
  'If-Match': z.string().max(200).optional().openapi({
    description: 'The ETag the change is based on; another version is 412 PRECONDITION_FAILED and nothing changes',
  }),
});

/** `If-None-Match` (GET) as a documented, validated parameter. */
export const IfNoneMatchHeader = z.object({
  'If-None-Match': z.string().max(200).optional().openapi({
    description: 'An ETag held by the caller: 304 when it is still current',
  }),
});

/** The strong ETag of a version. */
export const etagOf = (version: number): string => `"v${version}"`;

/**
 * The version an `If-Match` value requires: a number, `null` for `*` or no header (any version),
 * or a 412 when it names no version this API issued (a weak or foreign tag matches nothing).
 */
export function requiredVersion(header: string | undefined): number | null {
  if (header === undefined || header.trim() === '*') return null;
  const versions = header.split(',').map((t) => /^"v(\d{1,15})"$/.exec(t.trim())?.[1]).filter((v): v is string => v !== undefined);
  if (versions.length !== 1) throw new AppError(412, 'PRECONDITION_FAILED', 'If-Match must be one ETag of this resource, or *');
  return Number(versions[0]);
}

/** True when `If-None-Match` names the current `etag` (weak comparison, as for GET). */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.trim() === '*' || header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/** Sets the ETag of `version`; answers 304 instead when `If-None-Match` names it. */
export function tagged(c: Context, version: number): Response | null {
  const etag = etagOf(version);
  c.header('ETag', etag);
  return noneMatch(c.req.header('if-none-match'), etag) ? c.body(null, 304) : null;
}

/**
 * The not-found handler of an app: a path one of `routes` serves with other methods is 405 with
 * `Allow` (Hono alone answers 404, as if the resource did not exist); anything else the JSON 404.
 */
export function methodAwareNotFound(routes: () => readonly { method: string; path: string }[]): NotFoundHandler {
  let table: { pattern: RegExp; method: string }[] | null = null;
  return (c) => {
    table ??= routes().filter((r) => r.method !== 'ALL' && !r.path.includes('*'))
      .map((r) => ({ method: r.method, pattern: new RegExp(`^${r.path.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]\w*/g, '[^/]+')}/?$`) }));
    const path = new URL(c.req.url).pathname;
    const methods = [...new Set(table.filter((r) => r.pattern.test(path)).map((r) => r.method))];
    if (methods.length === 0) return notFound(c);
    if (methods.includes('GET')) methods.push('HEAD');
    const allow = methods.join(', ');
    // Answered, not thrown: a throw here would bypass the steps around the route (the audit).
    return errorResponse(c, 405, 'METHOD_NOT_ALLOWED', `${c.req.method} is not allowed here; allowed: ${allow}`, { Allow: allow });
  };
}
