-- Alerts and anomaly detection (src/alerts/, docs/alerts.md): the alerts themselves, their
-- webhook deliveries (an outbox with attempts and backoff), and what the scheduled evaluation
-- keeps between runs (the counters it last saw per tenant and region, each tenant's EWMA
-- baselines, each rule's breach/clear streaks for hysteresis).

CREATE TABLE alerts (
  id               uuid PRIMARY KEY,
  -- rule|scope|tenant|region: at most one unresolved alert per key (deduplication).
  dedup_key        text NOT NULL CHECK (char_length(dedup_key) <= 300),
  rule             text NOT NULL CHECK (rule ~ '^[a-z][a-z0-9_]{1,63}$'),
  scope            text NOT NULL CHECK (scope IN ('tenant', 'region', 'platform')),
  -- No foreign key: an alert outlives its tenant, like the audit log.
  tenant_id        uuid,
  region           text,
  severity         text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  state            text NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
  summary          text NOT NULL CHECK (char_length(summary) <= 500),
  detail           jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(detail) = 'object'),
  -- The suggested remediation ({action, params, state: suggested | applying | applied}), or null.
  remediation      jsonb,
  occurrences      integer NOT NULL DEFAULT 1 CHECK (occurrences > 0),
  opened_at        timestamptz NOT NULL,
  last_seen_at     timestamptz NOT NULL,
  acknowledged_at  timestamptz,
  acknowledged_by  text,
  resolved_at      timestamptz,
  CHECK ((state = 'resolved') = (resolved_at IS NOT NULL))
);
CREATE UNIQUE INDEX alerts_one_unresolved ON alerts (dedup_key) WHERE state <> 'resolved';
CREATE INDEX alerts_by_opened ON alerts (opened_at DESC, id DESC);
CREATE INDEX alerts_by_tenant ON alerts (tenant_id, opened_at DESC);

-- Webhook deliveries: one row per alert event, written in the transaction that opens or
-- resolves the alert, sent by the scheduled run, retried with exponential backoff until
-- delivered or given up after the last attempt.
CREATE TABLE alert_deliveries (
  id               bigserial PRIMARY KEY,
  alert_id         uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  event            text NOT NULL CHECK (event IN ('alert.opened', 'alert.resolved')),
  -- The Standard Webhooks `webhook-id`: the same on every attempt, so receivers deduplicate.
  webhook_id       text NOT NULL UNIQUE,
  payload          jsonb NOT NULL,
  attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at  timestamptz NOT NULL,
  delivered_at     timestamptz,
  gave_up_at       timestamptz,
  last_status      integer,
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE delivered_at IS NULL AND gave_up_at IS NULL;

-- The evaluation's own progress (one row): when each metrics shard was last read (the interval
-- a counter delta covers), when the audit chain was last verified, and a lease so two scheduled
-- runs never evaluate at once.
CREATE TABLE alert_progress (
  id                 boolean PRIMARY KEY DEFAULT true CHECK (id),
  shard_read_at      jsonb NOT NULL DEFAULT '{}'::jsonb,
  audit_verified_at  timestamptz,
  lease_until        timestamptz
);
INSERT INTO alert_progress DEFAULT VALUES;

-- The counters last seen per tenant and region (the aggregator's totals): the next run's delta.
CREATE TABLE alert_snapshots (
  tenant_id  text NOT NULL,
  region     text NOT NULL,
  counters   jsonb NOT NULL,
  PRIMARY KEY (tenant_id, region)
);

-- Each tenant's EWMA baseline per anomaly signal.
CREATE TABLE alert_baselines (
  tenant_id   uuid NOT NULL,
  signal      text NOT NULL,
  mean        double precision NOT NULL,
  variance    double precision NOT NULL CHECK (variance >= 0),
  samples     integer NOT NULL CHECK (samples >= 0),
  updated_at  timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, signal)
);

-- Consecutive breaching / clear evaluations per alert key (hysteresis); rows at zero are dropped.
CREATE TABLE alert_streaks (
  dedup_key   text PRIMARY KEY,
  breach      integer NOT NULL CHECK (breach >= 0),
  clear       integer NOT NULL CHECK (clear >= 0),
  updated_at  timestamptz NOT NULL
);
