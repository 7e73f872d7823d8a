-- Fleet migrations in waves (docs/migrations.md): a catalogued migration may ship its `down`
-- (forward-only still: neither text changes once catalogued), and a tenant whose batch is being
-- applied is `migrating` until its outcome is recorded.

ALTER TABLE tenant_migration_catalog ADD COLUMN down_sql text, ADD COLUMN down_checksum text;

ALTER TABLE tenant_migration_status DROP CONSTRAINT tenant_migration_status_state_check;
ALTER TABLE tenant_migration_status ADD CONSTRAINT tenant_migration_status_state_check
  CHECK (state IN ('current', 'failed', 'migrating'));
