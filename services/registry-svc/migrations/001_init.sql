-- registry-svc: registries with their encrypted credentials and the data
-- planes credentials are sealed to (the outbox and processed_events tables
-- come from libslipway, see backbone.c).

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
