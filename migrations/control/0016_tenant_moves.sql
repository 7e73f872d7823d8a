-- Moves of a tenant's data to another isolation or region (src/moves/): one row per move, the
-- placement it left and the one it took, what was copied, how long writes were fenced, and whether
-- the source was cleaned. No foreign key to tenants: a tenant deleted before its source was cleaned
-- still has that source cleaned by the maintenance run.
CREATE TABLE tenant_moves (
  id             uuid PRIMARY KEY,
  tenant_id      uuid NOT NULL,
  state          text NOT NULL CHECK (state IN ('copying', 'switched', 'cleaned', 'failed')),
  from_placement jsonb NOT NULL,
  to_placement   jsonb,
  copied         jsonb,
  tail           jsonb,
  fence_ms       integer,
  error          text,
  started_at     timestamptz NOT NULL DEFAULT now(),
  switched_at    timestamptz,
  finished_at    timestamptz
);
-- One move at a time per tenant.
CREATE UNIQUE INDEX tenant_moves_one_at_a_time ON tenant_moves (tenant_id) WHERE state = 'copying';
-- Sources left to clean (a cleaning that failed right after the switch is retried).
CREATE INDEX tenant_moves_to_clean ON tenant_moves (switched_at) WHERE state = 'switched';
