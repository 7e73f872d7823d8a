-- Quota state that survives policy changes, and metering kept per source.

-- Where a tenant's TenantGuard Durable Object lives. Fixed when the tenant is created (from its
-- residency then) and never changed: the object id is derived from it, and another object would
-- start with a full token bucket and an empty monthly counter. Residency itself stays mutable.
ALTER TABLE tenants ADD COLUMN guard_jurisdiction text CHECK (guard_jurisdiction IN ('eu', 'global'));
UPDATE tenants SET guard_jurisdiction = CASE WHEN residency = 'EU' THEN 'eu' ELSE 'global' END;
ALTER TABLE tenants ALTER COLUMN guard_jurisdiction SET NOT NULL;

CREATE FUNCTION tenants_guard_jurisdiction_default() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.guard_jurisdiction IS NULL THEN
    NEW.guard_jurisdiction := CASE WHEN NEW.residency = 'EU' THEN 'eu' ELSE 'global' END;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER tenants_guard_jurisdiction_default BEFORE INSERT ON tenants
  FOR EACH ROW EXECUTE FUNCTION tenants_guard_jurisdiction_default();

CREATE FUNCTION tenants_guard_jurisdiction_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.guard_jurisdiction IS DISTINCT FROM OLD.guard_jurisdiction THEN
    RAISE EXCEPTION 'tenants.guard_jurisdiction cannot change (its TenantGuard would lose its quota state)'
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER tenants_guard_jurisdiction_fixed BEFORE UPDATE ON tenants
  FOR EACH ROW EXECUTE FUNCTION tenants_guard_jurisdiction_fixed();

-- Metered usage by source. A source is one TenantGuard state (a random id it generates when
-- created: a new object, or one that cleared itself after its tenant was deleted). Each row holds
-- the source's absolute total for the month and its flush sequence; a flush with an older or equal
-- sequence changes nothing, so retries, replays and restarts never count twice, and two sources
-- of one tenant never overwrite each other. No foreign key: usage outlives the tenant (billing).
CREATE TABLE usage_flushes (
  tenant_id   uuid NOT NULL,
  month       text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
  source      text NOT NULL CHECK (char_length(source) BETWEEN 1 AND 64),
  requests    bigint NOT NULL CHECK (requests >= 0),
  flush_seq   bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, month, source)
);

-- Rows written before this migration; objects of that time keep flushing as source 'legacy'.
INSERT INTO usage_flushes (tenant_id, month, source, requests, flush_seq, updated_at)
  SELECT tenant_id, month, 'legacy', requests, flush_seq, updated_at FROM tenant_usage;
DROP TABLE tenant_usage;

-- What readers (usage API, tenantctl) read: a tenant's month summed over its sources.
CREATE VIEW tenant_usage AS
  SELECT tenant_id, month, sum(requests)::bigint AS requests, max(updated_at) AS updated_at
    FROM usage_flushes GROUP BY tenant_id, month;

-- The router's control role (exists before migrations run) writes usage and nothing else.
GRANT SELECT, INSERT, UPDATE ON usage_flushes TO control_router;
GRANT SELECT ON tenant_usage TO control_router;
