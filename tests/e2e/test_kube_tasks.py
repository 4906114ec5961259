"""Tasks on the agent's Kubernetes runtime, against a real kube-apiserver
(kube_harness.py), the agent bound by RBAC to exactly
deploy/k8s/dataplane-agent-rbac.yaml:

  - a scheduled task's deploy is `ready` with a CronJob (schedule, timeZone,
    concurrencyPolicy, startingDeadlineSeconds, the image by digest, the
    pull Secret) as tests/e2e/golden/kube-cronjob.json says; the agent's
    own scheduler never fires it, even on a clock running a minute a
    second; the Jobs the CronJob controller makes (the test plays it)
    become executions of their minute, succeeded or failed with the pod's
    exit code, seen through deploy-svc's API as on an engine;
  - a manual execution is one Job named from its id, beside a Secret of
    its variables (tests/e2e/golden/kube-job.json); the Job's outcome is the
    execution's, and the Job goes once it is recorded.

No controller runs: the test patches Job and pod status through the status
subresources.
"""

import base64
import time

import pytest

import kube_harness as kh
from slipway_harness import api

from test_kube_runtime import RBAC, _golden, _deploy

FINAL = {"succeeded", "failed", "timed_out", "skipped"}


@pytest.fixture(scope="module")
def kube():
    yield from kh.cluster_fixture(RBAC)


@pytest.fixture
def plane(slipway, kube, app_ports, org):
    """A Kubernetes data plane of org's own, bound as its development
    environment. Its clock runs a minute a second: were the agent's own
    scheduler to serve the CronJob's task, it would fire at once."""
    agent = kube.extra_agent(slipway, app_ports.take(), org,
                             SLIPWAY_TEST_CLOCK="%d:60" % int(time.time()))
    agent.start()
    try:
        kh.bind_development(slipway, org, agent.name)
        yield agent
    finally:
        rc = agent.stop()
    assert rc == 0, "agent exited with %r:\n%s" % (rc, agent.tail())
    report = agent.sanitizer_report()
    assert report is None, report


def _executions(slipway, comp_id):
    status, body = api("GET", slipway.url(
        "deploy-svc", "/v1/components/%s/executions" % comp_id))
    assert status == 200, (status, body)
    return body["executions"]


def _wait_final(slipway, ex_id, timeout=60):
    def final():
        status, body = api("GET", slipway.url(
            "deploy-svc", "/v1/executions/%s" % ex_id))
        return body if status == 200 and body["status"] in FINAL else None
    return kh.wait_for("execution %s never final" % ex_id, final, timeout)


def _ready(slipway, comp_id, image):
    dep = _deploy(slipway, comp_id, image=image)
    return slipway.wait_deployment(dep, "ready", timeout=90)


def _scheduled_job(kube, cron, minute):
    """Plays the CronJob controller: the Job of the scheduled minute (UTC
    s), named, labelled, annotated and owned as the controller makes it."""
    md, tmpl = cron["metadata"], cron["spec"]["jobTemplate"]
    ann = dict(tmpl["metadata"].get("annotations", {}))
    ann["batch.kubernetes.io/cronjob-scheduled-timestamp"] = \
        kh.utc_stamp(minute)
    return kube.create({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "%s-%d" % (md["name"], minute // 60),
                     "namespace": md["namespace"],
                     "labels": tmpl["metadata"]["labels"],
                     "annotations": ann,
                     "ownerReferences": [{
                         "apiVersion": "batch/v1", "kind": "CronJob",
                         "name": md["name"], "uid": md["uid"],
                         "controller": True}]},
        "spec": tmpl["spec"]})


def test_kube_scheduled_task_is_a_cronjob(slipway, kube, plane, org,
                                          project):
    reg = slipway.create_registry(org, auth_type="basic")
    image = slipway.push_variant("kube-task", "echo scheduled; exit 0")
    comp = slipway.create_component(
        org, project, reg["id"], image=image, ctype="scheduled-task",
        name="nightly", schedule="*/5 * * * *", timezone="Europe/Berlin",
        concurrency_policy="replace", starting_deadline_s=120,
        active_deadline_s=86400)
    cid = comp["id"]
    ready = _ready(slipway, cid, image)
    selector = "slipway.managed=true,slipway.component=%s" % cid

    crons = kh.wait_for("no CronJob for the task", lambda: kube.list(
        "CronJob", selector=selector), 30)
    cron = crons[0]
    ns, name = cron["metadata"]["namespace"], cron["metadata"]["name"]
    assert ns == "slipway-%s-development" % org, ns
    spec = cron["spec"]
    assert spec["schedule"] == "*/5 * * * *" and \
        spec["timeZone"] == "Europe/Berlin", spec
    assert spec["concurrencyPolicy"] == "Replace" and \
        spec["startingDeadlineSeconds"] == 120, spec
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"].endswith("@" + ready["digest"]), pod
    pull = name.replace("nightly-", "nightly-pull-")
    assert pod["imagePullSecrets"] == [{"name": pull}], pod
    assert kube.get("Secret", ns, pull) is not None
    replace = {cid: "COMPONENT_ID", ready["id"]: "DEPLOYMENT_ID", org: "ORG",
               project: "PROJECT", reg["id"]: "REGISTRY_ID",
               plane.name: "DATAPLANE", ready["digest"]: "DIGEST",
               image: "IMAGE",
               slipway.env["SLIPWAY_REGISTRY_HOST"]: "REGISTRY",
               pull: "PULL_SECRET", name: "NAME"}
    _golden("cronjob", kube.get("CronJob", ns, name), replace)
    # No Deployment: a task serves nothing.
    assert kube.list("Deployment", selector=selector) == []

    # The CronJob schedules, not the agent: minutes pass on its fast clock
    # (five a second) and no execution appears on its own.
    time.sleep(3)
    assert _executions(slipway, cid) == [], \
        "the agent's scheduler fired a task its CronJob schedules"

    # --- the controller's Jobs become executions ---------------------------
    minute = (int(time.time()) // 300) * 300
    job = _scheduled_job(kube, cron, minute)
    kh.wait_for("the scheduled Job's execution never ran", lambda: [
        r for r in _executions(slipway, cid) if r["status"] == "running"], 30)
    kh.job_succeeded(kube, ns, job["metadata"]["name"])
    runs = kh.wait_for("no final execution", lambda: [
        r for r in _executions(slipway, cid) if r["status"] in FINAL], 30)
    assert len(runs) == 1, runs
    ok = _wait_final(slipway, runs[0]["id"])
    assert ok["status"] == "succeeded" and ok["exit_code"] == 0, ok
    assert ok["trigger"] == "schedule", ok
    assert ok["scheduled_for"] == kh.utc_stamp(minute).replace(
        "Z", ".000Z"), ok
    assert ok["deployment_id"] == ready["id"] and \
        ok["digest"] == ready["digest"], ok
    # Recorded: the Job goes, as an engine's container does.
    kh.wait_for("the succeeded Job was not deleted", lambda: kube.get(
        "Job", ns, job["metadata"]["name"]) is None, 30)

    job2 = _scheduled_job(kube, cron, minute + 300)
    kh.wait_for("the second Job's execution never ran", lambda: [
        r for r in _executions(slipway, cid)
        if r["status"] == "running"], 30)
    kh.job_failed(kube, ns, job2["metadata"]["name"], 3)
    runs = kh.wait_for("the failed run never final", lambda: [
        r for r in _executions(slipway, cid)
        if r["status"] == "failed"], 30)
    bad = _wait_final(slipway, runs[0]["id"])
    assert bad["exit_code"] == 3 and "exited with code 3" in bad["reason"], \
        bad
    assert len(_executions(slipway, cid)) == 2

    # --- removed: the CronJob and its Jobs go ------------------------------
    status, body = api("DELETE", slipway.url("component-svc",
                                             "/v1/components/%s" % cid))
    assert status == 204, (status, body)
    kh.wait_for("the task's objects were not pruned", lambda: all(
        not kube.list(k, selector=selector)
        for k in ("CronJob", "Job", "Secret")), 60)


def test_kube_manual_execution_is_a_job(slipway, kube, plane, org, project):
    reg = slipway.create_registry(org, auth_type="basic")
    image = slipway.push_variant("kube-manual", "echo manual; exit 0")
    comp = slipway.create_component(org, project, reg["id"], image=image,
                                    ctype="manual-task", name="migrate")
    cid = comp["id"]
    ready = _ready(slipway, cid, image)
    selector = "slipway.managed=true,slipway.component=%s" % cid
    # A manual task has no CronJob, and nothing runs on its own.
    assert kube.list("CronJob", selector=selector) == []
    assert _executions(slipway, cid) == []

    status, ex = api("POST", slipway.url(
        "deploy-svc", "/v1/components/%s/executions" % cid),
        {"environment": "development", "args": ["/bin/sh", "-c", "echo $X"],
         "env": {"X": "from-the-run"}})
    assert status == 202, (status, ex)
    jobs = kh.wait_for("no Job for the execution", lambda: kube.list(
        "Job", selector=selector + ",slipway.execution=" + ex["id"]), 30)
    job = jobs[0]
    ns, name = job["metadata"]["namespace"], job["metadata"]["name"]
    assert name == "migrate-run-" + ex["id"], name
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and \
        job["spec"]["backoffLimit"] == 0, job["spec"]
    c = pod["containers"][0]
    assert c["args"] == ["/bin/sh", "-c", "echo $X"], c
    assert c["image"].endswith("@" + ready["digest"]), c
    secret = kube.get("Secret", ns, name + "-env")
    assert secret is not None and base64.b64decode(
        secret["data"]["X"]).decode() == "from-the-run", secret
    pull = pod["imagePullSecrets"][0]["name"]
    replace = {cid: "COMPONENT_ID", ready["id"]: "DEPLOYMENT_ID", org: "ORG",
               project: "PROJECT", reg["id"]: "REGISTRY_ID",
               plane.name: "DATAPLANE", ready["digest"]: "DIGEST",
               image: "IMAGE", ex["id"]: "EXECUTION_ID",
               slipway.env["SLIPWAY_REGISTRY_HOST"]: "REGISTRY",
               pull: "PULL_SECRET"}
    _golden("job", kube.get("Job", ns, name), replace)

    kh.wait_for("the execution never ran", lambda: [
        r for r in _executions(slipway, cid) if r["status"] == "running"], 30)
    kh.job_succeeded(kube, ns, name)
    ok = _wait_final(slipway, ex["id"])
    assert ok["status"] == "succeeded" and ok["exit_code"] == 0, ok
    assert ok["trigger"] == "manual" and ok["deployment_id"] == ready["id"]
    kh.wait_for("the Job and its Secret were not deleted", lambda:
                kube.get("Job", ns, name) is None and
                kube.get("Secret", ns, name + "-env") is None, 30)

    status, ex2 = api("POST", slipway.url(
        "deploy-svc", "/v1/components/%s/executions" % cid),
        {"environment": "development"})
    assert status == 202, (status, ex2)
    name2 = "migrate-run-" + ex2["id"]
    kh.wait_for("no Job for the second execution", lambda: kube.get(
        "Job", ns, name2), 30)
    kh.job_failed(kube, ns, name2, 7)
    bad = _wait_final(slipway, ex2["id"])
    assert bad["status"] == "failed" and bad["exit_code"] == 7, bad
    assert "exited with code 7" in bad["reason"], bad
