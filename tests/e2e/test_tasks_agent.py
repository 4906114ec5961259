"""The agent's side of task executions across its own failures: a run that
was going on when the agent was killed (kill -9) is adopted by the next
agent and reported with its real exit code and log tail; a run whose
container vanished while no agent watched is reported failed ("lost");
and a second agent on the same state directory refuses to start (two
agents must never schedule the same tasks).

Each test runs a data plane of its own on the real clock, bound as the
test's org's development environment, so killing its agent disturbs no
other test.
"""

import time
import urllib.parse

import pytest

from slipway_harness import ExtraService, api, engine_call, unique

from test_tasks import _execution, _ready_task, _run, _task_containers, \
    _wait_execution, org_plane


@pytest.fixture
def plane(slipway, org, app_ports):
    yield from org_plane(slipway, org, app_ports)


def _wait_status(slipway, ex_id, want, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        ex = _execution(slipway, ex_id)
        if ex["status"] == want:
            return ex
        assert time.monotonic() < deadline, "not %s: %r" % (want, ex)
        time.sleep(0.2)


def _kill(agent):
    agent.proc.kill()
    agent.proc.wait(timeout=10)


def test_running_execution_is_adopted_after_kill(slipway, org, project, plane):
    comp, _ = _ready_task(slipway, org, project,
                          "echo start; busybox sleep 6; echo end; exit 3",
                          tag="adopt")
    ex = _run(slipway, comp["id"])
    _wait_status(slipway, ex["id"], "running")
    _kill(plane)
    time.sleep(1)
    plane.start()
    done = _wait_execution(slipway, ex["id"], timeout=60)
    assert done["status"] == "failed" and done["exit_code"] == 3, done
    assert "start" in done["log_tail"] and "end" in done["log_tail"], done
    assert "exited with code 3" in done["reason"], done
    # Run once: one execution, and its container is gone.
    status, body = api("GET", slipway.url(
        "deploy-svc", "/v1/components/%s/executions" % comp["id"]))
    assert status == 200 and len(body["executions"]) == 1, body
    assert _task_containers(slipway, comp["id"]) == []


def test_vanished_execution_is_reported_lost(slipway, org, project, plane):
    comp, _ = _ready_task(slipway, org, project, "busybox sleep 120",
                          tag="vanish")
    ex = _run(slipway, comp["id"])
    _wait_status(slipway, ex["id"], "running")
    _kill(plane)
    sock = slipway.env["SLIPWAY_ENGINE_SOCKET"]
    for c in _task_containers(slipway, comp["id"]):
        engine_call(sock, "DELETE", "/v1.41/containers/%s?force=true" %
                    urllib.parse.quote(c["Id"]))
    plane.start()
    done = _wait_execution(slipway, ex["id"], timeout=60)
    assert done["status"] == "failed" and "lost" in done["reason"], done


def test_second_agent_on_one_state_dir_refuses(slipway, app_ports, plane):
    env = dict(plane.env, SLIPWAY_HTTP_PORT=str(app_ports.take()))
    second = ExtraService(slipway, "dataplane-agent", unique("dup"), env)
    second.start(ready=False)
    rc = second.proc.wait(timeout=40)   # waits 15 s for the lock first
    assert rc != 0, second.tail()
    assert "another agent uses this state directory" in second.tail(), \
        second.tail()
    # The first one is unharmed.
    assert plane.proc.poll() is None
