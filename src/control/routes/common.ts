/** Pieces every admin route shares: error responses and the validation hook. */
import type { Hook } from '@hono/zod-openapi';
import { AppError } from '../../errors.js';
import { ErrorSchema } from '../schemas.js';

const error = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } });

/** The refusals any admin call can meet. */
export const ERRORS = {
  400: error('Invalid request (BAD_REQUEST)'),
  401: error('Missing or invalid admin credential (UNAUTHENTICATED, INVALID_TOKEN)'),
  403: error('The credential lacks the scope (FORBIDDEN)'),
  503: error('Control database or provisioning unavailable'),
} as const;

export const NOT_FOUND = { 404: error('No such tenant or template') } as const;
export const CONFLICT = { 409: error('Conflicts with existing state (TENANT_EXISTS, DOMAIN_TAKEN, INVALID_STATE, ...)') } as const;
export const UNPROCESSABLE = { 422: error('Valid shape, refused by policy (SLUG_RESERVED, RESIDENCY_MISMATCH, UNKNOWN_REGION, ...)') } as const;

/** Schema validation failures are our 400 with the first problem named, never zod's raw output. */
export const validationHook: Hook<any, any, any, any> = (result) => {
  if (result.success) return;
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  throw new AppError(400, 'BAD_REQUEST', `${result.target}: ${where}${issue?.message ?? 'invalid'}`.slice(0, 300));
};

/** A JSON request body. */
export const jsonBody = <T>(schema: T) => ({ content: { 'application/json': { schema } }, required: true });

/** A JSON response. */
export const jsonOk = <T>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
