-- component-svc: the schema files a component's endpoints name (PUT
-- /v1/components/{id}/endpoints): an OpenAPI document for a REST endpoint,
-- a GraphQL SDL file for a GraphQL one, by file name (never a path). A PUT
-- replaces the whole set with the endpoints, in one transaction.
-- endpoints_updated_at: when the endpoints were last set (NULL: at create).

CREATE TABLE component.endpoint_schemas (
	component_id uuid NOT NULL REFERENCES component.components (id),
	file text NOT NULL CHECK (length(file) BETWEEN 1 AND 255),
	kind text NOT NULL CHECK (kind IN ('openapi', 'graphql', 'asyncapi')),
	media_type text NOT NULL,
	content bytea NOT NULL,
	sha256 text NOT NULL,
	size integer NOT NULL CHECK (size >= 0 AND size <= 1048576),
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (component_id, file)
);

ALTER TABLE component.components ADD COLUMN endpoints_updated_at timestamptz;
