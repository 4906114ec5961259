"""The agent's Kubernetes runtime (SLIPWAY_RUNTIME=kubernetes) against a real
kube-apiserver (kube_harness.py): an agent of a data plane of its own, whose
token is bound by RBAC to exactly deploy/k8s/dataplane-agent-rbac.yaml,
serves one org's development environment.

No controller runs, so the test plays the Deployment controller: it patches
the Deployment's status through the status subresource and creates the
first release's ReplicaSet itself.

  - apply: the namespace, the pull Secret, the Deployment and the Service
    exist as in tests/e2e/golden/ (server-set fields and ids normalised),
    accepted by the real server's validation;
  - status available for the applied generation -> running, with the
    address of its HTTPRoute (hostname and path), seen by the agent's watch after the API
    server was restarted under it;
  - a second release whose Deployment reports ProgressDeadlineExceeded ->
    failed with that reason; the first release's ReplicaSet is untouched
    and the first deployment still serves;
  - `dataplane-agent render` writes the objects it applied as YAML: each,
    server-side applied with dryRun=All, is the golden file's;
  - removing the component prunes every object labelled with it, and
    leaves an object without slipway.managed=true alone.
"""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

import kube_harness as kh
import slipway_harness as sh
from slipway_harness import api

GOLDEN = Path(__file__).resolve().parent / "golden"
RBAC = kh.REPO / "deploy" / "k8s" / "dataplane-agent-rbac.yaml"


@pytest.fixture(scope="module")
def kube():
    yield from kh.cluster_fixture(RBAC)


def _wait(what, fn, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def _deploy(slipway, comp_id, **option):
    option["environment"] = "development"
    status, resp = api("POST", slipway.url(
        "deploy-svc", "/v1/components/%s/deployments" % comp_id), option)
    assert status == 202, (status, resp)
    return resp["id"]


def _wait_status(slipway, dep_id, want, timeout=30):
    def seen():
        status, body = slipway.get_deployment(dep_id)
        return body if status == 200 and body.get("status") == want else None
    return _wait("deployment %s never %s" % (dep_id, want), seen, timeout)


def _golden(name, obj, replace):
    """obj, normalised, equals golden/<name>.json (written when
    SLIPWAY_UPDATE_GOLDEN=1)."""
    got = kh.normalise(obj, replace)
    path = GOLDEN / ("kube-%s.json" % name)
    if os.environ.get("SLIPWAY_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
    want = json.loads(path.read_text())
    assert got == want, "%s differs from %s:\n%s" % (
        name, path, json.dumps(got, indent=2, sort_keys=True))


def _available(kube, ns, name):
    """Plays the controller: the Deployment's current generation is rolled
    out and available."""
    d = kube.get("Deployment", ns, name)
    gen = d["metadata"]["generation"]
    kube.patch_status("Deployment", ns, name, {
        "observedGeneration": gen, "replicas": 1, "updatedReplicas": 1,
        "readyReplicas": 1, "availableReplicas": 1,
        "conditions": [
            {"type": "Available", "status": "True",
             "reason": "MinimumReplicasAvailable",
             "message": "Deployment has minimum availability."},
            {"type": "Progressing", "status": "True",
             "reason": "NewReplicaSetAvailable",
             "message": "ReplicaSet has successfully progressed."}]})
    return d


def _first_replicaset(kube, dep):
    """The first release's ReplicaSet, as the controller would make it."""
    md = dep["metadata"]
    tmpl = dep["spec"]["template"]
    return kube.create({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": md["name"] + "-rev1", "namespace": md["namespace"],
                     "labels": tmpl["metadata"]["labels"],
                     "annotations": {"deployment.kubernetes.io/revision": "1"},
                     "ownerReferences": [{
                         "apiVersion": "apps/v1", "kind": "Deployment",
                         "name": md["name"], "uid": md["uid"],
                         "controller": True}]},
        "spec": {"replicas": 1, "selector": dep["spec"]["selector"],
                 "template": tmpl}})


def _render_matches_golden(slipway, kube, agent, cid, replace, out):
    """`dataplane-agent render` with the agent's own configuration writes
    the objects it applied: each, server-side applied with dryRun=All as
    the agent's field manager, is the golden file's (so nothing is missing
    from or added to what the agent applies)."""
    r = subprocess.run([str(slipway.bin / "dataplane-agent"), "render",
                        "--out", str(out), "--pull-secrets", cid],
                       env=agent.env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    docs = {}
    for f in sorted(out.glob("*.yaml")):
        text = f.read_text()
        assert text.startswith("---\n"), f
        for d in yaml.safe_load_all(text):
            docs[d["kind"]] = d
    assert sorted(docs) == ["Deployment", "HTTPRoute", "Namespace",
                            "Service"], sorted(docs)
    for kind, golden in (("Deployment", "deployment"), ("Service", "service"),
                         ("Namespace", "namespace")):
        status, body = kube.dry_run_apply(docs[kind])
        assert status == 200, (kind, status, body)
        _golden(golden, body, replace)
    status, body = kube.dry_run_apply(docs["HTTPRoute"])
    assert status == 200, body


def test_kube_runtime_apply_status_prune(slipway, kube, app_ports, org,
                                         project, tmp_path):
    # No engine socket: a Kubernetes data plane has no container engine.
    agent = slipway.extra_agent(app_ports.take(), orgs=[org],
                                drop=("SLIPWAY_ENGINE_SOCKET",),
                                **kube.agent_env())
    try:
        agent.start()
        status, body = api("POST", slipway.url(
            "deploy-svc", "/v1/orgs/%s/environments" % org),
            {"name": "development", "dataplane": agent.name, "position": 0})
        assert status == 201, body
        reg = slipway.create_registry(org, auth_type="basic")
        comp = slipway.create_component(org, project, reg["id"], port=8080,
                                        name="greeter")
        cid = comp["id"]
        selector = "slipway.managed=true,slipway.component=%s" % cid
        dep1 = _deploy(slipway, cid, tag="v1")

        # --- apply: the objects, as the golden files say ---------------------
        def deployment():
            items = kube.list("Deployment", selector=selector)
            return items[0] if items else None
        d = _wait("no Deployment for the component", deployment, 60)
        ns, name = d["metadata"]["namespace"], d["metadata"]["name"]
        assert ns == "slipway-%s-development" % org, ns
        assert name.startswith("greeter-"), name
        c = d["spec"]["template"]["spec"]["containers"][0]
        assert "@sha256:" in c["image"], c["image"]
        digest = c["image"].split("@", 1)[1]
        replace = {cid: "COMPONENT_ID", dep1: "DEPLOYMENT_ID", org: "ORG",
                   project: "PROJECT",
                   agent.name: "DATAPLANE", digest: "DIGEST",
                   slipway.env["SLIPWAY_REGISTRY_HOST"]: "REGISTRY",
                   name: "NAME", name.replace("greeter-", "greeter-pull-"):
                   "PULL_SECRET"}
        _golden("deployment", kube.get("Deployment", ns, name), replace)
        # The agent applies the Service right after the Deployment.
        _golden("service", _wait("no Service for the component",
                lambda: kube.get("Service", ns, name), 30), replace)
        _golden("namespace", kube.get("Namespace", None, ns), replace)
        pull = kube.get("Secret", ns, name.replace("greeter-", "greeter-pull-"))
        assert pull is not None and \
            pull["type"] == "kubernetes.io/dockerconfigjson", pull
        cfg = json.loads(__import__("base64").b64decode(
            pull["data"][".dockerconfigjson"]))
        auth = cfg["auths"][slipway.env["SLIPWAY_REGISTRY_HOST"]]
        assert auth["username"] == slipway.env["SLIPWAY_REGISTRY_USER"], cfg
        _golden("pull-secret", pull, replace)

        # --- available -> running, the watch surviving a restart -------------
        _wait_status(slipway, dep1, "starting")
        # The agent watches the Deployment: the API server goes away and
        # comes back, and the watch resumes from its resourceVersion.
        _wait("the agent never watched its Deployment", lambda:
              "watching deployment %s/%s" % (ns, name) in
              agent.log.read_text(errors="replace"), 60)
        time.sleep(0.5)
        kube.restart_apiserver()
        d = _available(kube, ns, name)
        body = _wait_status(slipway, dep1, "running")
        # A Public endpoint: its HTTPRoute's hostname and path (the
        # agent's default public hostname and Gateway).
        urls = json.dumps(body)
        assert "http://apps.slipway.example/%s/%s/greeter/" % (org, project) \
            in urls, body
        route = kube.get("HTTPRoute", ns, name.replace("greeter-",
                                                       "greeter-public-"))
        assert route is not None and route["spec"]["parentRefs"][0][
            "name"] == "slipway-public", route
        log = agent.log.read_text(errors="replace")
        assert "resuming from resourceVersion" in log or \
            "listing again" in log, \
            "the agent's watch did not see the API server go away"
        _render_matches_golden(slipway, kube, agent, cid, replace,
                               tmp_path / "render")
        rs = _first_replicaset(kube, kube.get("Deployment", ns, name))

        # --- a release that never progresses -> failed -----------------------
        image2 = slipway.push_variant("kube-v2", "exec httpd -f -p 0.0.0.0:$PORT")
        dep2 = _deploy(slipway, cid, tag=image2.rsplit(":", 1)[1])

        def second_generation():
            d2 = kube.get("Deployment", ns, name)
            return d2 if d2["metadata"]["generation"] > \
                d["metadata"]["generation"] else None
        d2 = _wait("the second release was never applied", second_generation,
                   60)
        assert d2["metadata"]["labels"]["slipway.deployment"] == dep2
        kube.patch_status("Deployment", ns, name, {
            "observedGeneration": d2["metadata"]["generation"],
            "replicas": 2, "updatedReplicas": 1, "readyReplicas": 1,
            "availableReplicas": 1, "unavailableReplicas": 1,
            "conditions": [
                {"type": "Available", "status": "True",
                 "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability."},
                {"type": "Progressing", "status": "False",
                 "reason": "ProgressDeadlineExceeded",
                 "message": 'ReplicaSet "%s-rev2" has timed out progressing.'
                            % name}]})
        body = _wait_status(slipway, dep2, "failed")
        assert "ProgressDeadlineExceeded" in body.get("reason", ""), body
        status, body = slipway.get_deployment(dep1)
        assert status == 200 and body["status"] == "running", body
        rs_now = kube.get("ReplicaSet", ns, rs["metadata"]["name"])
        assert rs_now is not None and rs_now["metadata"]["resourceVersion"] \
            == rs["metadata"]["resourceVersion"], rs_now

        # --- removed -> every labelled object pruned -------------------------
        # Objects without Slipway's labels are never touched, even with the
        # component's name in theirs.
        foreign = kube.create({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name + "-theirs", "namespace": ns,
                         "labels": {"slipway.component": cid}},
            "data": {"k": "dg=="}})
        status, body = api("DELETE", slipway.url(
            "component-svc", "/v1/components/%s" % cid))
        assert status == 204, (status, body)

        def pruned():
            return all(not kube.list(k, selector=selector)
                       for k in ("Deployment", "Service", "Secret",
                                 "HTTPRoute"))
        _wait("the component's objects were not pruned", pruned, 60)
        kept = kube.get("Secret", ns, name + "-theirs")
        assert kept is not None and kept["metadata"]["resourceVersion"] == \
            foreign["metadata"]["resourceVersion"], kept
        # The namespace is the org's environment's, not the component's.
        assert kube.get("Namespace", None, ns) is not None
    finally:
        rc = agent.stop()
    assert rc == 0, "agent exited with %r:\n%s" % (rc, agent.tail())
    report = agent.sanitizer_report()
    assert report is None, report
