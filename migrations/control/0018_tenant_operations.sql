-- One data operation per tenant at a time (src/operations/): a move, a restore, a backup or a
-- branch promotion holds its tenant's row while it reads or writes the tenant's storage, so that
-- none of them reads a placement another is switching, or writes where the tenant no longer is.
-- A holder that died leaves its row until `expires_at`; the next claimant takes it over then.
CREATE TABLE tenant_operations (
  tenant_id   uuid PRIMARY KEY,
  kind        text NOT NULL CHECK (kind IN ('move', 'restore', 'backup', 'branch')),
  token       uuid NOT NULL,
  started_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);
