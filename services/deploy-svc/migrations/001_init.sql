-- deploy-svc: data planes, environments, the local copy of components, and
-- deployments with their history (the outbox and processed_events tables
-- come from libslipway, see backbone.c).

CREATE TABLE dataplanes (
	name        text PRIMARY KEY,
	public_key  bytea NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE environments (
	org         text NOT NULL,
	name        text NOT NULL,
	dataplane   text NOT NULL REFERENCES dataplanes (name),
	position    integer NOT NULL DEFAULT 0,
	created_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (org, name)
);

-- Local copy of component-svc's components, fed by slipway.component.events.
CREATE TABLE components (
	id             uuid PRIMARY KEY,
	org            text NOT NULL,
	project        text NOT NULL DEFAULT '',
	name           text NOT NULL,
	type           text NOT NULL,
	registry_id    text NOT NULL DEFAULT '',
	registry_host  text NOT NULL DEFAULT '',
	image          text NOT NULL DEFAULT '',
	port           integer NOT NULL DEFAULT 0,
	endpoint_type  text NOT NULL DEFAULT '',
	deleted        boolean NOT NULL DEFAULT false,
	updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE deployments (
	id            uuid PRIMARY KEY,
	component_id  uuid NOT NULL,
	org           text NOT NULL,
	environment   text NOT NULL,
	dataplane     text NOT NULL DEFAULT '',
	image         text NOT NULL,
	digest        text NOT NULL DEFAULT '',
	status        text NOT NULL,
	reason        text NOT NULL DEFAULT '',
	source        text NOT NULL DEFAULT '',
	created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
	updated_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
	status_rank   integer NOT NULL DEFAULT 0
);
CREATE INDEX deployments_component ON deployments (component_id, created_at DESC);
CREATE INDEX deployments_running ON deployments (component_id, environment)
	WHERE status = 'running';
