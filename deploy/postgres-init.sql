-- Run once by the postgres image at first start (docker-compose.yml): the
-- read-only role of webhook-ingress. component-svc's migration grants it
-- USAGE on schema component and SELECT on component.tokens/components.
CREATE ROLE slipway_webhook LOGIN;
