/** zod validation for routes, failing with the project's error shape. */
import { zValidator } from '@hono/zod-validator';
import type { ValidationTargets } from 'hono';
import type { ZodType } from 'zod';
import { AppError } from '../errors.js';

/** `zValidator` whose failures are 400 BAD_REQUEST naming the first bad field. */
export const validate = <T extends ZodType, K extends keyof ValidationTargets>(target: K, schema: T) =>
  zValidator(target, schema, (result) => {
    if (!result.success) {
      const issue = result.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
      throw new AppError(400, 'BAD_REQUEST', `${where}${issue?.message ?? 'invalid input'}`);
    }
  });
