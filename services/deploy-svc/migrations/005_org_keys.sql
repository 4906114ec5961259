-- deploy-svc: org keys, the management API's credentials below the operator
-- key (lib apikey.h). deploy-svc is their one store: each change is also
-- published as an OrgKey record on the compacted slipway.orgkeys, from which
-- every management service learns them. Only the SHA-256 of a key is kept;
-- the key itself is shown once, in the answer that issued it. A revoked key
-- keeps its row (revoked_at set) so listings show what existed.
CREATE TABLE org_keys (
	id          uuid PRIMARY KEY,
	org         text NOT NULL,
	name        text NOT NULL,
	role        text NOT NULL CHECK (role IN ('viewer', 'deployer', 'admin')),
	key_hash    text NOT NULL UNIQUE,
	prefix      text NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
	revoked_at  timestamptz
);
CREATE INDEX org_keys_org ON org_keys (org, created_at);
