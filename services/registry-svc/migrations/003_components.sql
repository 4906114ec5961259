-- registry-svc: the live components and the registry each uses, learnt
-- from slipway.component.events (ComponentCreated / Updated add or move a
-- row, ComponentDeleted removes it), so that deleting a registry that a
-- component still uses is refused (409 registry_in_use) with their names.
CREATE TABLE registry.components (
	id text PRIMARY KEY,
	org text NOT NULL,
	project text NOT NULL,
	name text NOT NULL,
	registry_id text NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX components_registry ON registry.components (registry_id, org);
