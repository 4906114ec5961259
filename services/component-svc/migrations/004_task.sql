-- component-svc: a task's execution settings besides schedule and timezone
-- (lib workload.h: {"concurrency_policy","starting_deadline_s",
-- "active_deadline_s"}, the effective values). NULL for services and web apps.
ALTER TABLE component.components ADD COLUMN task jsonb;
