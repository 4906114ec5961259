"""Processed-event records (the dedup that keeps a redelivered event from
being applied twice) are forgotten once older than any redelivery can be
(8 days: past Kafka's 7-day retention), so the table does not grow forever;
recent ones stay. A restart purges soon after start."""

import time
import uuid

import signal

SCHEMAS = {"deploy-svc": "deploy", "registry-svc": "registry",
           "component-svc": "component"}


def _count(slipway, schema, ids):
    return int(slipway.psql(
        "SELECT count(*) FROM %s.processed_events WHERE event_id IN (%s)" % (
            schema, ",".join("'%s'" % i for i in ids))))


def test_old_processed_events_are_purged_recent_ones_kept(slipway):
    old = {s: [str(uuid.uuid4()) for _ in range(3)] for s in SCHEMAS}
    recent = {s: [str(uuid.uuid4()) for _ in range(2)] for s in SCHEMAS}
    for service, schema in SCHEMAS.items():
        assert slipway.psql(
            "SELECT count(*) FROM pg_indexes WHERE schemaname = '%s' AND "
            "indexname = 'processed_events_at'" % schema) == "1", schema
        rows = ["('%s', 'test', now() - interval '9 days')" % i
                for i in old[service]]
        rows += ["('%s', 'test', now() - interval '7 days')" % i
                 for i in recent[service]]
        slipway.psql("INSERT INTO %s.processed_events (event_id, consumer, "
                     "processed_at) VALUES %s" % (schema, ", ".join(rows)))
    for service in SCHEMAS:
        slipway.kill_service(service, sig=signal.SIGTERM)
        slipway.restart_service(service)
    deadline = time.monotonic() + 30
    for service, schema in SCHEMAS.items():
        while _count(slipway, schema, old[service]) > 0:
            assert time.monotonic() < deadline, slipway.log_tail(service)
            time.sleep(0.2)
        assert _count(slipway, schema, recent[service]) == 2, service
        assert "forgot 3 processed event(s) older than 8 days" in \
            slipway.log_path(service).read_text(errors="replace"), service
