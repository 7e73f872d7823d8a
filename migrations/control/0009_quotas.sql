-- The tier quotas that were only on paper: a request-body limit per tier, each tenant's measured
-- storage (the control plane's scheduled job writes it, the router reads whether a tenant is over
-- its tier's storage_mb), and bandwidth metered by the TenantGuards next to the request units.

-- Bodies larger than this are refused 413 PAYLOAD_TOO_LARGE before any work (docs/quotas.md).
ALTER TABLE tiers ADD COLUMN max_body_bytes integer NOT NULL DEFAULT 1048576 CHECK (max_body_bytes > 0);
UPDATE tiers SET max_body_bytes = CASE name
    WHEN 'FREE' THEN 1048576 WHEN 'STANDARD' THEN 10485760 WHEN 'PREMIUM' THEN 26214400
    WHEN 'ENTERPRISE' THEN 52428800 ELSE 104857600 END
  WHERE builtin;
-- Custom templates take their ancestor's value (a chain is at most 50 deep).
DO $$
BEGIN
  FOR i IN 1..50 LOOP
    UPDATE tiers c SET max_body_bytes = p.max_body_bytes FROM tiers p
     WHERE c.based_on = p.name AND NOT c.builtin AND c.max_body_bytes <> p.max_body_bytes;
    EXIT WHEN NOT FOUND;
  END LOOP;
END $$;

-- A tenant's storage as last measured (src/storage/): a gauge, replaced by every measurement.
-- `method` names how it was measured (the three strategies measure differently, see docs/quotas.md).
CREATE TABLE tenant_storage (
  tenant_id    uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
  bytes        bigint NOT NULL CHECK (bytes >= 0),
  method       text NOT NULL CHECK (method IN ('row_tuples', 'schema_relations', 'database_size')),
  measured_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_storage_measured ON tenant_storage (measured_at);
GRANT SELECT ON tenant_storage TO control_router;

-- Body bytes of admitted requests and of their responses, per source and month, flushed with the
-- request units under the same flush sequence (absolute totals: never counted twice).
ALTER TABLE usage_flushes
  ADD COLUMN request_bytes  bigint NOT NULL DEFAULT 0 CHECK (request_bytes >= 0),
  ADD COLUMN response_bytes bigint NOT NULL DEFAULT 0 CHECK (response_bytes >= 0);

CREATE OR REPLACE VIEW tenant_usage AS
  SELECT tenant_id, month, sum(requests)::bigint AS requests, max(updated_at) AS updated_at,
         sum(request_bytes)::bigint AS request_bytes, sum(response_bytes)::bigint AS response_bytes
    FROM usage_flushes GROUP BY tenant_id, month;
