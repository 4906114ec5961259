-- deploy-svc: a data plane serves named orgs, or every org when shared; an
-- org's environments may bind only a data plane granted to it.

-- Data planes registered before grants existed served every org: they stay
-- shared until the operator registers them again with "orgs".
ALTER TABLE dataplanes ADD COLUMN shared boolean NOT NULL DEFAULT false;
UPDATE dataplanes SET shared = true;

CREATE TABLE dataplane_grants (
	dataplane  text NOT NULL REFERENCES dataplanes (name) ON DELETE CASCADE,
	org        text NOT NULL,
	PRIMARY KEY (dataplane, org)
);
