-- deploy-svc: configuration per component and environment. Every change
-- (variables replaced, a secret set or removed) inserts a new immutable
-- version: the variables as given, and each secret as {"id", "ciphertext",
-- "set_at"}, where ciphertext is base64 of lib crypto.h secret_encrypt with
-- the secret's id as associated data (a later version that keeps the secret
-- keeps its id and ciphertext). Version 0 is "nothing set" and has no row.
CREATE TABLE config_versions (
	component_id  uuid NOT NULL,
	environment   text NOT NULL,
	version       integer NOT NULL CHECK (version > 0),
	vars          jsonb NOT NULL,
	secrets       jsonb NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (component_id, environment, version)
);
-- A deployment's release is its digest and its configuration version; the
-- endpoints it ran with are the component's at its creation.
ALTER TABLE deployments
	ADD COLUMN config_version integer NOT NULL DEFAULT 0,
	ADD COLUMN endpoints_ran_with jsonb NOT NULL DEFAULT '[]';
