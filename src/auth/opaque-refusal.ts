/**
 * On the shared API host the token is all that names the tenant, so how a token is refused must
 * say nothing: an unknown issuer, a known issuer with a bad signature, an expired token and a
 * garbled one all get the same status, code and message. (Tenant hosts name their tenant already
 * and keep the precise messages, which help integrators.)
 */
import { AppError } from '../errors.js';

/** The single pre-authentication token refusal of the API host. */
export const tokenRefused = (): AppError => new AppError(401, 'INVALID_TOKEN', 'token is not valid');

/** Awaits `work`, replacing any 401 it throws with the one uniform refusal. */
export async function opaqueRefusals<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof AppError && err.status === 401) throw tokenRefused();
    throw err;
  }
}
