-- Failed storage measurements (src/storage/refresh.ts): a tenant whose measurement failed waits
-- `retry_at` (doubling per failure, at most a day) before it is due again, so a few tenants that
-- cannot be measured never take every run's batch from the rest. Cleared by a success.
CREATE TABLE tenant_storage_attempts (
  tenant_id     uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  failures      integer NOT NULL CHECK (failures > 0),
  attempted_at  timestamptz NOT NULL DEFAULT now(),
  retry_at      timestamptz NOT NULL
);
