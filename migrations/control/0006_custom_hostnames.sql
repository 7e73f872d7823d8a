-- Custom domains become Cloudflare for SaaS custom hostnames: a domain is served only once
-- Cloudflare reports both the hostname and its certificate active. Rows that existed before
-- (seeded and demo domains) were served already and stay `active`; new rows start `pending`,
-- so a path that forgets to register a domain at Cloudflare fails closed (never served).
ALTER TABLE tenant_domains
  ADD COLUMN status        text NOT NULL DEFAULT 'active' CHECK (status IN ('pending', 'active', 'failed')),
  -- Cloudflare's custom hostname id (null: not registered yet, or CUSTOM_HOSTNAMES=off).
  ADD COLUMN cloudflare_id text UNIQUE CHECK (char_length(cloudflare_id) <= 64),
  -- The records the tenant publishes (CNAME, ownership TXT, certificate validation), as last seen.
  ADD COLUMN records       jsonb NOT NULL DEFAULT '[]'::jsonb,
  -- Cloudflare's statuses and errors in words, for the operator and the tenant.
  ADD COLUMN status_detail text CHECK (char_length(status_detail) <= 1000),
  ADD COLUMN checked_at    timestamptz,
  ADD COLUMN check_count   integer NOT NULL DEFAULT 0,
  ADD COLUMN next_check_at timestamptz,
  ADD COLUMN activated_at  timestamptz;

UPDATE tenant_domains SET activated_at = created_at;
ALTER TABLE tenant_domains ALTER COLUMN status SET DEFAULT 'pending';
ALTER TABLE tenant_domains ALTER COLUMN next_check_at SET DEFAULT now();
CREATE INDEX tenant_domains_due ON tenant_domains (next_check_at) WHERE status = 'pending';
