-- Per-tenant data keys (src/tenant-keys/, docs/tenant-keys.md): one AES-256-GCM key per tenant,
-- stored only wrapped (sealed) under the MASTER_KEY ring, bound to the tenant id. The wrapped form
-- names its ring key (`v2.<kid>.…`), so a ring rotation re-wraps it (POST /admin/v1/keys/rewrap)
-- without touching anything sealed with the data key. Deleting the row destroys the key: every
-- value sealed with it, wherever a copy survives (backups, logs), can never be opened again.
CREATE TABLE tenant_keys (
  tenant_id   uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  wrapped     text NOT NULL CHECK (wrapped ~ '^v[12]\.'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  rewrapped_at timestamptz
);

-- The router creates the key of a tenant made before this migration on first use, through this
-- function only: it inserts a key the router wrapped (never replaces one) for a tenant that exists
-- and is not being deleted, and returns the stored one (the first writer's, when routers race).
-- NULL: no such tenant (deleted or erased): no key is ever re-created for an erased tenant.
CREATE FUNCTION tenant_key_ensure(p_tenant uuid, p_wrapped text)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE k text;
BEGIN
  IF p_wrapped IS NULL OR p_wrapped !~ '^v[12]\.' OR octet_length(p_wrapped) > 512 THEN
    RAISE EXCEPTION 'not a wrapped key' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO tenant_keys (tenant_id, wrapped)
    SELECT id, p_wrapped FROM tenants WHERE id = p_tenant AND status <> 'deleting'
    ON CONFLICT (tenant_id) DO NOTHING;
  SELECT wrapped INTO k FROM tenant_keys WHERE tenant_id = p_tenant;
  RETURN k;
END $$;
REVOKE ALL ON FUNCTION tenant_key_ensure(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_key_ensure(uuid, text) TO control_router;
GRANT SELECT ON tenant_keys TO control_router;
