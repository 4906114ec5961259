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
    leaves an object without slipway.managed=true alone;
  - configuration and secrets: a release's variable in a ConfigMap, its
    secret in a Secret, both in the Deployment's envFrom; a release with a
    changed variable gets a new ConfigMap, the older releases' retired as
    the Secrets are; one without secrets gets no Secret.
"""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

import kube_harness as kh
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
    agent = kube.extra_agent(slipway, app_ports.take(), org)
    try:
        agent.start()
        kh.bind_development(slipway, org, agent.name)
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


def _config_url(slipway, cid, what="config"):
    return slipway.url("deploy-svc", "/v1/components/%s/environments/"
                       "development/%s" % (cid, what))


def _release_objects(kube, cid, dep):
    """The ConfigMap and the variables Secret of release dep (None when it
    has none), by label: the pull Secret carries the newest release's
    label too, and is not one of them."""
    sel = "slipway.managed=true,slipway.component=%s,slipway.deployment=%s" \
        % (cid, dep)
    cms = kube.list("ConfigMap", selector=sel)
    secrets = [s for s in kube.list("Secret", selector=sel)
               if s.get("type") == "Opaque"]
    assert len(cms) <= 1 and len(secrets) <= 1, (cms, secrets)
    return (cms[0] if cms else None), (secrets[0] if secrets else None)


def _rolled(kube, ns, name, dep):
    """The Deployment once release dep's template is applied."""
    d = kube.get("Deployment", ns, name)
    return d if d and d["metadata"]["labels"].get("slipway.deployment") \
        == dep else None


def test_kube_runtime_config_and_secrets(slipway, kube, app_ports, org,
                                         project, tmp_path):
    """A release's configuration variables in a ConfigMap, its secrets in a
    Secret, both in the pod template's envFrom; each release has its own,
    retired as the Secrets are (releases older than the one replaced); a
    release without secrets gets no Secret."""
    import base64
    agent = kube.extra_agent(slipway, app_ports.take(), org)
    secret = "kube-" + base64.b32encode(os.urandom(10)).decode().lower()
    try:
        agent.start()
        kh.bind_development(slipway, org, agent.name)
        reg = slipway.create_registry(org, auth_type="basic")
        comp = slipway.create_component(org, project, reg["id"], port=8080,
                                        name="configured")
        cid = comp["id"]
        _wait("deploy-svc never learnt the component", lambda: api(
            "GET", _config_url(slipway, cid))[0] == 200)
        status, body = api("PUT", _config_url(slipway, cid),
                           {"vars": {"LOG_LEVEL": "debug"}})
        assert status == 200, body
        slipway.secrets.add(secret)
        status, body = api("PUT", _config_url(slipway, cid,
                                              "secrets/DB_PASSWORD"),
                           {"value": secret})
        assert status == 200, body
        dep1 = _deploy(slipway, cid, tag="v1")

        # --- release 1: a ConfigMap with the variable, a Secret with the secret
        cm1, sec1 = _wait("release 1 has no ConfigMap and Secret", lambda: (
            lambda o: o if o[0] and o[1] else None)(
            _release_objects(kube, cid, dep1)), 60)
        ns = cm1["metadata"]["namespace"]
        assert cm1["data"] == {"LOG_LEVEL": "debug"}, cm1
        assert sorted(sec1["data"]) == ["DB_PASSWORD"], sorted(sec1["data"])
        assert base64.b64decode(sec1["data"]["DB_PASSWORD"]).decode() == \
            secret
        assert "-cfg-%s-" % dep1[:8] in cm1["metadata"]["name"], cm1
        assert "-env-%s-" % dep1[:8] in sec1["metadata"]["name"], sec1
        d = _wait("no Deployment for release 1", lambda: kube.list(
            "Deployment", selector="slipway.component=%s" % cid), 30)[0]
        name = d["metadata"]["name"]
        c = d["spec"]["template"]["spec"]["containers"][0]
        assert c["envFrom"] == [
            {"configMapRef": {"name": cm1["metadata"]["name"]}},
            {"secretRef": {"name": sec1["metadata"]["name"]}}], c["envFrom"]
        replace = {cid: "COMPONENT_ID", dep1: "DEPLOYMENT_ID", org: "ORG",
                   agent.name: "DATAPLANE",
                   cm1["metadata"]["name"]: "CONFIGMAP",
                   sec1["metadata"]["name"]: "ENV_SECRET"}
        # As read (a list's items lack kind and apiVersion).
        _golden("configmap", kube.get("ConfigMap", ns, cm1["metadata"][
            "name"]), replace)
        _golden("env-secret", kube.get("Secret", ns, sec1["metadata"][
            "name"]), replace)
        _available(kube, ns, name)
        _wait_status(slipway, dep1, "running")

        # --- release 2, a variable changed: a new ConfigMap, release 1's stays
        status, body = api("PUT", _config_url(slipway, cid),
                           {"vars": {"LOG_LEVEL": "info"}})
        assert status == 200, body
        dep2 = _deploy(slipway, cid, tag="v1")
        cm2, sec2 = _wait("release 2 has no ConfigMap and Secret", lambda: (
            lambda o: o if o[0] and o[1] else None)(
            _release_objects(kube, cid, dep2)), 60)
        assert cm2["data"] == {"LOG_LEVEL": "info"}, cm2
        assert cm2["metadata"]["name"] != cm1["metadata"]["name"]
        _wait("release 2 was never applied", lambda: _rolled(kube, ns, name,
                                                             dep2), 30)
        _available(kube, ns, name)
        _wait_status(slipway, dep2, "running")
        # The replaced release's objects stay while its pods may restart.
        assert all(_release_objects(kube, cid, dep1)), \
            "release 1's objects went"

        # --- release 3, no secret left: no Secret; release 1's retired ------
        status, body = api("DELETE", _config_url(slipway, cid,
                                                 "secrets/DB_PASSWORD"))
        assert status in (200, 204), (status, body)
        status, body = api("PUT", _config_url(slipway, cid),
                           {"vars": {"LOG_LEVEL": "warn"}})
        assert status == 200, body
        dep3 = _deploy(slipway, cid, tag="v1")
        d3 = _wait("release 3 was never applied", lambda: _rolled(
            kube, ns, name, dep3), 60)
        cm3, sec3 = _release_objects(kube, cid, dep3)
        assert cm3 is not None and cm3["data"] == {"LOG_LEVEL": "warn"}, cm3
        assert sec3 is None, sec3
        assert d3["spec"]["template"]["spec"]["containers"][0]["envFrom"] == \
            [{"configMapRef": {"name": cm3["metadata"]["name"]}}]
        _available(kube, ns, name)
        _wait_status(slipway, dep3, "running")
        _wait("release 1's ConfigMap and Secret were not retired", lambda:
              _release_objects(kube, cid, dep1) == (None, None), 30)
        cm2_now, sec2_now = _release_objects(kube, cid, dep2)
        assert cm2_now is not None and sec2_now is not None, \
            "the replaced release's objects were retired"

        # --- render: the ConfigMap is among the objects, and valid ---------
        out = tmp_path / "render"
        r = subprocess.run([str(slipway.bin / "dataplane-agent"), "render",
                            "--out", str(out), "--pull-secrets", cid],
                           env=agent.env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        assert r.returncode == 0, r.stderr.decode(errors="replace")
        docs = [d for f in sorted(out.glob("*.yaml"))
                for d in yaml.safe_load_all(f.read_text())]
        cms = [d for d in docs if d["kind"] == "ConfigMap"]
        assert len(cms) == 1 and cms[0]["data"] == {"LOG_LEVEL": "warn"}, cms
        assert not [d for d in docs if d["kind"] == "Secret"], docs
        status, body = kube.dry_run_apply(cms[0])
        assert status == 200, body

        # --- removed: the ConfigMaps go with everything else ----------------
        status, body = api("DELETE", slipway.url(
            "component-svc", "/v1/components/%s" % cid))
        assert status == 204, (status, body)
        _wait("the component's ConfigMaps were not pruned", lambda: not
              kube.list("ConfigMap", selector="slipway.managed=true,"
                        "slipway.component=%s" % cid), 60)
    finally:
        rc = agent.stop()
    assert rc == 0, "agent exited with %r:\n%s" % (rc, agent.tail())
    report = agent.sanitizer_report()
    assert report is None, report
