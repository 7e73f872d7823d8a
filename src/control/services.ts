/**
 * What the control worker talks to, built once per isolate from the validated configuration:
 * the control database, the provisioner chosen by PROVISIONER, the routers' L2 cache, the
 * admin authenticator and the summary of refused calls.
 */
import { useLocalNeonEndpoint } from '../data/neon-config.js';
import { importMasterKey, type MasterKeys } from '../crypto/secret-box.js';
import { LocalProvisioner } from '../provisioning/local-provisioner.js';
import { NeonProvisioner } from '../provisioning/neon-provisioner.js';
import { NeonBranches } from '../branches/neon-branches.js';
import type { Provisioner } from '../provisioning/provisioner.js';
import { AdminAuthenticator } from './admin-auth.js';
import { noCache, upstashInvalidator, type CacheInvalidator } from './cache.js';
import { controlSql, type Sql } from './db.js';
import { parseControlConfig, type ControlConfig, type ControlEnv } from './env.js';
import { RefusalSummary } from './refusals.js';
import { cloudflareHostnames, type CustomHostnameApi } from '../custom-hostnames/client.js';
import type { MetricsAggregator } from '../metrics/aggregator.js';

export interface ControlServices {
  config: ControlConfig;
  sql: Sql;
  provisioner: Provisioner;
  /** The MASTER_KEY ring (the provisioner seals under its current key; /admin/v1/keys reseals under it). */
  masterKeys: MasterKeys;
  cache: CacheInvalidator;
  auth: AdminAuthenticator;
  /** This isolate's held summary of refused calls (see refusals.ts). */
  refusals: RefusalSummary;
  /** This isolate's held summary of metrics reads (scrapes, tenant windows), audited together. */
  metricReads: RefusalSummary;
  /** Cloudflare's custom hostnames API; null with CUSTOM_HOSTNAMES=off. */
  hostnames: CustomHostnameApi | null;
  /** The router's metrics aggregator (METRICS_AGGREGATOR), read by the alert rules; null when not bound. */
  aggregator: DurableObjectNamespace<MetricsAggregator> | null;
  /** Branches of database tenants' Neon projects (src/branches/); absent without PROVISIONER=neon. */
  branches?: NeonBranches | null;
  /** The backups' R2 bucket (BACKUPS, src/backups/); null or absent when not bound. */
  backups?: R2Bucket | null;
}

const built = new WeakMap<object, Promise<ControlServices>>();

/**
 * The services one admin request uses: the isolate's, with a Cloudflare client whose calls share
 * one deadline (CLOUDFLARE_API_TIMEOUT_MS for all of them together).
 */
export const forRequest = (s: ControlServices): ControlServices =>
  (s.hostnames ? { ...s, hostnames: s.hostnames.within(s.config.CLOUDFLARE_API_TIMEOUT_MS) } : s);

/** The services for `env`, built on first use in this isolate. */
export function controlServices(env: ControlEnv): Promise<ControlServices> {
  let s = built.get(env);
  if (!s) {
    s = build(env);
    built.set(env, s);
    s.catch(() => built.delete(env));
  }
  return s;
}

async function build(env: ControlEnv): Promise<ControlServices> {
  const config = parseControlConfig(env);
  useLocalNeonEndpoint(config.NEON_LOCAL_ENDPOINT);
  const masterKey = await importMasterKey(config.MASTER_KEY);
  const regions = Object.fromEntries(Object.entries(config.REGION_ADMIN_URLS).map(([r, adminUrl]) => [r, { adminUrl }]));
  const common = { regions, routerRole: config.ROUTER_ROLE, masterKey };
  const provisioner: Provisioner = config.PROVISIONER === 'neon'
    ? new NeonProvisioner({
      ...common, apiKey: config.NEON_API_KEY!, baseUrl: config.NEON_API_URL, orgId: config.NEON_ORG_ID, regionProjects: config.NEON_REGION_PROJECTS,
      historyRetentionSeconds: config.NEON_HISTORY_RETENTION_SECONDS,
    })
    : new LocalProvisioner(common);
  const cache = config.UPSTASH_REDIS_REST_URL && config.UPSTASH_REDIS_REST_TOKEN
    ? upstashInvalidator(config.UPSTASH_REDIS_REST_URL, config.UPSTASH_REDIS_REST_TOKEN) : noCache;
  return {
    config, sql: controlSql(config.CONTROL_DATABASE_URL, config.CONTROL_DB_TIMEOUT_MS), provisioner, masterKeys: masterKey, cache,
    branches: config.PROVISIONER === 'neon' ? new NeonBranches({ apiKey: config.NEON_API_KEY!, baseUrl: config.NEON_API_URL }) : null,
    auth: new AdminAuthenticator(config), refusals: new RefusalSummary(config.REFUSAL_AUDIT_WINDOW_SECONDS * 1000),
    metricReads: new RefusalSummary(config.METRICS_AUDIT_WINDOW_SECONDS * 1000),
    hostnames: config.CUSTOM_HOSTNAMES === 'cloudflare' ? cloudflareHostnames({
      apiToken: config.CLOUDFLARE_API_TOKEN!, zoneId: config.CLOUDFLARE_ZONE_ID!, baseUrl: config.CLOUDFLARE_API_URL,
      timeoutMs: config.CLOUDFLARE_API_TIMEOUT_MS,
    }) : null,
    aggregator: env.METRICS_AGGREGATOR ?? null,
    backups: env.BACKUPS ?? null,
  };
}
