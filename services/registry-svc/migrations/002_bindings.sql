-- registry-svc: which orgs each data plane serves, learnt from
-- slipway.deploy.events. A registry's credentials are sealed to a data
-- plane only while that data plane is granted to the registry's org (or
-- shared) AND an environment of the org is bound to it.

-- Data planes known before grants existed had every registry sealed to
-- them: they stay shared until their next DataPlaneRegistered.
ALTER TABLE registry.dataplanes ADD COLUMN shared boolean NOT NULL DEFAULT false;
UPDATE registry.dataplanes SET shared = true;

CREATE TABLE registry.dataplane_orgs (
	dataplane text NOT NULL,
	org text NOT NULL,
	PRIMARY KEY (dataplane, org)
);

-- EnvironmentChanged: environment (org, name) runs on dataplane.
CREATE TABLE registry.bindings (
	org text NOT NULL,
	environment text NOT NULL,
	dataplane text NOT NULL,
	PRIMARY KEY (org, environment)
);
CREATE INDEX bindings_dataplane ON registry.bindings (dataplane, org);
