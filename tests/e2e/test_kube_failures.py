"""Pod-level failure reasons on the agent's Kubernetes runtime, against a
real kube-apiserver (kube_harness.py), the agent bound by RBAC to exactly
deploy/k8s/dataplane-agent-rbac.yaml.

While a new release rolls out, a pod of its ReplicaSet (its template
carries the release's deployment label) whose container waits in
ImagePullBackOff or CrashLoopBackOff fails the deployment at once with the
kubelet's reason and message, long before the progress deadline; the
previous release keeps running and its ReplicaSet is untouched. Once a
release runs, its pods are watched on: one in CrashLoopBackOff makes it
`crashed` with the kubelet's reason, and `running` again once its pods are
ready, as the podman runtime reports a container that exits and restarts.
A rotated token file (the old token revoked) is read again without a
restart.

No controller or kubelet runs: the test creates the pods and patches their
status itself.
"""

import pytest

import kube_harness as kh

from test_kube_runtime import RBAC, _available, _deploy, _first_replicaset, \
    _wait_status


@pytest.fixture(scope="module")
def kube():
    yield from kh.cluster_fixture(RBAC)


def test_kube_pod_reasons_fail_a_rollout(slipway, kube, app_ports, org,
                                         project):
    agent = kube.extra_agent(slipway, app_ports.take(), org)
    try:
        agent.start()
        kh.bind_development(slipway, org, agent.name)
        reg = slipway.create_registry(org, auth_type="basic")
        # A long health timeout: a failure seen now is the pods' doing,
        # never the progress deadline's.
        comp = slipway.create_component(org, project, reg["id"], port=8080,
                                        name="podfail",
                                        health={"timeout_s": 600})
        cid = comp["id"]
        selector = "slipway.managed=true,slipway.component=%s" % cid
        dep1 = _deploy(slipway, cid, tag="v1")
        d = kh.wait_for("no Deployment", lambda: (kube.list(
            "Deployment", selector=selector) or [None])[0], 60)
        ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
        _wait_status(slipway, dep1, "starting")
        _available(kube, ns, name)
        _wait_status(slipway, dep1, "running")
        rs = _first_replicaset(kube, kube.get("Deployment", ns, name))
        # A running, ready pod of the first release: not the new one's.
        kh.pod_of(kube, kube.get("Deployment", ns, name), "old", ready=True)

        for n, (reason, message, code) in enumerate([
                ("ImagePullBackOff", 'Back-off pulling image "%s/demo/'
                 'hello@sha256:0000"' % slipway.env["SLIPWAY_REGISTRY_HOST"],
                 "pull_failed"),
                ("CrashLoopBackOff", "back-off 40s restarting failed "
                 "container=app pod=x", "unhealthy")]):
            image = slipway.push_variant("kube-pod-%d" % n,
                                         "exec httpd -f -p 0.0.0.0:$PORT")
            gen = kube.get("Deployment", ns, name)["metadata"]["generation"]
            dep = _deploy(slipway, cid, tag=image.rsplit(":", 1)[1])
            d2 = kh.wait_for("release %d never applied" % n, lambda: (
                lambda x: x if x["metadata"]["generation"] > gen else None)(
                kube.get("Deployment", ns, name)), 60)
            assert d2["spec"]["template"]["metadata"]["labels"][
                "slipway.deployment"] == dep
            _wait_status(slipway, dep, "starting")
            kh.pod_of(kube, d2, "new%d" % n, waiting=reason, message=message)
            body = _wait_status(slipway, dep, "failed", timeout=60)
            assert body["reason"].startswith("%s: %s: " % (code, reason)), \
                body
            assert message in body["reason"], body
            # The first release serves on, its ReplicaSet as it was.
            status, first = slipway.get_deployment(dep1)
            assert status == 200 and first["status"] == "running", first
            rs_now = kube.get("ReplicaSet", ns, rs["metadata"]["name"])
            assert rs_now["metadata"]["resourceVersion"] == \
                rs["metadata"]["resourceVersion"], rs_now

        # --- after running: the serving release crashes and recovers ------
        old = "%s-old" % name
        c = kube.get("Pod", ns, old)["spec"]["containers"][0]
        crash = "back-off 10s restarting failed container=app"
        kube.patch_status("Pod", ns, old, {"containerStatuses": [{
            "name": "app", "image": c["image"], "imageID": "",
            "ready": False, "restartCount": 2,
            "state": {"waiting": {"reason": "CrashLoopBackOff",
                                  "message": crash}}}]})
        body = _wait_status(slipway, dep1, "crashed", timeout=60)
        assert body["reason"] == "crashed: CrashLoopBackOff: " + crash, body
        kube.patch_status("Pod", ns, old, {"containerStatuses": [{
            "name": "app", "image": c["image"], "imageID": "",
            "ready": True, "restartCount": 3,
            "state": {"running": {"startedAt": kh.utc_stamp()}}}]})
        body = _wait_status(slipway, dep1, "running", timeout=60)
        assert "http://apps.slipway.example/%s/%s/podfail/" % (
            org, project) in str(body), body
    finally:
        rc = agent.stop()
    assert rc == 0, "agent exited with %r:\n%s" % (rc, agent.tail())
    report = agent.sanitizer_report()
    assert report is None, report


def test_kube_token_rotation_is_read_again(slipway, kube, app_ports, org,
                                           project):
    """The agent's token file is replaced and the old token revoked: the
    agent reads the new one (it watches the file) and applies with it,
    without a restart."""
    agent = kube.extra_agent(slipway, app_ports.take(), org)
    try:
        agent.start()
        kh.bind_development(slipway, org, agent.name)
        reg = slipway.create_registry(org, auth_type="basic")
        comp = slipway.create_component(org, project, reg["id"], port=8080,
                                        name="rotated")
        kube.rotate_agent_token()
        dep = _deploy(slipway, comp["id"], tag="v1")
        selector = "slipway.managed=true,slipway.component=%s" % comp["id"]
        d = kh.wait_for("no Deployment with the new token", lambda: (
            kube.list("Deployment", selector=selector) or [None])[0], 90)
        _available(kube, d["metadata"]["namespace"], d["metadata"]["name"])
        _wait_status(slipway, dep, "running")
        assert "read it again" in agent.log.read_text(errors="replace")
    finally:
        rc = agent.stop()
    assert rc == 0, "agent exited with %r:\n%s" % (rc, agent.tail())
    report = agent.sanitizer_report()
    assert report is None, report
