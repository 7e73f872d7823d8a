/**
 * What `npm run secrets` writes, decided without touching a file: the values already in
 * `.secrets/<env>/` are kept, missing ones generated, given ones taken, and a key replaced only
 * when `--rotate` names it (rings keep the old key as a second entry). Never returns a value in
 * its report: the report names variables only.
 */
import { knownRegions } from '../regions.js';
import { CONTROL_ROUTER_ROLE, checkOwnerUrl, InputError, loginOf, nextLogin, parseUrlMap, passwordOf, REGION_ROUTER_ROLE, withRole } from './database-urls.js';
import { adminToken, contextSigningKey, masterKey, platformJwtSecret, rolePassword, type Randomness, type Rotatable } from './secret-values.js';
import { INPUT_VARS, REGION_PREFIX, regionVar } from './secrets-input.js';

/** The operator's options to `npm run secrets`. */
export interface SecretsInput {
  controlOwnerUrl?: string;
  /** region → owner URL of its shared database (SECRETS_REGION_<REGION>). */
  regions: Record<string, string>;
  upstashUrl?: string;
  upstashToken?: string;
  neonApiKey?: string;
  cloudflareApiToken?: string;
  rotate: ReadonlySet<Rotatable>;
}

/** The two files' current variables (empty objects when they do not exist yet). */
export interface SecretsFiles { router: Record<string, string>; control: Record<string, string> }

/** Both files' new contents and what happened to each variable. */
export interface SecretsPlan {
  files: SecretsFiles;
  /** One line per variable: generated, rotated, given, kept. Names only. */
  report: string[];
  /** Variables deploy needs that are still absent, each with the option that sets it. */
  missing: string[];
}

/** The one value both files hold, refusing two different ones. */
function shared(files: SecretsFiles, name: string): string | undefined {
  const a = files.router[name];
  const b = files.control[name];
  if (a !== undefined && b !== undefined && a !== b) throw new InputError(`router.env and control.env hold different ${name} values; both workers must share one: fix the files by hand`);
  return a ?? b;
}

/** The plan being built: both files, the report, what is missing. */
interface Draft { router: Record<string, string>; control: Record<string, string>; report: string[]; missing: string[] }

const note = (d: Draft, verb: string, what: string) => { d.report.push(`${verb.padEnd(9)} ${what}`); };

/** A generated value: kept, rotated when asked, generated when absent. */
function generated(d: Draft, name: string, old: string | undefined, rotate: boolean, make: (old?: string) => string): string {
  if (old !== undefined && !rotate) { note(d, 'kept', name); return old; }
  note(d, old === undefined ? 'generated' : 'rotated', name);
  return make(old);
}

/** A value the operator gives: the input variable's, else the file's, else absent (listed missing when required). */
function given(d: Draft, name: string, option: string, value: string | undefined, old: string | undefined, required: boolean): string | undefined {
  if (value !== undefined) note(d, old === undefined ? 'given' : old === value ? 'kept' : 'replaced', `${name} (${option})`);
  else if (old !== undefined) note(d, 'kept', name);
  else if (required) d.missing.push(`${name} (${option})`);
  return value ?? old;
}

/** Decides both files' contents. Throws InputError for bad input, never half-decides. */
export function planSecrets(input: SecretsInput, old: SecretsFiles, r: Randomness): SecretsPlan {
  const d: Draft = { router: {}, control: {}, report: [], missing: [] };
  d.router.PLATFORM_JWT_SECRET = generated(d, 'PLATFORM_JWT_SECRET', old.router.PLATFORM_JWT_SECRET, input.rotate.has('PLATFORM_JWT_SECRET'), (o) => platformJwtSecret(r, o));
  d.router.MASTER_KEY = d.control.MASTER_KEY = generated(d, 'MASTER_KEY', shared(old, 'MASTER_KEY'), input.rotate.has('MASTER_KEY'), (o) => masterKey(r, o));
  d.control.ADMIN_TOKEN = generated(d, 'ADMIN_TOKEN', old.control.ADMIN_TOKEN, input.rotate.has('ADMIN_TOKEN'), () => adminToken(r));
  planDatabases(d, input, old, r);
  planServices(d, input, old);
  // Proxy mode's context key (src/proxy/): the router's alone; origins get its public half from /.well-known/jwks.json.
  d.router.CONTEXT_SIGNING_KEY = generated(d, 'CONTEXT_SIGNING_KEY', old.router.CONTEXT_SIGNING_KEY, input.rotate.has('CONTEXT_SIGNING_KEY'), (o) => contextSigningKey(r, o));
  keepUnknown(d, old.router, d.router, 'router.env');
  keepUnknown(d, old.control, d.control, 'control.env');
  return { files: { router: d.router, control: d.control }, report: d.report, missing: d.missing };
}

/** The control database and the regions: owner URLs given or kept, router URLs composed from them. */
function planDatabases(d: Draft, input: SecretsInput, old: SecretsFiles, r: Randomness): void {
  const rotate = input.rotate.has('ROUTER_PASSWORDS');
  const password = (url: string | undefined, role: string) => (rotate ? undefined : passwordOf(url, role)) ?? rolePassword(r);
  // A rotation moves to the idle login role of the pair (its password is new); otherwise the URL's role stays.
  const login = (url: string | undefined, group: string) => (rotate ? nextLogin(loginOf(url, group)?.role, group) : loginOf(url, group)?.role ?? group);
  const givenOwner = input.controlOwnerUrl === undefined ? undefined : checkOwnerUrl(INPUT_VARS.controlOwnerUrl, input.controlOwnerUrl);
  const controlOwner = given(d, 'CONTROL_DATABASE_URL', INPUT_VARS.controlOwnerUrl, givenOwner, old.control.CONTROL_DATABASE_URL, true);
  if (controlOwner) {
    d.control.CONTROL_DATABASE_URL = controlOwner;
    d.router.CONTROL_DATABASE_URL = withRole(controlOwner, login(old.router.CONTROL_DATABASE_URL, CONTROL_ROUTER_ROLE), password(old.router.CONTROL_DATABASE_URL, CONTROL_ROUTER_ROLE));
  }
  const owners = parseUrlMap(old.control.REGION_ADMIN_URLS);
  for (const [region, url] of Object.entries(input.regions)) {
    if (!knownRegions().includes(region)) throw new InputError(`unknown region "${region}": the router knows ${knownRegions().join(', ')}`);
    owners[region] = checkOwnerUrl(regionVar(region), url);
  }
  const regions = Object.keys(owners).sort();
  if (regions.length === 0) { d.missing.push(`REGION_ADMIN_URLS (${REGION_PREFIX}<REGION>, as ${regionVar('aws-eu-central-1')})`); return; }
  const oldRouter = parseUrlMap(old.router.REGION_DATABASE_URLS);
  d.control.REGION_ADMIN_URLS = JSON.stringify(Object.fromEntries(regions.map((g) => [g, owners[g]!])));
  d.router.REGION_DATABASE_URLS = JSON.stringify(Object.fromEntries(regions.map((g) =>
    [g, withRole(owners[g]!, login(oldRouter[g], REGION_ROUTER_ROLE), password(oldRouter[g], REGION_ROUTER_ROLE))])));
  note(d, Object.keys(input.regions).length > 0 ? 'given' : 'kept', `REGION_ADMIN_URLS and REGION_DATABASE_URLS (${regions.join(', ')})`);
  const hadAny = old.router.CONTROL_DATABASE_URL !== undefined || old.router.REGION_DATABASE_URLS !== undefined;
  note(d, rotate ? 'rotated' : hadAny ? 'kept' : 'generated', `router role passwords (${CONTROL_ROUTER_ROLE}, ${REGION_ROUTER_ROLE}${hadAny && !rotate ? '; new ones where absent' : ''})`);
}

/** Upstash (both workers, the same database), Neon's and Cloudflare's API credentials (control plane). */
function planServices(d: Draft, input: SecretsInput, old: SecretsFiles): void {
  const [U, T] = [INPUT_VARS.upstashUrl, INPUT_VARS.upstashToken];
  if ((input.upstashUrl === undefined) !== (input.upstashToken === undefined)) throw new InputError(`${U} and ${T} go together`);
  if (input.upstashUrl !== undefined && !/^https:\/\/[^/\s]+/.test(input.upstashUrl)) throw new InputError(`${U} must be the database's https:// REST URL`);
  const url = given(d, 'UPSTASH_REDIS_REST_URL', U, input.upstashUrl, shared(old, 'UPSTASH_REDIS_REST_URL'), false);
  const token = given(d, 'UPSTASH_REDIS_REST_TOKEN', T, input.upstashToken, shared(old, 'UPSTASH_REDIS_REST_TOKEN'), false);
  if (url && token) {
    d.router.UPSTASH_REDIS_REST_URL = d.control.UPSTASH_REDIS_REST_URL = url;
    d.router.UPSTASH_REDIS_REST_TOKEN = d.control.UPSTASH_REDIS_REST_TOKEN = token;
  } else note(d, 'absent', `UPSTASH_REDIS_REST_URL/TOKEN (optional: no L2 cache; ${U}, ${T})`);
  const neon = given(d, 'NEON_API_KEY', INPUT_VARS.neonApiKey, input.neonApiKey, old.control.NEON_API_KEY, true);
  if (neon) d.control.NEON_API_KEY = neon;
  const cf = given(d, 'CLOUDFLARE_API_TOKEN', INPUT_VARS.cloudflareApiToken, input.cloudflareApiToken, old.control.CLOUDFLARE_API_TOKEN, true);
  if (cf) d.control.CLOUDFLARE_API_TOKEN = cf;
}

/** Variables an operator added by hand (ADMIN_JWT_ISSUER, say) stay as they are. */
function keepUnknown(d: Draft, from: Record<string, string>, to: Record<string, string>, file: string): void {
  for (const [k, v] of Object.entries(from)) {
    if (!(k in to)) { to[k] = v; note(d, 'kept', `${k} (${file}, added by hand)`); }
  }
}
