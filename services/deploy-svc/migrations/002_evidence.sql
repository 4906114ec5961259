-- deploy-svc: the whole local copy of a component, the crashed state's
-- clock, and what agents report besides the state.

-- Every endpoint [{"name","port","type","visibility","context",
-- "schema_file_path"}], the health check and the resources (lib workload.h;
-- NULL = none, the agent's defaults), as ComponentCreated / Updated and
-- EndpointsChanged carry them. port and endpoint_type stay: they are the
-- first endpoint's, for ApplyDeployment's older fields. Rows from before
-- this migration keep '[]' until their component's next event.
ALTER TABLE components
	ADD COLUMN endpoints jsonb NOT NULL DEFAULT '[]',
	ADD COLUMN health jsonb,
	ADD COLUMN resources jsonb;

-- observed_at_ms: the agent's clock (DeploymentStatus.observed_at_ms) of the
-- newest applied report; the running <-> crashed cycle moves only on a
-- newer one (deploy_state.c). exit_code is NULL unless the container
-- exited; endpoints are the gateway addresses [{"name","type","visibility",
-- "url"}] reported on running, kept after superseded.
ALTER TABLE deployments
	ADD COLUMN observed_at_ms bigint NOT NULL DEFAULT 0,
	ADD COLUMN exit_code integer,
	ADD COLUMN log_tail text NOT NULL DEFAULT '',
	ADD COLUMN probe text NOT NULL DEFAULT '',
	ADD COLUMN endpoints jsonb NOT NULL DEFAULT '[]',
	-- How often the running version crashed and was restarted.
	ADD COLUMN restarts integer NOT NULL DEFAULT 0;

-- A newer version supersedes running and crashed deployments alike.
DROP INDEX IF EXISTS deployments_running;
CREATE INDEX deployments_live ON deployments (component_id, environment)
	WHERE status IN ('running', 'crashed');
