-- registry-svc: registries with their encrypted credentials, the data planes
-- credentials are sealed to, and the outbox / processed-events tables.

CREATE TABLE registry.registries (
	id uuid PRIMARY KEY,
	org text NOT NULL,
	name text NOT NULL,
	host text NOT NULL,            -- canonical (image_ref_host_canon)
	auth_type text NOT NULL,       -- anonymous | basic | docker-config | vendor
	username text,
	vendor text,
	secret bytea NOT NULL,         -- secret_encrypt(RegistryCredentials), AD = id
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (org, host)
);

CREATE TABLE registry.dataplanes (
	name text PRIMARY KEY,
	public_key bytea NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE registry.outbox (
	id bigserial PRIMARY KEY,
	topic text NOT NULL,
	key text NOT NULL,
	payload bytea,
	event_id text NOT NULL,
	event_type text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	sent_at timestamptz
);
CREATE INDEX outbox_unsent ON registry.outbox (id) WHERE sent_at IS NULL;

CREATE TABLE registry.processed_events (
	event_id text PRIMARY KEY,
	consumer text NOT NULL,
	processed_at timestamptz NOT NULL DEFAULT now()
);
