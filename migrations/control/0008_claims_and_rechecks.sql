-- Each claim on an idempotency key has an owner: the random id the claiming request wrote. A
-- request whose claim went stale and was taken over by a retry can then no longer finish or
-- release the retry's claim: completion and release apply only WHERE claim_id is its own.
ALTER TABLE idempotency_keys ADD COLUMN claim_id uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE idempotency_keys ALTER COLUMN claim_id DROP DEFAULT;

-- Active custom domains are checked again daily (a hostname Cloudflare reports moved or deleted
-- stops being served), so the scheduled sweep looks for due active rows too.
DROP INDEX tenant_domains_due;
CREATE INDEX tenant_domains_due ON tenant_domains (next_check_at) WHERE status IN ('pending', 'active');

-- The router reads usage through its own flushes only: the aggregate view is the control plane's.
REVOKE SELECT ON tenant_usage FROM control_router;
