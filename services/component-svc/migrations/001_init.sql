-- component-svc: components, endpoints, CI tokens (hashes only) and the local
-- copy of registries (the outbox and processed_events tables come from
-- libslipway, see backbone.c).

CREATE TABLE component.registries (
	id uuid PRIMARY KEY,
	org text NOT NULL,
	host text NOT NULL,
	auth_type text NOT NULL,
	deleted boolean NOT NULL DEFAULT false,
	updated_at timestamptz NOT NULL DEFAULT now()
);

-- webhook-ingress reads these two tables through a read-only role when Redis
-- misses: their shape is a contract (docs/internals.md).
CREATE TABLE component.components (
	id uuid PRIMARY KEY,
	org text,
	project text,
	name text,
	description text,
	type text,
	registry_id uuid,
	registry_host text,
	image text,
	endpoints jsonb,
	schedule text,
	timezone text,
	created_at timestamptz DEFAULT now(),
	updated_at timestamptz,
	deleted_at timestamptz
);
CREATE UNIQUE INDEX components_name_unique
	ON component.components (org, project, name) WHERE deleted_at IS NULL;

CREATE TABLE component.tokens (
	id uuid PRIMARY KEY,
	component_id uuid REFERENCES component.components(id),
	name text,
	token_hash text UNIQUE NOT NULL,
	prefix text NOT NULL,
	created_at timestamptz DEFAULT now(),
	expires_at timestamptz,
	revoked_at timestamptz
);
CREATE INDEX tokens_component ON component.tokens (component_id);

-- The webhook's read-only role exists only where the stack created it.
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'slipway_webhook') THEN
		GRANT USAGE ON SCHEMA component TO slipway_webhook;
		GRANT SELECT ON component.tokens, component.components TO slipway_webhook;
	END IF;
END
$$;
