/**
 * Local stand-in for Cloudflare's API v4, the custom hostnames endpoints of Cloudflare for SaaS
 * (`/client/v4/zones/{zone_id}/custom_hostnames[/{id}]`: create, get, list, patch, delete), for
 * the calls the `cloudflare` SDK makes. Shapes are the SDK's types (CustomHostname and its SSL,
 * ownership_verification, validation_records); every answer is the v4 envelope
 * `{success, errors: [{code, message}], messages, result, result_info?}`.
 *
 * Modelled: bearer-token auth (no header 400/1403; a wrong token 403/10000 "Authentication
 * error"), zones (a malformed id 404/7003, an unknown one 403/10000), the per-zone quota (403/1405
 * once it is used up; default 100, `PUT /_test/zones/<id> {quota}` sets it or adds a zone),
 * hostname checks (1407 bad characters or length, 1408 non-ASCII), the DCV method (1432) and type
 * (1433), duplicates across zones (409/1406), not found (404/1436), list filters (`hostname`,
 * `hostname.exact`, `hostname.contain`, `id`) with pagination (`page`, `per_page` ≤ 50).
 * Verification is simulated from a small loopback DNS table the tests fill as a tenant would
 * publish records (`PUT /_dns/<TYPE>/<name>` with the value as body, `DELETE` to withdraw). On
 * every GET, list and PATCH, each hostname is re-checked as Cloudflare's validators would:
 * ownership is proven by the CNAME to the zone's target or by the `_cf-custom-hostname` TXT, and
 * takes `pending` → `active` (an active hostname whose CNAME and TXT are withdrawn becomes
 * `moved`); the certificate (`pending_validation`) becomes `active` once its DCV is met: the
 * `_acme-challenge` TXT for `txt`, the CNAME for `http` (Cloudflare answers the CA's HTTP challenge
 * itself once traffic reaches it). Validation records are dropped once the certificate is active,
 * as Cloudflare does.
 * Validation as Cloudflare documents it (Cloudflare for SaaS, "Hostname validation" and "Validate
 * certificates"): the hostname's ownership passes by real-time validation (the CNAME to the zone)
 * or by pre-validation (`ownership_verification`, the `_cf-custom-hostname` TXT); nothing in the
 * API says which of the two passed (`ownership_verification` has name, type and value only). The
 * certificate's DCV follows `ssl.method`: `txt` needs its `_acme-challenge` TXT whatever CNAME
 * exists; `http` is met by the CNAME alone, because Cloudflare serves the CA's token itself once
 * traffic reaches it. A create without `ssl` gets `http` here (the dashboard's default).
 * Not modelled: the `initializing` and `pending_issuance`/`pending_deployment` steps (validated is
 * issued at once), email DCV, timeouts of validation, reserved names (1409 `.test`, 1411
 * `example.*`: the test suites use such names), custom certificates, metadata, origins, rate limits.
 * Test hooks (no auth): `PUT/DELETE /_dns/<TYPE>/<name>`, `GET /_dns`; `POST /_test/block/<host>
 * {reason}` blocks a hostname (status `blocked`, the reason in `verification_errors`);
 * `PUT /_test/zones/<id> {quota}`; `POST /_test/hang {zone, count}` leaves the zone's next `count`
 * API requests unanswered; `POST /_test/delay {zone, ms, count}` answers them `ms` late;
 * `POST /_test/fail-next {zone, status, count, id?}` (with `id`: only requests for that custom
 * hostname); `GET /_test/requests?zone=` counts the zone's API requests; `GET /_test/hostnames?hostname=` (any zone).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { CustomHostname } from 'cloudflare/resources/custom-hostnames/custom-hostnames';
import { readBody } from './http-util.js';
import { listen } from './ports.js';

export interface CloudflareApiOptions { token: string; zoneId: string; cnameTarget: string; quota?: number }
export interface CloudflareApi { url: string; token: string; zoneId: string; cnameTarget: string; hooks: string; close(): Promise<void> }

type Reply = [status: number, body: unknown];
interface Zone { quota: number; hostnames: Map<string, CustomHostname> }
const V4 = '/client/v4';
const ZONE_ID = /^[0-9a-f]{32}$/;
const HOST = /^(?=.{1,255}$)(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/;

const envelope = (result: unknown, extra: Record<string, unknown> = {}) => ({ success: true, errors: [], messages: [], result, ...extra });
const failure = (status: number, code: number, message: string): Reply => [status, { success: false, errors: [{ code, message }], messages: [], result: null }];
const token = () => randomBytes(16).toString('hex');

/** Starts the stand-in on a free loopback port; `url` ends in `/client/v4`. */
export async function startCloudflareApi(opts: CloudflareApiOptions): Promise<CloudflareApi> {
  const zones = new Map<string, Zone>([[opts.zoneId, { quota: opts.quota ?? 100, hostnames: new Map() }]]);
  const dns = new Map<string, string>(); // `${TYPE} ${name}` → value
  // Per zone, so a test's injected outage never reaches another test's calls.
  const hang = new Map<string, number>();
  const failNext = new Map<string, { status: number; count: number; id?: string }>();
  const delay = new Map<string, { ms: number; count: number }>();
  const requests = new Map<string, number>();
  const hung = new Set<ServerResponse>();

  const published = (type: string, name: string, value: string) => dns.get(`${type} ${name.toLowerCase()}`) === value;

  /** What Cloudflare's validators would find now. */
  function advance(h: CustomHostname): CustomHostname {
    if (h.status === 'blocked') return h;
    const cname = published('CNAME', h.hostname, opts.cnameTarget);
    const own = h.ownership_verification!;
    const owned = cname || published('TXT', own.name!, own.value!);
    if (h.status === 'pending' && owned) h.status = 'active';
    else if (h.status === 'active' && !owned) h.status = 'moved';
    else if (h.status === 'moved' && owned) h.status = 'active';
    h.verification_errors = h.status === 'active' ? [] : ['custom hostname does not CNAME to this zone.'];
    const ssl = h.ssl!;
    if (ssl.status === 'pending_validation') {
      const dcv = ssl.validation_records ?? [];
      const met = ssl.method === 'http' ? cname : dcv.every((r) => published('TXT', r.txt_name!, r.txt_value!));
      if (met) { ssl.status = 'active'; delete ssl.validation_records; }
    }
    return h;
  }

  function create(zone: Zone, body: string): Reply {
    let b: { hostname?: unknown; ssl?: { method?: unknown; type?: unknown } };
    try { b = JSON.parse(body); } catch { return failure(400, 1400, 'Unable to decode the JSON request body. Check your input and try again.'); }
    const hostname = typeof b.hostname === 'string' ? b.hostname : '';
    if (/[^\x00-\x7f]/.test(hostname)) return failure(400, 1408, 'Custom hostnames with non-ASCII characters are not supported. Check your input and try again.');
    if (!HOST.test(hostname)) return failure(400, 1407, 'Invalid custom hostname. Custom hostnames have to be smaller than 256 characters in length, cannot be IP addresses, cannot contain any special characters. Check your input and try again.');
    const method = b.ssl?.method ?? 'http';
    if (method !== 'http' && method !== 'txt') return failure(400, 1432, 'The validation method is not supported. Only `http`, `email`, or `txt` are accepted. Check your input and try again.');
    if ((b.ssl?.type ?? 'dv') !== 'dv') return failure(400, 1433, "The validation type is not supported. Only 'dv' is accepted. Check your input and try again.");
    if ([...zones.values()].some((z) => [...z.hostnames.values()].some((h) => h.hostname === hostname))) {
      return failure(409, 1406, 'Duplicate custom hostname found.');
    }
    if (zone.hostnames.size >= zone.quota) return failure(403, 1405, 'Quota exceeded. If you are already a paid Cloudflare for SaaS customer, contact your account team for additional provisioning.');
    const id = randomUUID();
    const dcv = method === 'txt'
      ? { txt_name: `_acme-challenge.${hostname}`, txt_value: token(), status: 'pending' }
      : { http_url: `http://${hostname}/.well-known/acme-challenge/${token()}`, http_body: token(), status: 'pending' };
    const h: CustomHostname = {
      id, hostname, status: 'pending', created_at: new Date().toISOString(), verification_errors: ['custom hostname does not CNAME to this zone.'],
      ownership_verification: { type: 'txt', name: `_cf-custom-hostname.${hostname}`, value: randomUUID() },
      ownership_verification_http: { http_url: `http://${hostname}/.well-known/cf-custom-hostname-challenge/${id}`, http_body: randomUUID() },
      ssl: { id: randomUUID(), type: 'dv', method, status: 'pending_validation', bundle_method: 'ubiquitous', certificate_authority: 'google',
        wildcard: false, settings: {}, validation_records: [dcv] },
    };
    zone.hostnames.set(id, h);
    return [201, envelope(h)];
  }

  function list(zone: Zone, q: URLSearchParams): Reply {
    const exact = q.get('hostname') ?? q.get('hostname.exact');
    const contain = q.get('hostname.contain');
    const id = q.get('id');
    const all = [...zone.hostnames.values()].filter((h) => (!exact || h.hostname === exact) && (!contain || h.hostname.includes(contain)) && (!id || h.id === id));
    const perPage = Math.min(50, Math.max(5, Number(q.get('per_page') ?? 20) || 20));
    const page = Math.max(1, Number(q.get('page') ?? 1) || 1);
    const slice = all.slice((page - 1) * perPage, page * perPage).map(advance);
    return [200, envelope(slice, { result_info: { page, per_page: perPage, count: slice.length, total_count: all.length, total_pages: Math.ceil(all.length / perPage) } })];
  }

  async function api(req: IncomingMessage, path: string, q: URLSearchParams): Promise<Reply> {
    const auth = req.headers.authorization;
    if (!auth) return failure(400, 1403, 'The request has no Authorization header. Check your input and try again.');
    if (auth !== `Bearer ${opts.token}`) return failure(403, 10000, 'Authentication error');
    const m = /^\/zones\/([^/]+)\/custom_hostnames(?:\/([^/]+))?$/.exec(path);
    if (!m) return failure(404, 7003, `Could not route to ${path}, perhaps your object identifier is invalid?`);
    if (!ZONE_ID.test(m[1]!)) return failure(404, 7003, `Could not route to ${path}, perhaps your object identifier is invalid?`);
    const zone = zones.get(m[1]!);
    if (!zone) return failure(403, 10000, 'Authentication error');
    const method = req.method ?? 'GET';
    if (!m[2]) {
      if (method === 'POST') return create(zone, await readBody(req));
      if (method === 'GET') return list(zone, q);
      return failure(405, 10405, 'Method not allowed');
    }
    const h = zone.hostnames.get(decodeURIComponent(m[2]));
    if (!h) return failure(404, 1436, 'The custom hostname was not found.');
    if (method === 'GET') return [200, envelope(advance(h))];
    if (method === 'DELETE') { zone.hostnames.delete(h.id); return [200, envelope({ id: h.id })]; }
    if (method === 'PATCH') {
      const b = JSON.parse((await readBody(req)) || '{}') as { ssl?: { method?: 'http' | 'txt' } };
      if (b.ssl?.method === 'http' || b.ssl?.method === 'txt') h.ssl!.method = b.ssl.method;
      return [202, envelope(advance(h))];
    }
    return failure(405, 10405, 'Method not allowed');
  }

  async function hooks(req: IncomingMessage, path: string, q: URLSearchParams): Promise<Reply> {
    const method = req.method ?? 'GET';
    let m: RegExpExecArray | null;
    if (path === '/_dns' && method === 'GET') return [200, Object.fromEntries(dns)];
    if ((m = /^\/_dns\/(CNAME|TXT)\/([^/]+)$/i.exec(path))) {
      const key = `${m[1]!.toUpperCase()} ${decodeURIComponent(m[2]!).toLowerCase()}`;
      if (method === 'PUT') { dns.set(key, (await readBody(req)).trim()); return [200, { ok: true }]; }
      if (method === 'DELETE') { dns.delete(key); return [200, { ok: true }]; }
    }
    if ((m = /^\/_test\/block\/([^/]+)$/.exec(path)) && method === 'POST') {
      const body = JSON.parse((await readBody(req)) || '{}') as { reason?: string };
      const found = [...zones.values()].flatMap((z) => [...z.hostnames.values()]).filter((h) => h.hostname === decodeURIComponent(m![1]!));
      for (const h of found) { h.status = 'blocked'; h.verification_errors = [body.reason ?? 'This hostname is blocked.']; }
      return [found.length ? 200 : 404, { blocked: found.length }];
    }
    if ((m = /^\/_test\/zones\/([0-9a-f]{32})$/.exec(path)) && method === 'PUT') {
      const body = JSON.parse((await readBody(req)) || '{}') as { quota?: number };
      const zone = zones.get(m[1]!) ?? { quota: 100, hostnames: new Map() };
      zone.quota = body.quota ?? zone.quota;
      zones.set(m[1]!, zone);
      return [200, { zone: m[1], quota: zone.quota, used: zone.hostnames.size }];
    }
    if (path === '/_test/hang' && method === 'POST') {
      const b = JSON.parse(await readBody(req)) as { zone: string; count?: number };
      hang.set(b.zone, b.count ?? 1);
      return [200, { hang: hang.get(b.zone) }];
    }
    if (path === '/_test/fail-next' && method === 'POST') {
      const b = JSON.parse(await readBody(req)) as { zone: string; status?: number; count?: number; id?: string };
      failNext.set(b.zone, { status: b.status ?? 500, count: b.count ?? 1, ...(b.id ? { id: b.id } : {}) });
      return [200, failNext.get(b.zone)];
    }
    if (path === '/_test/delay' && method === 'POST') {
      const b = JSON.parse(await readBody(req)) as { zone: string; ms: number; count?: number };
      delay.set(b.zone, { ms: b.ms, count: b.count ?? 1 });
      return [200, delay.get(b.zone)];
    }
    if (path === '/_test/requests' && method === 'GET') return [200, { requests: requests.get(q.get('zone') ?? '') ?? 0 }];
    if (path === '/_test/hostnames' && method === 'GET') {
      const host = q.get('hostname');
      return [200, [...zones.entries()].flatMap(([zone, z]) => [...z.hostnames.values()].filter((h) => !host || h.hostname === host).map((h) => ({ zone, ...h })))];
    }
    return [404, { error: 'no such hook' }];
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const send = ([status, body]: Reply) => { if (!res.headersSent) { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); } };
    const onApi = url.pathname.startsWith(`${V4}/`);
    const [, zone = '', target] = /^\/client\/v4\/zones\/([^/]+)(?:\/custom_hostnames\/([^/]+))?/.exec(url.pathname) ?? [];
    if (onApi) requests.set(zone, (requests.get(zone) ?? 0) + 1);
    if (onApi && (hang.get(zone) ?? 0) > 0) { hang.set(zone, hang.get(zone)! - 1); hung.add(res); return; }
    const fail = failNext.get(zone);
    if (onApi && fail && fail.count > 0 && (!fail.id || fail.id === target)) { fail.count--; send(failure(fail.status, 1500, 'Internal Server Error')); return; }
    const late = onApi ? delay.get(zone) : undefined;
    const wait = late && late.count > 0 ? (late.count--, late.ms) : 0;
    const run = () => {
      const work = onApi ? api(req, url.pathname.slice(V4.length), url.searchParams) : hooks(req, url.pathname, url.searchParams);
      work.then(send, (err: unknown) => send(failure(500, 1500, `Internal Server Error: ${String(err).slice(0, 100)}`)));
    };
    if (wait > 0) setTimeout(run, wait); else run();
  });
  const port = await listen(server);
  const base = `http://127.0.0.1:${port}`;
  return {
    url: `${base}${V4}`, hooks: base, token: opts.token, zoneId: opts.zoneId, cnameTarget: opts.cnameTarget,
    close: () => new Promise<void>((done) => {
      for (const res of hung) res.destroy();
      server.closeAllConnections();
      server.close(() => done());
    }),
  };
}
