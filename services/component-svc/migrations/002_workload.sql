-- component-svc: a component's health check and resource limits (lib
-- workload.h: {"path","port","timeout_s","period_s","success_threshold"} and
-- {"memory_mb","cpu_millicores","pids","read_only_rootfs"}, only the keys
-- given). NULL: the component has none, the agent's defaults apply.
-- The webhook's read-only role has SELECT on the whole table already.

ALTER TABLE component.components
	ADD COLUMN health jsonb,
	ADD COLUMN resources jsonb;
