-- Metered usage, written by each tenant's TenantGuard Durable Object. A row holds the absolute
-- count of admitted request units for a month, with the object's flush sequence: a retried or
-- replayed flush carries an old sequence and changes nothing, so usage is never counted twice.
CREATE TABLE tenant_usage (
  tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
  month       text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  requests    bigint NOT NULL CHECK (requests >= 0),
  flush_seq   bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, month)
);
