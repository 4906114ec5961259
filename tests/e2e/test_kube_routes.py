"""Routing by visibility on the agent's Kubernetes runtime, against a real
kube-apiserver with the Gateway API CRDs (standard channel, vendored under
tests/e2e/crds/) installed, the agent bound by RBAC to exactly
deploy/k8s/dataplane-agent-rbac.yaml:

  - gateway mode: a Public REST endpoint as an HTTPRoute on the public
    Gateway, Organization GraphQL and GRPC ones as an HTTPRoute and a
    GRPCRoute on the internal one (parentRefs and hostnames from the
    agent's configuration), a Project endpoint as a NetworkPolicy that
    admits only pods of the same org and project, a TCP endpoint as a
    Service of the configured type; every object accepted by the real
    server's validation (the CRDs' schemas and CEL rules) and as the
    golden files say; the addresses reported are the routes' hostnames and
    paths;
  - ingress mode: the same HTTP endpoints as networking.k8s.io/v1
    Ingresses of the configured classes, no Gateway API route.
"""

import json

import pytest

import kube_harness as kh
from slipway_harness import api

from test_kube_runtime import RBAC, _available, _deploy, _golden, \
    _wait_status


ENDPOINTS = """version: 0.1
endpoints:
- name: api
  port: 8080
  type: REST
  networkVisibility: Public
  context: /api
- name: graph
  port: 8081
  type: GraphQL
  networkVisibility: Organization
  context: /graphql
- name: admin
  port: 9090
  type: REST
  networkVisibility: Project
  context: /
- name: rpc
  port: 50051
  type: GRPC
  networkVisibility: Organization
  context: /
- name: db
  port: 5432
  type: TCP
  networkVisibility: Public
  context: /
"""


@pytest.fixture(scope="module")
def kube():
    yield from kh.cluster_fixture(RBAC)


def _plane(slipway, kube, app_ports, org, **env):
    agent = kube.extra_agent(slipway, app_ports.take(), org, **env)
    agent.start()
    kh.bind_development(slipway, org, agent.name)
    return agent


def _stop(agent):
    rc = agent.stop()
    assert rc == 0, "agent exited with %r:\n%s" % (rc, agent.tail())
    report = agent.sanitizer_report()
    assert report is None, report


def _running(slipway, kube, org, project, name):
    reg = slipway.create_registry(org, auth_type="basic")
    comp = slipway.create_component(org, project, reg["id"], name=name,
                                    endpoints=ENDPOINTS)
    cid = comp["id"]
    dep = _deploy(slipway, cid, tag="v1")
    selector = "slipway.managed=true,slipway.component=%s" % cid
    d = kh.wait_for("no Deployment", lambda: (kube.list(
        "Deployment", selector=selector) or [None])[0], 60)
    ns, dname = d["metadata"]["namespace"], d["metadata"]["name"]
    _wait_status(slipway, dep, "starting")
    _available(kube, ns, dname)
    body = _wait_status(slipway, dep, "running")
    return cid, dep, ns, dname, body


def _addresses(body):
    """name -> url of the running deployment's endpoints."""
    eps = body.get("endpoints") or body.get("addresses") or []
    return {e["name"]: e["url"] for e in eps}


def test_kube_routes_gateway(slipway, kube, app_ports, org, project):
    agent = _plane(slipway, kube, app_ports, org,
                   SLIPWAY_KUBE_PUBLIC_GATEWAY="edge/public-gw",
                   SLIPWAY_KUBE_INTERNAL_GATEWAY="edge/internal-gw",
                   SLIPWAY_KUBE_PUBLIC_HOST="apps.test.example",
                   SLIPWAY_KUBE_INTERNAL_HOST="int.test.example",
                   SLIPWAY_KUBE_L4_SERVICE_TYPE="NodePort")
    try:
        cid, dep, ns, name, body = _running(slipway, kube, org, project,
                                            "routed")
        public = kube.get("HTTPRoute", ns, name.replace("routed-",
                                                        "routed-public-"))
        internal = kube.get("HTTPRoute", ns, name.replace(
            "routed-", "routed-internal-"))
        grpc = kube.get("GRPCRoute", ns, name.replace(
            "routed-", "routed-grpc-internal-"))
        policy = kube.get("NetworkPolicy", ns, name.replace(
            "routed-", "routed-project-"))
        l4 = kube.get("Service", ns, name.replace("routed-", "routed-l4-"))
        assert None not in (public, internal, grpc, policy, l4), \
            (public, internal, grpc, policy, l4)
        assert public["spec"]["parentRefs"] == [{
            "group": "gateway.networking.k8s.io", "kind": "Gateway",
            "namespace": "edge", "name": "public-gw"}], public
        assert public["spec"]["hostnames"] == ["apps.test.example"]
        assert internal["spec"]["parentRefs"][0]["name"] == "internal-gw"
        assert [r["matches"][0]["path"]["value"] for r in
                internal["spec"]["rules"]] == [
            "/%s/%s/routed/graphql" % (org, project)], internal
        assert grpc["spec"]["hostnames"] == ["int.test.example"], grpc
        assert l4["spec"]["type"] == "NodePort", l4
        assert [p["port"] for p in l4["spec"]["ports"]] == [5432], l4
        # Nothing routes the Project endpoint from outside.
        assert "9090" not in json.dumps(public) + json.dumps(internal)
        replace = {cid: "COMPONENT_ID", dep: "DEPLOYMENT_ID", org: "ORG",
                   project: "PROJECT", agent.name: "DATAPLANE",
                   name.rsplit("-", 1)[1]: "HASH"}
        _golden("httproute", public, replace)
        _golden("networkpolicy", policy, replace)

        urls = json.dumps(body)
        for want in ("http://apps.test.example/%s/%s/routed/api" % (
                org, project),
                "http://int.test.example/%s/%s/routed/graphql" % (
                org, project),
                "grpc://int.test.example",
                "tcp://%s.%s.svc.cluster.local:5432" % (
                name.replace("routed-", "routed-l4-"), ns),
                "http://%s.%s.svc.cluster.local:9090/" % (name, ns)):
            assert want in urls, (want, body)

        status, _ = api("DELETE", slipway.url("component-svc",
                                              "/v1/components/%s" % cid))
        assert status == 204
        selector = "slipway.managed=true,slipway.component=%s" % cid
        kh.wait_for("routes not pruned", lambda: all(
            not kube.list(k, selector=selector) for k in
            ("HTTPRoute", "GRPCRoute", "NetworkPolicy", "Service")), 60)
    finally:
        _stop(agent)


def test_kube_routes_ingress(slipway, kube, app_ports, org, project):
    agent = _plane(slipway, kube, app_ports, org, SLIPWAY_KUBE_ROUTES="ingress",
                   SLIPWAY_KUBE_INGRESS_CLASS="public-nginx",
                   SLIPWAY_KUBE_INTERNAL_INGRESS_CLASS="internal-nginx",
                   SLIPWAY_KUBE_PUBLIC_HOST="apps.test.example",
                   SLIPWAY_KUBE_INTERNAL_HOST="int.test.example")
    try:
        cid, dep, ns, name, body = _running(slipway, kube, org, project,
                                            "ingressed")
        selector = "slipway.managed=true,slipway.component=%s" % cid
        assert kube.list("HTTPRoute", selector=selector) == []
        assert kube.list("GRPCRoute", selector=selector) == []
        public = kube.get("Ingress", ns, name.replace(
            "ingressed-", "ingressed-public-"))
        internal = kube.get("Ingress", ns, name.replace(
            "ingressed-", "ingressed-internal-"))
        assert public["spec"]["ingressClassName"] == "public-nginx", public
        assert internal["spec"]["ingressClassName"] == "internal-nginx"
        assert internal["spec"]["rules"][0]["host"] == "int.test.example"
        replace = {cid: "COMPONENT_ID", dep: "DEPLOYMENT_ID", org: "ORG",
                   project: "PROJECT", agent.name: "DATAPLANE",
                   name.rsplit("-", 1)[1]: "HASH"}
        _golden("ingress", public, replace)
        # No gRPC route in an Ingress: the GRPC endpoint is a Service too.
        l4 = kube.get("Service", ns, name.replace("ingressed-",
                                                  "ingressed-l4-"))
        assert sorted(p["port"] for p in l4["spec"]["ports"]) == \
            [5432, 50051], l4
        assert "http://apps.test.example/%s/%s/ingressed/api" % (
            org, project) in json.dumps(body), body
    finally:
        _stop(agent)
