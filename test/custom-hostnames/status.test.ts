/** The pure parts: Cloudflare's hostname and certificate states mapped onto ours, the records, refusals. */
import { describe, expect, it } from 'vitest';
import type { CustomHostname } from 'cloudflare/resources/custom-hostnames/custom-hostnames';
import { ACTIVE_RECHECK_SECONDS, nextState, observe, recheckAfterSeconds, recheckSeconds, recordsOf } from '../../src/custom-hostnames/status.js';
import { refusalOf } from '../../src/custom-hostnames/refusals.js';

type SslStatus = NonNullable<CustomHostname['ssl']>['status'];
const ch = (status: CustomHostname['status'], ssl: SslStatus, extra: Partial<CustomHostname> = {}): CustomHostname =>
  ({ id: 'id-1', hostname: 'shop.acme.org', status, ssl: { status: ssl, method: 'txt' }, ...extra });

describe('observe', () => {
  it('is active only when both the hostname and its certificate are', () => {
    expect(observe(ch('active', 'active'))).toEqual({ state: 'active', detail: null });
    for (const ssl of ['initializing', 'pending_validation', 'pending_issuance', 'pending_deployment'] as const) {
      const seen = observe(ch('active', ssl));
      expect(seen.state, ssl).toBe('pending');
      expect(seen.detail).toContain(`certificate ${ssl.replace(/_/g, ' ')}`);
    }
    const both = observe(ch('pending', 'pending_validation', { verification_errors: ['custom hostname does not CNAME to this zone.'] }));
    expect(both.state).toBe('pending');
    expect(both.detail).toBe('waiting for the published records: hostname pending, certificate pending validation; custom hostname does not CNAME to this zone.');
    expect(observe(ch('pending', 'active')).state).toBe('pending');
  });

  it('fails for states Cloudflare does not leave by itself, with the reasons', () => {
    const blocked = observe(ch('blocked', 'pending_validation', { verification_errors: ['hostname is on a blocklist'] }));
    expect(blocked).toEqual({ state: 'failed', detail: 'hostname blocked by Cloudflare; hostname is on a blocklist' });
    expect(observe(ch('moved', 'active')).detail).toMatch(/^hostname no longer points to this zone/);
    expect(observe(ch('deleted', 'active')).state).toBe('failed');
    const timedOut = observe({ id: 'x', hostname: 'h.acme.org', status: 'pending', ssl: { status: 'validation_timed_out', validation_errors: [{ message: 'TXT not found' }] } });
    expect(timedOut).toEqual({ state: 'failed', detail: 'certificate validation timed out; TXT not found' });
    expect(observe({ id: 'x', hostname: 'h.acme.org' }).state).toBe('pending');
  });

  it('activates only a certificate validated through its TXT record: http (a CNAME suffices) or none stays pending', () => {
    for (const method of ['http', 'email', undefined] as const) {
      const seen = observe({ id: 'id-1', hostname: 'shop.acme.org', status: 'active', ssl: { status: 'active', ...(method ? { method } : {}) } });
      expect(seen.state, String(method)).toBe('pending');
      expect(seen.detail).toContain('not the TXT record');
    }
  });

  it('keeps an active domain active through transient states, but not through a failure', () => {
    expect(nextState('active', { state: 'pending', detail: 'certificate pending validation' })).toEqual({ state: 'active', detail: null });
    expect(nextState('active', { state: 'failed', detail: 'moved' })).toEqual({ state: 'failed', detail: 'moved' });
    expect(nextState('failed', { state: 'pending', detail: 'x' })).toEqual({ state: 'pending', detail: 'x' });
    expect(nextState('pending', { state: 'active', detail: null }).state).toBe('active');
  });

  it('takes an active domain whose certificate was not validated through TXT back to pending re-verification', () => {
    const seen = observe({ id: 'id-1', hostname: 'shop.acme.org', status: 'active', ssl: { status: 'active', method: 'http' } });
    expect(seen.unproven).toBe(true);
    const next = nextState('active', seen);
    expect(next.state).toBe('pending');
    expect(next.detail).toMatch(/^pending re-verification: certificate validated over http/);
    expect(nextState('active', observe(ch('active', 'pending_validation'))).state).toBe('active');
  });
});

describe('recordsOf', () => {
  it('lists the CNAME, the ownership TXT and the certificate TXT or HTTP records', () => {
    const h: CustomHostname = {
      id: 'id', hostname: 'shop.acme.org', status: 'pending',
      ownership_verification: { type: 'txt', name: '_cf-custom-hostname.shop.acme.org', value: 'own-1' },
      ssl: { status: 'pending_validation', validation_records: [
        { txt_name: '_acme-challenge.shop.acme.org', txt_value: 'dcv-1' },
        { http_url: 'http://shop.acme.org/.well-known/acme-challenge/t', http_body: 'body-1' },
        { emails: ['admin@acme.org'] },
      ] },
    };
    expect(recordsOf(h, 'fallback.saas.example')).toEqual([
      { type: 'CNAME', name: 'shop.acme.org', value: 'fallback.saas.example', purpose: 'traffic' },
      { type: 'TXT', name: '_cf-custom-hostname.shop.acme.org', value: 'own-1', purpose: 'ownership' },
      { type: 'TXT', name: '_acme-challenge.shop.acme.org', value: 'dcv-1', purpose: 'certificate' },
      { type: 'HTTP', name: 'http://shop.acme.org/.well-known/acme-challenge/t', value: 'body-1', purpose: 'certificate' },
    ]);
    expect(recordsOf({ id: 'id', hostname: 'a.acme.org' }, 't.example')).toEqual([{ type: 'CNAME', name: 'a.acme.org', value: 't.example', purpose: 'traffic' }]);
  });

  it('checks pending domains often at first, then less and less', () => {
    expect([0, 599, 600, 3599, 3600, 86_399, 86_400, 10 ** 7].map(recheckAfterSeconds)).toEqual([15, 15, 60, 60, 600, 600, 3600, 3600]);
  });

  it('checks active domains again once a day, whatever their age', () => {
    expect(ACTIVE_RECHECK_SECONDS).toBe(86_400);
    expect([0, 10 ** 7].map((age) => recheckSeconds('active', age))).toEqual([86_400, 86_400]);
    expect(recheckSeconds('pending', 0)).toBe(15);
  });
});

describe('refusalOf', () => {
  const f = (status: number | undefined, codes: number[], retryAfter: string | null = null) => refusalOf({ status, codes, message: 'said', retryAfter });
  it('maps Cloudflare codes to our statuses and codes', () => {
    expect([f(409, [1406]).status, f(409, [1406]).code]).toEqual([409, 'DOMAIN_TAKEN']);
    expect([f(403, [1405]).status, f(403, [1405]).code]).toEqual([422, 'HOSTNAME_QUOTA_EXCEEDED']);
    expect([f(403, [1404]).status, f(403, [1404]).code]).toEqual([422, 'HOSTNAME_QUOTA_EXCEEDED']);
    for (const c of [1407, 1408, 1409, 1410, 1411]) expect([f(400, [c]).status, f(400, [c]).code]).toEqual([422, 'DOMAIN_NOT_ALLOWED']);
  });

  it('is 503 UPSTREAM_UNAVAILABLE with Retry-After when Cloudflare cannot answer now', () => {
    for (const [status, codes] of [[undefined, []], [500, [1500]], [502, []], [403, [10000]], [401, []]] as const) {
      const e = f(status, [...codes]);
      expect([e.status, e.code], String(status)).toEqual([503, 'UPSTREAM_UNAVAILABLE']);
      expect(Number(e.headers['Retry-After'])).toBeGreaterThan(0);
    }
    expect(f(429, [], '17').headers['Retry-After']).toBe('17');
    expect(f(429, [], 'soon').headers['Retry-After']).toBe('5');
  });
});
