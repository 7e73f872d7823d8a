-- Idempotency keys of the admin API: the first response to a POST sent with an Idempotency-Key,
-- kept 24 hours (the maintenance run deletes older rows) so a retry gets it again instead of
-- running the change twice. A key belongs to the caller that sent it (the admin token, or an
-- admin JWT's subject): one operator's key never replays, or blocks, another's.
CREATE TABLE idempotency_keys (
  principal     text NOT NULL CHECK (char_length(principal) <= 200),
  key           text NOT NULL CHECK (key ~ '^[ -~]{1,255}$'),
  -- sha256 of method, path and body: the same key with another request is refused.
  request_hash  text NOT NULL,
  method        text NOT NULL,
  path          text NOT NULL,
  -- `running` while the first request executes (others get 409), `done` once its answer is kept.
  state         text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done')),
  status        integer,
  headers       jsonb,
  -- The API answers text (JSON, YAML); at most 256 KiB of it is kept.
  body          text CHECK (body IS NULL OR octet_length(body) <= 262144),
  created_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- Tenant lists are ordered by (created_at, id) and resumed from a cursor holding both.
CREATE INDEX tenants_created_id ON tenants (created_at, id);
