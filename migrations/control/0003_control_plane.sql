-- The control plane's own state: custom templates, the provider handle of a dedicated database,
-- the catalogue of tenant migrations with each tenant's progress through it, and the audit log.

ALTER TABLE tiers ADD COLUMN based_on text REFERENCES tiers (name) ON DELETE SET NULL;
ALTER TABLE tiers ADD COLUMN description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 500);

ALTER TABLE tenant_placements ADD COLUMN external_ref text;
-- Why a tenant is still `provisioning` (the last failure), for operators and retries.
ALTER TABLE tenants ADD COLUMN status_detail text;
CREATE INDEX tenants_status ON tenants (status, id);

-- Tenant migrations as the control plane knows them; `tenantctl migrate` uploads migrations/tenant/.
-- Forward-only: a name, once catalogued, never changes its text.
CREATE TABLE tenant_migration_catalog (
  name        text PRIMARY KEY CHECK (name ~ '^[0-9]{4}_[a-z0-9_]{1,60}\.sql$'),
  sql         text NOT NULL,
  checksum    text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenant_migration_status (
  tenant_id   uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  -- The last catalogued migration this tenant has (null: none recorded yet).
  applied     text,
  state       text NOT NULL CHECK (state IN ('current', 'failed')),
  error       text,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Append-only, hash-chained: each entry's hash covers the previous entry's hash and its own text,
-- so an edited or deleted entry breaks the chain from that point on. `entry` is the canonical
-- text the hash covers; the other columns repeat it for filtering and are checked against it.
CREATE TABLE audit_log (
  seq         bigint PRIMARY KEY,
  at          timestamptz NOT NULL,
  actor       text NOT NULL,
  action      text NOT NULL,
  tenant_id   uuid,
  request_id  text,
  entry       text NOT NULL,
  prev_hash   text NOT NULL,
  hash        text NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);
CREATE INDEX audit_log_action ON audit_log (action, seq);

-- The one way to write the log: serialised by a transaction-level lock, so the chain has no forks.
-- SECURITY DEFINER lets the router's SELECT-only role append edge refusals without any right on
-- the table itself.
CREATE FUNCTION audit_append(p_actor text, p_action text, p_tenant uuid, p_request text, p_detail jsonb)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_prev text;
  v_seq bigint;
  v_at timestamptz := clock_timestamp();
  v_entry text;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('audit_log'));
  SELECT seq, hash INTO v_seq, v_prev FROM audit_log ORDER BY seq DESC LIMIT 1;
  v_seq := coalesce(v_seq, 0) + 1;
  v_prev := coalesce(v_prev, repeat('0', 64));
  v_entry := jsonb_build_object('seq', v_seq, 'at', to_char(v_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'actor', p_actor, 'action', p_action, 'tenantId', p_tenant, 'requestId', p_request,
    'detail', coalesce(p_detail, '{}'::jsonb))::text;
  INSERT INTO audit_log (seq, at, actor, action, tenant_id, request_id, entry, prev_hash, hash)
  VALUES (v_seq, v_at, p_actor, p_action, p_tenant, p_request, v_entry, v_prev,
          encode(sha256(convert_to(v_prev || v_entry, 'UTF8')), 'hex'));
  RETURN v_seq;
END $$;
REVOKE ALL ON FUNCTION audit_append(text, text, uuid, text, jsonb) FROM PUBLIC;
