"""Reconcile from a list at start on the agent's Kubernetes runtime,
against a real kube-apiserver (kube_harness.py), the agent bound by RBAC to
exactly deploy/k8s/dataplane-agent-rbac.yaml.

While the agent is down, objects appear that carry its data plane's labels
for a component its records do not serve (left by a removal it never saw,
or a lost state directory): the agent's start deletes them. The component
it serves keeps its objects, and objects without slipway.managed=true (or
of another data plane) are never touched, whatever else they are labelled.
"""

import pytest

import kube_harness as kh

from test_kube_runtime import RBAC, _available, _deploy, _wait_status


@pytest.fixture(scope="module")
def kube():
    yield from kh.cluster_fixture(RBAC)


def _secret(kube, ns, name, labels):
    return kube.create({"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": name, "namespace": ns,
                                     "labels": labels},
                        "data": {"k": "dg=="}})


def test_kube_start_prunes_only_its_unserved_objects(slipway, kube, app_ports,
                                                      org, project):
    agent = kube.extra_agent(slipway, app_ports.take(), org)
    try:
        agent.start()
        kh.bind_development(slipway, org, agent.name)
        reg = slipway.create_registry(org, auth_type="basic")
        comp = slipway.create_component(org, project, reg["id"], port=8080,
                                        name="kept")
        cid = comp["id"]
        dep = _deploy(slipway, cid, tag="v1")
        selector = "slipway.managed=true,slipway.component=%s" % cid
        d = kh.wait_for("no Deployment", lambda: (kube.list(
            "Deployment", selector=selector) or [None])[0], 60)
        ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
        _available(kube, ns, name)
        _wait_status(slipway, dep, "running")
        agent.stop()

        # While it is down: a component it does not serve, as labelled
        # objects of its data plane; and objects it must leave alone.
        gone = {"slipway.managed": "true", "slipway.component": "gone-comp",
                "slipway.environment": "development",
                "slipway.dataplane": agent.name,
                "slipway.deployment": "gone-dep"}
        stale_svc = kube.create({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "gone-comp", "namespace": ns,
                         "labels": gone},
            "spec": {"ports": [{"port": 80}],
                     "selector": {"slipway.component": "gone-comp"}}})
        _secret(kube, ns, "gone-comp-env", gone)
        kube.create({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": "gone-comp-cfg", "namespace": ns,
                                  "labels": gone},
                     "data": {"K": "v"}})
        unmanaged = _secret(kube, ns, "gone-comp-theirs", dict(
            gone, **{"slipway.managed": "false"}))
        other_plane = _secret(kube, ns, "gone-comp-other", dict(
            gone, **{"slipway.dataplane": "another-plane"}))
        assert stale_svc is not None

        agent.start()
        kh.wait_for("the unserved component's objects were not pruned",
                    lambda: kube.get("Service", ns, "gone-comp") is None and
                    kube.get("Secret", ns, "gone-comp-env") is None and
                    kube.get("ConfigMap", ns, "gone-comp-cfg") is None, 60)
        for kept in (unmanaged, other_plane):
            now = kube.get("Secret", ns, kept["metadata"]["name"])
            assert now is not None and now["metadata"]["resourceVersion"] == \
                kept["metadata"]["resourceVersion"], now
        # What it serves is untouched.
        assert kube.get("Deployment", ns, name)["metadata"]["uid"] == \
            d["metadata"]["uid"]
        assert kube.get("Service", ns, name) is not None
        status, body = slipway.get_deployment(dep)
        assert status == 200 and body["status"] == "running", body
    finally:
        rc = agent.stop()
    assert rc == 0, "agent exited with %r:\n%s" % (rc, agent.tail())
    report = agent.sanitizer_report()
    assert report is None, report
