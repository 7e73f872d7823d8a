-- The sample application's table, applied to every tenant target: the region's shared schema
-- (row isolation), a tenant's schema, or a tenant's own database. Every row carries its tenant
-- and row-level security is forced everywhere, so even the schema and database strategies
-- keep a second wall behind the first.

CREATE TABLE tracks (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL DEFAULT (current_setting('app.tenant_id'))::uuid,
  title       text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
  artist      text NOT NULL CHECK (char_length(artist) BETWEEN 1 AND 200),
  duration_ms integer NOT NULL CHECK (duration_ms > 0),
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tracks_tenant_created ON tracks (tenant_id, created_at DESC, id);

ALTER TABLE tracks ENABLE ROW LEVEL SECURITY;
ALTER TABLE tracks FORCE ROW LEVEL SECURITY;
-- current_setting(..., true) is NULL when unset, so a session without a tenant sees nothing.
CREATE POLICY tracks_tenant ON tracks
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
