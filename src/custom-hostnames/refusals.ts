/**
 * Cloudflare API failures as our refusals, pure. Cloudflare's error codes for custom hostnames
 * (its "status codes" reference): 1406 duplicate hostname (409), 1404/1405 no or exceeded
 * custom-hostname quota (403), 1407-1411 a hostname it will not take (400), 1436 not found (404),
 * 10000 authentication (403). A refusal for the request is a 4xx with our code; anything that
 * says Cloudflare cannot answer now (down, timed out, 429, 5xx, our token refused) is
 * `503 UPSTREAM_UNAVAILABLE` with Retry-After: the caller retries, nothing was created.
 */
import { AppError } from '../errors.js';

/** What the wrapper knows of a failed call: HTTP status (none: no answer), Cloudflare's codes and messages. */
export interface CallFailure { status: number | undefined; codes: number[]; message: string; retryAfter?: string | null }

const INVALID = new Set([1407, 1408, 1409, 1410, 1411]);

/** True when the failure says the custom hostname does not exist (a delete of it is done). */
export const isNotFound = (f: CallFailure): boolean => f.status === 404 || f.codes.includes(1436);

/** True when Cloudflare already holds this hostname (code 1406). */
export const isDuplicate = (f: CallFailure): boolean => f.codes.includes(1406);

/** The refusal for a failed call. */
export function refusalOf(f: CallFailure): AppError {
  const said = f.message.slice(0, 300);
  if (isDuplicate(f)) return new AppError(409, 'DOMAIN_TAKEN', `Cloudflare already has this hostname in another zone or account: ${said}`);
  if (f.codes.includes(1405) || f.codes.includes(1404)) {
    return new AppError(422, 'HOSTNAME_QUOTA_EXCEEDED', `the Cloudflare zone's custom hostname quota is used up: ${said}`);
  }
  if (f.codes.some((c) => INVALID.has(c))) return new AppError(422, 'DOMAIN_NOT_ALLOWED', `Cloudflare refuses this hostname: ${said}`);
  const retryAfter = f.status === 429 && f.retryAfter && /^\d{1,4}$/.test(f.retryAfter) ? f.retryAfter : '5';
  if (f.status === 401 || f.status === 403) {
    // Our own credential or zone is wrong: the operator has to act, the caller can only wait.
    console.error(JSON.stringify({ level: 'error', msg: 'Cloudflare refused the API token or zone', status: f.status, codes: f.codes }));
    return new AppError(503, 'UPSTREAM_UNAVAILABLE', 'custom hostnames are unavailable (Cloudflare refused the platform\'s credentials)', { 'Retry-After': '30' });
  }
  if (f.status !== undefined && f.status >= 400 && f.status < 500 && f.status !== 429) {
    return new AppError(422, 'DOMAIN_NOT_ALLOWED', `Cloudflare refused the custom hostname: ${said}`);
  }
  return new AppError(503, 'UPSTREAM_UNAVAILABLE', 'Cloudflare did not answer; retry later', { 'Retry-After': retryAfter });
}
