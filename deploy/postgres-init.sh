#!/bin/sh
# Run once by the postgres image at first start (docker-compose.yml): one
# password (SCRAM) role per service, each owning its schema, and the
# webhook's read-only role (component-svc's migration grants it USAGE on
# schema component and SELECT on component.tokens/components). The
# passwords come from the container's environment (SLIPWAY_PG_*_PASSWORD).
set -eu
psql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" \
	-v pw_registry="$SLIPWAY_PG_REGISTRY_PASSWORD" \
	-v pw_component="$SLIPWAY_PG_COMPONENT_PASSWORD" \
	-v pw_deploy="$SLIPWAY_PG_DEPLOY_PASSWORD" \
	-v pw_webhook="$SLIPWAY_PG_WEBHOOK_PASSWORD" <<'SQL'
SET password_encryption = 'scram-sha-256';
CREATE ROLE slipway_registry LOGIN PASSWORD :'pw_registry';
CREATE ROLE slipway_component LOGIN PASSWORD :'pw_component';
CREATE ROLE slipway_deploy LOGIN PASSWORD :'pw_deploy';
CREATE ROLE slipway_webhook LOGIN PASSWORD :'pw_webhook';
REVOKE ALL ON DATABASE slipway FROM PUBLIC;
GRANT CONNECT ON DATABASE slipway TO slipway_registry, slipway_component, slipway_deploy, slipway_webhook;
GRANT CREATE ON DATABASE slipway TO slipway_registry, slipway_component, slipway_deploy;
CREATE SCHEMA registry AUTHORIZATION slipway_registry;
CREATE SCHEMA component AUTHORIZATION slipway_component;
CREATE SCHEMA deploy AUTHORIZATION slipway_deploy;
SQL
