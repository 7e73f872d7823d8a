-- Control-plane schema: tiers (templates), tenants, their domains, JWT settings, geo policy and
-- storage placement. The router only ever reads these (as a SELECT-only role).

CREATE TABLE tiers (
  name                     text PRIMARY KEY CHECK (name ~ '^[A-Z][A-Z0-9_]{1,39}$'),
  isolation                text NOT NULL CHECK (isolation IN ('row', 'schema', 'database')),
  rate_per_minute          integer NOT NULL CHECK (rate_per_minute > 0),
  burst                    integer NOT NULL CHECK (burst > 0),
  monthly_requests         bigint  NOT NULL CHECK (monthly_requests > 0),
  hard_cap                 boolean NOT NULL,
  concurrency              integer NOT NULL CHECK (concurrency > 0),
  fail_mode                text NOT NULL CHECK (fail_mode IN ('open', 'closed')),
  breaker_failures         integer NOT NULL CHECK (breaker_failures > 0),
  breaker_window_seconds   integer NOT NULL CHECK (breaker_window_seconds > 0),
  breaker_cooldown_seconds integer NOT NULL CHECK (breaker_cooldown_seconds > 0),
  storage_mb               integer NOT NULL CHECK (storage_mb > 0),
  connection_limit         integer NOT NULL CHECK (connection_limit > 0),
  price_cents_month        integer NOT NULL CHECK (price_cents_month >= 0),
  overage_cents_per_1k     integer NOT NULL CHECK (overage_cents_per_1k >= 0),
  builtin                  boolean NOT NULL DEFAULT false
);

INSERT INTO tiers VALUES
  ('FREE',            'row',         60,    20,         10000, true,    5, 'closed',  5, 30, 10,    100,    5,      0,  0, true),
  ('STANDARD',        'row',        600,   100,       1000000, false,  20, 'open',   10, 30, 10,   1024,   20,   2900, 10, true),
  ('PREMIUM',         'schema',    3000,   500,      10000000, false,  50, 'open',   10, 30, 10,  10240,   50,  19900,  8, true),
  ('ENTERPRISE',      'database', 12000,  2000,     100000000, false, 200, 'open',   20, 30,  5,  51200,  200,  99900,  5, true),
  ('ENTERPRISE_PLUS', 'database', 30000,  5000,     500000000, false, 500, 'open',   20, 30,  5, 204800,  500, 299900,  4, true),
  ('WHITE_LABEL',     'database', 60000, 10000,    1000000000, false, 1000, 'open',  20, 30,  5, 512000, 1000, 499900,  3, true);

CREATE TABLE tenants (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- A slug is a DNS label; it may not look like a UUID so that a tenant claim is never ambiguous.
  slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z][a-z0-9-]{0,38}[a-z0-9]$' AND slug !~ '^[0-9a-f]{8}-'),
  name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  tier        text NOT NULL REFERENCES tiers (name),
  region      text NOT NULL,
  residency   text CHECK (residency IN ('EU', 'US', 'UK', 'APAC')),
  isolation   text NOT NULL CHECK (isolation IN ('row', 'schema', 'database')),
  status      text NOT NULL DEFAULT 'active'
              CHECK (status IN ('provisioning', 'active', 'suspended', 'migrating', 'deleting')),
  overrides   jsonb NOT NULL DEFAULT '{}'::jsonb,
  version     bigint NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenants_tier_region ON tenants (tier, region);

CREATE TABLE tenant_domains (
  hostname    text PRIMARY KEY CHECK (hostname = lower(hostname) AND char_length(hostname) <= 253),
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_domains_tenant ON tenant_domains (tenant_id);

CREATE TABLE tenant_jwt (
  tenant_id   uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  issuer      text NOT NULL UNIQUE,
  audience    text NOT NULL,
  jwks_url    text NOT NULL CHECK (jwks_url ~ '^https?://'),
  claim       text NOT NULL DEFAULT 'tid' CHECK (claim ~ '^[A-Za-z_][A-Za-z0-9_:./-]{0,63}$'),
  algorithms  text[] NOT NULL DEFAULT '{RS256,ES256}'
              CHECK (algorithms <@ '{RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512,EdDSA}'::text[])
);

CREATE TABLE tenant_geo (
  tenant_id        uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  allow_countries  text[] NOT NULL DEFAULT '{}',
  block_countries  text[] NOT NULL DEFAULT '{}',
  ip_allow         cidr[] NOT NULL DEFAULT '{}'
);

CREATE TABLE tenant_placements (
  tenant_id          uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  region             text NOT NULL,
  strategy           text NOT NULL CHECK (strategy IN ('row', 'schema', 'database')),
  schema_name        text CHECK (schema_name ~ '^(shared|public|t_[0-9a-f]{32})$'),
  role_name          text CHECK (role_name ~ '^t_[0-9a-f]{32}$'),
  database_name      text CHECK (database_name ~ '^t_[0-9a-f]{32}$'),
  -- AES-GCM sealed connection string (dedicated databases only), bound to the tenant id.
  connection_secret  text,
  created_at         timestamptz NOT NULL DEFAULT now()
);
