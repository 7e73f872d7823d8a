-- Per-tenant logical backups (src/backups/, docs/backups.md): a consistent snapshot of a tenant's
-- rows, gzip'd and encrypted with the tenant's data key (AES-256-GCM, bound to tenant and backup),
-- stored in the control plane's R2 bucket as backups/<tenant id>/<backup id>. One row per backup:
-- what it holds, the SHA-256 of the stored object (a restore refuses anything else), and when it
-- expires. No foreign key to tenants: a deleted tenant's backups are still listed here until the
-- purge (or an erase) removes their objects and rows. Its data key went with the tenant, so a
-- copy that survives anywhere can never be opened again.
CREATE TABLE tenant_backups (
  id          uuid PRIMARY KEY,
  tenant_id   uuid NOT NULL,
  kind        text NOT NULL CHECK (kind IN ('manual', 'scheduled')),
  status      text NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
  started_at  timestamptz NOT NULL DEFAULT now(),
  -- The snapshot's time (its transaction's): what a restore brings the tenant back to.
  taken_at    timestamptz,
  finished_at timestamptz,
  isolation   text CHECK (isolation IN ('row', 'schema', 'database')),
  -- Per table: rows and digest (md5 over md5(row::text) in key order), as src/moves/copy.ts digests.
  tables      jsonb,
  row_count   integer CHECK (row_count >= 0),
  bytes       bigint CHECK (bytes >= 0),
  sha256      text CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  key_id      text,
  error       text,
  expires_at  timestamptz
);
CREATE INDEX tenant_backups_tenant ON tenant_backups (tenant_id, started_at DESC);
CREATE INDEX tenant_backups_expiry ON tenant_backups (expires_at) WHERE expires_at IS NOT NULL;
-- One backup at a time per tenant.
CREATE UNIQUE INDEX tenant_backups_one_at_a_time ON tenant_backups (tenant_id) WHERE status = 'running';

-- The schedule per tier (or template: a custom one follows its based_on chain's first policy).
-- interval_seconds NULL: no scheduled backups (manual ones still expire after retention_days).
CREATE TABLE tier_backup_policies (
  tier             text PRIMARY KEY REFERENCES tiers (name) ON DELETE CASCADE ON UPDATE CASCADE,
  interval_seconds integer CHECK (interval_seconds IS NULL OR interval_seconds >= 60),
  retention_days   integer NOT NULL CHECK (retention_days BETWEEN 1 AND 3650)
);
INSERT INTO tier_backup_policies (tier, interval_seconds, retention_days) VALUES
  ('FREE',            86400,  7),
  ('STANDARD',        86400, 14),
  ('PREMIUM',         21600, 30),
  ('ENTERPRISE',       3600, 35),
  ('ENTERPRISE_PLUS',  3600, 90),
  ('WHITE_LABEL',      3600, 90);
