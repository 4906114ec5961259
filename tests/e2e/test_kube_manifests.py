"""The platform's own manifests, and the overlay for a Kubernetes data
plane, against a real kube-apiserver (kube_harness.py) with the Gateway
API CRDs installed: every object they stand for applies cleanly with
server-side dry run (dryRun=All, application/apply-patch+yaml, a field
manager of its own), so schema errors, unknown fields, bad enum values and
kinds the server does not serve are caught here rather than on a cluster.

The resource lists are read at test time from deploy/k8s/kustomization.yaml
and deploy/k8s/overlays/dataplane-kubernetes/kustomization.yaml (no
kustomize binary here: kube_harness.kustomize_resources resolves
`resources` itself and refuses what it does not support), so manifests
added to them later are covered too. The Namespaces are applied for real
first: a dry-run object cannot be created in a namespace that a dry run
only pretended to make.
"""

import pytest
import yaml

import kube_harness as kh

from test_kube_runtime import RBAC

K8S = kh.REPO / "deploy" / "k8s"
OVERLAY = K8S / "overlays" / "dataplane-kubernetes"
MANAGER = "slipway-manifests"


@pytest.fixture(scope="module")
def kube():
    yield from kh.cluster_fixture(RBAC)


def _dry_run_all(kube, directory):
    docs = kh.kustomize_resources(directory)
    assert docs, "%s stands for no objects" % directory
    for _, d in docs:
        if d["kind"] == "Namespace":
            kube.apply(d, manager=MANAGER)
    failures = []
    for path, d in docs:
        where = "%s: %s %s" % (path.relative_to(kh.REPO), d["kind"],
                               d["metadata"]["name"])
        p = kh.resource_path(kube, d, "?dryRun=All&fieldManager=%s&force=true"
                             % MANAGER)
        if p is None:
            failures.append("%s: kind not served by the API server" % where)
            continue
        status, body = kube.request("PATCH", p, d,
                                    content_type="application/apply-patch+yaml")
        if status not in (200, 201):
            failures.append("%s: %s %s" % (where, status, body.get("message")
                                           if isinstance(body, dict)
                                           else body))
    assert not failures, "\n".join(failures)
    return docs


def test_platform_manifests_apply_with_dry_run(kube):
    listed = {p.name for p, _ in _dry_run_all(kube, K8S)}
    # Every file the kustomization lists stands for at least one object.
    want = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())[
        "resources"])
    assert listed == want, (sorted(listed), sorted(want))


def test_dataplane_overlay_applies_with_dry_run(kube):
    docs = _dry_run_all(kube, OVERLAY)
    by_kind = {}
    for _, d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    cm = by_kind["ConfigMap"][0]
    assert cm["data"]["SLIPWAY_RUNTIME"] == "kubernetes", cm
    dep = by_kind["Deployment"][0]
    spec = dep["spec"]["template"]["spec"]
    binding = by_kind["ClusterRoleBinding"][0]
    subject = binding["subjects"][0]
    # The agent runs as the very service account the role is bound to.
    assert spec["serviceAccountName"] == subject["name"] and \
        dep["metadata"]["namespace"] == subject["namespace"], (spec, subject)
    env = {e["name"] for e in spec["containers"][0]["env"]}
    assert "SLIPWAY_ENGINE_SOCKET" not in env and \
        "hostNetwork" not in spec, spec
