/**
 * Cloudflare's view of a custom hostname mapped onto ours, pure. Cloudflare reports two state
 * machines: the hostname's (`status`: is traffic for it accepted by our zone) and its
 * certificate's (`ssl.status`). We serve a domain only when both are `active`: an active hostname
 * with a certificate still being validated or issued would answer its visitors with TLS errors.
 * States Cloudflare will not leave by itself (blocked, moved away, deleted, a validation that
 * timed out) are `failed`, with Cloudflare's reasons in words. A domain becomes active only with
 * a certificate validated through its `_acme-challenge` TXT record (ssl.method `txt`): the proof
 * that the tenant controls the domain's DNS, which a CNAME alone is not.
 */
import type { CustomHostname } from 'cloudflare/resources/custom-hostnames/custom-hostnames';

/** Our state of a custom domain. */
export type DomainState = 'pending' | 'active' | 'failed';

/** One DNS (or HTTP) record the tenant publishes. */
export interface DomainRecord {
  type: 'CNAME' | 'TXT' | 'HTTP';
  /** The DNS name (for HTTP: the URL the certificate authority fetches). */
  name: string;
  /** The record's content (for HTTP: the body to serve). */
  value: string;
  purpose: 'traffic' | 'ownership' | 'certificate';
}

export interface Observed {
  state: DomainState;
  detail: string | null;
  /**
   * Cloudflare serves the hostname, but its certificate was not validated through the TXT record
   * (validated over HTTP, before TXT was the only method, or made elsewhere): the DNS ownership was
   * never proven to us, so even an active domain goes back to pending until it is.
   */
  unproven?: true;
}

// Hostname states that need someone to act (Cloudflare's review, the tenant's DNS, a re-create).
const HOSTNAME_FAILED: Record<string, string> = {
  blocked: 'blocked by Cloudflare', test_blocked: 'blocked by Cloudflare', test_failed: 'failed Cloudflare\'s checks',
  moved: 'no longer points to this zone (moved)', deleted: 'deleted at Cloudflare', pending_deletion: 'being deleted at Cloudflare',
};
// Certificate states after which Cloudflare stops trying: a new validation needs a new request.
const SSL_FAILED = new Set(['initializing_timed_out', 'validation_timed_out', 'issuance_timed_out', 'deployment_timed_out',
  'expired', 'deleted', 'deletion_timed_out', 'pending_deletion', 'deactivating', 'inactive']);

/** Cloudflare's reasons, in one bounded line. */
function reasons(ch: CustomHostname): string[] {
  const own = ch.verification_errors ?? [];
  const ssl = (ch.ssl?.validation_errors ?? []).map((e) => e.message).filter((m): m is string => !!m);
  return [...own, ...ssl];
}

/** Our state for what Cloudflare reports of a custom hostname. */
export function observe(ch: CustomHostname): Observed {
  const status = ch.status ?? 'pending';
  const ssl = ch.ssl?.status ?? 'initializing';
  const why = reasons(ch);
  const detail = (text: string) => [text, ...why].join('; ').slice(0, 1000);
  if (HOSTNAME_FAILED[status]) return { state: 'failed', detail: detail(`hostname ${HOSTNAME_FAILED[status]}`) };
  if (SSL_FAILED.has(ssl)) return { state: 'failed', detail: detail(`certificate ${ssl.replace(/_/g, ' ')}`) };
  if (status === 'active' && ssl === 'active') {
    // A certificate validated over HTTP proves only that a CNAME points here, which a former
    // owner may have left behind: such a hostname (made elsewhere, or before txt was the only
    // method) is not activated.
    if (ch.ssl?.method !== 'txt') {
      return { state: 'pending', unproven: true, detail: `pending re-verification: certificate validated over ${ch.ssl?.method ?? 'an unknown method'}, not the TXT record; remove the domain and add it again` };
    }
    return { state: 'active', detail: null };
  }
  const waiting = [status !== 'active' ? `hostname ${status.replace(/_/g, ' ')}` : null,
    ssl !== 'active' ? `certificate ${ssl.replace(/_/g, ' ')}` : null].filter(Boolean).join(', ');
  return { state: 'pending', detail: detail(`waiting for the published records: ${waiting}`) };
}

/**
 * The state after a check. An active domain stays active through Cloudflare's transient states
 * (a certificate renewal shows `pending_validation` again while the old one still serves); only a
 * failure takes it out of service. A failed domain is re-evaluated: a hostname Cloudflare unblocked
 * becomes pending or active again. An active domain whose ownership was never proven through
 * the TXT record (`unproven`: activated by HTTP validation before the TXT-only rule) is taken
 * out of service: pending re-verification.
 */
export function nextState(current: DomainState, observed: Observed): Observed {
  if (current === 'active' && observed.state === 'pending' && !observed.unproven) return { state: 'active', detail: null };
  return observed;
}

/** The records the tenant must publish for `ch`, `cnameTarget` being the SaaS fallback origin. */
export function recordsOf(ch: CustomHostname, cnameTarget: string): DomainRecord[] {
  const out: DomainRecord[] = [{ type: 'CNAME', name: ch.hostname, value: cnameTarget, purpose: 'traffic' }];
  const own = ch.ownership_verification;
  if (own?.name && own.value) out.push({ type: 'TXT', name: own.name, value: own.value, purpose: 'ownership' });
  for (const r of ch.ssl?.validation_records ?? []) {
    if (r.txt_name && r.txt_value) out.push({ type: 'TXT', name: r.txt_name, value: r.txt_value, purpose: 'certificate' });
    else if (r.http_url && r.http_body) out.push({ type: 'HTTP', name: r.http_url, value: r.http_body, purpose: 'certificate' });
  }
  return out;
}

/**
 * Seconds until an active domain is checked again: once a day, so a hostname Cloudflare reports
 * moved or deleted (its CNAME withdrawn, the domain gone to someone else) stops being served.
 */
export const ACTIVE_RECHECK_SECONDS = 86_400;

/** Seconds until a domain in `state` is checked again: active daily; pending by its age, often at first, hourly after a day. */
export function recheckSeconds(state: DomainState, ageSeconds: number): number {
  return state === 'active' ? ACTIVE_RECHECK_SECONDS : recheckAfterSeconds(ageSeconds);
}

/** Seconds until a pending domain is checked again, by its age: often at first, hourly after a day. */
export function recheckAfterSeconds(ageSeconds: number): number {
  if (ageSeconds < 600) return 15;
  if (ageSeconds < 3600) return 60;
  if (ageSeconds < 86_400) return 600;
  return 3600;
}
