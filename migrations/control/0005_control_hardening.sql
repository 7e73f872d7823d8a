-- Control-plane hardening: slugs that are not ACE labels, a claim on provisioning, the archive
-- of deleted tenants (billing), the cache-invalidation outbox, pending storage unfences, and an
-- audit function the edge may call that can only write edge entries.

-- `--` in positions 3-4 is an ACE label (`xn--` punycode and its look-alikes): not a slug.
ALTER TABLE tenants ADD CONSTRAINT tenants_slug_not_ace CHECK (substr(slug, 3, 2) <> '--');

-- Provisioning is claimed with a conditional UPDATE (null, or older than the stale limit): two
-- concurrent calls never both create storage (two Neon projects, one orphaned).
ALTER TABLE tenants ADD COLUMN provisioning_since timestamptz;

-- What billing needs of a deleted tenant: its usage rows stay; its terms at deletion are here.
-- No foreign key: the template may be deleted later, the archive keeps the prices it had.
CREATE TABLE tenant_archive (
  id                    uuid PRIMARY KEY,
  slug                  text NOT NULL,
  tier                  text NOT NULL,
  region                text NOT NULL,
  included_requests     bigint NOT NULL CHECK (included_requests > 0),
  hard_cap              boolean NOT NULL,
  price_cents_month     integer NOT NULL CHECK (price_cents_month >= 0),
  overage_cents_per_1k  integer NOT NULL CHECK (overage_cents_per_1k >= 0),
  created_at            timestamptz NOT NULL,
  deleted_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_archive_slug ON tenant_archive (slug, deleted_at DESC);

-- Router cache keys to invalidate, written with (or right after) the change that needs it and
-- deleted once applied; what could not be applied waits here for the maintenance run.
CREATE TABLE cache_outbox (
  id          bigserial PRIMARY KEY,
  keys        jsonb NOT NULL CHECK (jsonb_typeof(keys) = 'array'),
  attempts    integer NOT NULL DEFAULT 0,
  -- Until then the writer applies it itself; maintenance takes it over afterwards.
  next_at     timestamptz NOT NULL DEFAULT now(),
  last_error  text,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cache_outbox_next ON cache_outbox (next_at);

-- A deleted tenant's storage stays fenced (no new transactions) until no router can still send
-- it a request; then maintenance checks for leftovers and lifts the fence.
CREATE TABLE pending_unfences (
  tenant_id   uuid PRIMARY KEY,
  slug        text NOT NULL,
  -- The placement as the provisioner knows it (its connection string stays sealed).
  placement   jsonb NOT NULL,
  due_at      timestamptz NOT NULL,
  attempts    integer NOT NULL DEFAULT 0,
  last_error  text,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_unfences_due ON pending_unfences (due_at);

-- The edge's only way into the audit log: the actor is always `edge:<client address>`, the
-- action one of the refusals the router audits, the sizes capped. audit_append() itself is the
-- control plane's (the router's role could otherwise forge `admin-token tenant.delete` entries
-- that verify as intact).
CREATE FUNCTION audit_append_edge(p_code text, p_tenant uuid, p_request text, p_client text, p_detail jsonb)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF p_code IS NULL OR p_code NOT IN ('TENANT_MISMATCH', 'RESIDENCY_VIOLATION') THEN
    RAISE EXCEPTION 'edge audit code is not allowed' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_detail IS NOT NULL AND (jsonb_typeof(p_detail) <> 'object' OR octet_length(p_detail::text) > 1024) THEN
    RAISE EXCEPTION 'edge audit detail must be a JSON object of at most 1 KiB' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN audit_append(
    'edge:' || CASE WHEN p_client ~ '^[0-9A-Fa-f:.]{2,45}$' THEN p_client ELSE 'unknown' END,
    'edge.' || lower(p_code), p_tenant, left(p_request, 128),
    coalesce(p_detail, '{}'::jsonb) || jsonb_build_object('code', p_code));
END $$;
REVOKE ALL ON FUNCTION audit_append_edge(text, uuid, text, text, jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION audit_append(text, text, uuid, text, jsonb) FROM control_router;
GRANT EXECUTE ON FUNCTION audit_append_edge(text, uuid, text, text, jsonb) TO control_router;
