-- deploy-svc: tasks (scheduled-task, manual-task) and their executions.

-- A task's settings as ComponentCreated / Updated carry them (lib
-- workload.h: schedule, timezone, concurrency_policy, starting_deadline_s,
-- active_deadline_s); NULL for services and web apps. Task rows from before
-- this migration read as the defaults until their component's next event.
ALTER TABLE components ADD COLUMN task jsonb;

-- The newest ready deployment of a component in an environment is what its
-- executions run.
CREATE INDEX deployments_ready ON deployments (component_id, environment,
	created_at DESC) WHERE status = 'ready';

-- One run of a task: made by the API (trigger manual, with its RunTask in
-- the same transaction) or learnt from the first report of a run the
-- agent's scheduler started (trigger schedule). status follows
-- deploy_exec_state.c; observed_at_ms is the agent's clock of the newest
-- applied report. exit_code is NULL until the container exited.
CREATE TABLE executions (
	id              uuid PRIMARY KEY,
	component_id    uuid NOT NULL,
	org             text NOT NULL,
	environment     text NOT NULL,
	deployment_id   uuid NOT NULL,
	dataplane       text NOT NULL,
	digest          text NOT NULL DEFAULT '',
	trigger         text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
	scheduled_for   timestamptz,
	started_at      timestamptz,
	finished_at     timestamptz,
	exit_code       integer,
	status          text NOT NULL,
	reason          text NOT NULL DEFAULT '',
	log_tail        text NOT NULL DEFAULT '',
	args            jsonb NOT NULL DEFAULT '[]',
	observed_at_ms  bigint NOT NULL DEFAULT 0,
	created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX executions_component ON executions (component_id, environment,
	created_at DESC);
