-- The notes example's table, a tenant migration like migrations/tenant/0001_tracks.sql: add it to
-- the tenant migration catalogue (`tenantctl migrations add examples/notes/migrations/0002_notes.sql`)
-- and roll it out (`tenantctl migrate`); it then lands in every tenant target: the region's shared
-- schema (row isolation), each tenant's schema, each tenant's own database. Every row carries its
-- tenant and row-level security is forced everywhere, as for tracks.

CREATE TABLE notes (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id  uuid NOT NULL DEFAULT (current_setting('app.tenant_id'))::uuid,
  author     text,
  body       text NOT NULL CHECK (char_length(body) BETWEEN 1 AND 2000),
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notes_tenant_created ON notes (tenant_id, created_at DESC, id);

ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE notes FORCE ROW LEVEL SECURITY;
-- current_setting(..., true) is NULL when unset, so a session without a tenant sees nothing.
CREATE POLICY notes_tenant ON notes
  USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
  WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
