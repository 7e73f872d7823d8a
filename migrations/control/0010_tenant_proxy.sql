-- Proxy mode (docs/proxy.md): a tenant's own settings for forwarding requests to an origin of its
-- own instead of the router's built-in app. NULL: the router's ORIGINS and PROXY_PREFIXES apply.
--   {"origin": {"url": "https://eu.app.acme.com", "region": "aws-eu-central-1"} | null,
--    "prefixes": ["/app/"] | null}
-- `origin` is the tenant's dedicated origin and the region whose jurisdiction it sits under (the
-- router refuses 451 when that breaks the tenant's residency); `prefixes` replaces PROXY_PREFIXES
-- for this tenant ([] proxies nothing). The admin API validates the shape; this CHECK keeps any
-- other writer to an object with only these keys.
ALTER TABLE tenants ADD COLUMN proxy jsonb
  CHECK (proxy IS NULL OR (jsonb_typeof(proxy) = 'object' AND proxy - 'origin' - 'prefixes' = '{}'::jsonb));
