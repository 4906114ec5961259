"""A real Kubernetes API server for the black-box tests: Debian's etcd and a
kube-apiserver built once from the Go module proxy (scripts/kube-apiserver.sh,
cached under ~/.cache/slipway), on 127.0.0.1 private ports, with a token
file, RBAC and self-signed certificates in a temporary directory.

No kubelet, scheduler or controller manager runs: the tests play their part
by patching status subresources, as envtest-based controller tests do.

Ports: API server 26443, etcd 22379 (peer 22380), each moved by
SLIPWAY_E2E_PORT_OFFSET like the stack's, or set with SLIPWAY_E2E_PORT_KUBE /
SLIPWAY_E2E_PORT_ETCD. Python standard library plus python3-yaml (Debian).
"""

import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]

DEFAULT_PORTS = {"kube": 26443, "etcd": 22379}

# The API paths of the kinds the tests apply or read (group/version, plural,
# namespaced).
KINDS = {
    "Namespace": ("v1", "namespaces", False),
    "Secret": ("v1", "secrets", True),
    "Service": ("v1", "services", True),
    "ServiceAccount": ("v1", "serviceaccounts", True),
    "Deployment": ("apps/v1", "deployments", True),
    "ReplicaSet": ("apps/v1", "replicasets", True),
    "CronJob": ("batch/v1", "cronjobs", True),
    "Job": ("batch/v1", "jobs", True),
    "Pod": ("v1", "pods", True),
    "ConfigMap": ("v1", "configmaps", True),
    "CustomResourceDefinition": ("apiextensions.k8s.io/v1",
                                 "customresourcedefinitions", False),
    "GatewayClass": ("gateway.networking.k8s.io/v1", "gatewayclasses", False),
    "Gateway": ("gateway.networking.k8s.io/v1", "gateways", True),
    "HTTPRoute": ("gateway.networking.k8s.io/v1", "httproutes", True),
    "GRPCRoute": ("gateway.networking.k8s.io/v1", "grpcroutes", True),
    "ReferenceGrant": ("gateway.networking.k8s.io/v1beta1",
                       "referencegrants", True),
    "Ingress": ("networking.k8s.io/v1", "ingresses", True),
    "NetworkPolicy": ("networking.k8s.io/v1", "networkpolicies", True),
    "ClusterRole": ("rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io/v1",
                           "clusterrolebindings", False),
    "Role": ("rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("rbac.authorization.k8s.io/v1", "rolebindings", True),
}

# The user the agent's token authenticates as: the subject of the binding in
# deploy/k8s/dataplane-agent-rbac.yaml (a service account in a cluster).
AGENT_USER = "system:serviceaccount:slipway-system:slipway-dataplane-agent"


class KubeError(Exception):
    pass


def ports_from_env():
    offset = int(os.environ.get("SLIPWAY_E2E_PORT_OFFSET", "0"))
    return {name: int(os.environ.get("SLIPWAY_E2E_PORT_" + name.upper(),
                                     port + offset))
            for name, port in DEFAULT_PORTS.items()}


def kube_apiserver_binary():
    """The cached kube-apiserver, built on first use (a few minutes)."""
    r = subprocess.run(["sh", str(REPO / "scripts" / "kube-apiserver.sh")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=3000)
    if r.returncode != 0:
        raise KubeError("scripts/kube-apiserver.sh failed:\n" +
                        r.stderr.decode(errors="replace")[-3000:])
    return r.stdout.decode().strip().splitlines()[-1]


def path_of(obj_or_kind, namespace=None, name=None, sub=None):
    """The API path of an object (a dict) or of kind/namespace/name."""
    if isinstance(obj_or_kind, dict):
        md = obj_or_kind.get("metadata", {})
        kind, namespace, name = (obj_or_kind["kind"], md.get("namespace"),
                                 md.get("name"))
    else:
        kind = obj_or_kind
    gv, plural, namespaced = KINDS[kind]
    p = ("/apis/" if "/" in gv else "/api/") + gv
    if namespaced and namespace:
        p += "/namespaces/" + namespace
    p += "/" + plural
    if name:
        p += "/" + name
    if sub:
        p += "/" + sub
    return p


def _openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    if r.returncode != 0:
        raise KubeError("openssl %s: %s" % (args[0],
                                            r.stderr.decode(errors="replace")))


def make_certs(d):
    """A CA, a serving certificate for 127.0.0.1 signed by it, and the
    service-account signing key pair."""
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-subj", "/CN=slipway-test-ca", "-keyout", "ca.key",
             "-out", "ca.crt", cwd=d)
    Path(d, "san.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "extendedKeyUsage=serverAuth\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj",
             "/CN=kube-apiserver", "-keyout", "server.key", "-out",
             "server.csr", cwd=d)
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey",
             "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.ext",
             "-out", "server.crt", cwd=d)
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=d)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=d)


class KubeCluster:
    """etcd + kube-apiserver, started by start() and ended by stop()."""

    def __init__(self, ports=None, log=None):
        self.ports = ports or ports_from_env()
        self.dir = Path(tempfile.mkdtemp(prefix="slipway-kube-"))
        self.procs = {}
        self.admin_token = os.urandom(16).hex()
        self.agent_token = os.urandom(16).hex()
        self.ca_file = str(self.dir / "ca.crt")
        self.server = "https://127.0.0.1:%d" % self.ports["kube"]
        self.log = log or (lambda m: None)
        self._ssl = None

    # --- processes ---------------------------------------------------------

    def _spawn(self, name, argv):
        logf = open(self.dir / (name + ".log"), "ab")
        try:
            self.procs[name] = subprocess.Popen(
                argv, stdout=logf, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=self.dir,
                start_new_session=True)
        finally:
            logf.close()

    def log_tail(self, name, lines=30):
        try:
            text = (self.dir / (name + ".log")).read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def start(self, timeout=90):
        binary = kube_apiserver_binary()
        etcd = shutil.which("etcd") or "/usr/bin/etcd"
        make_certs(self.dir)
        Path(self.dir, "tokens.csv").write_text(
            '%s,slipway-test-admin,uid-admin,"system:masters"\n'
            '%s,%s,uid-agent\n' % (self.admin_token, self.agent_token,
                                   AGENT_USER))
        os.chmod(self.dir / "tokens.csv", 0o600)
        ep, pp = self.ports["etcd"], self.ports["etcd"] + 1
        self._spawn("etcd", [
            etcd, "--name", "default", "--data-dir", str(self.dir / "etcd"),
            "--listen-client-urls", "http://127.0.0.1:%d" % ep,
            "--advertise-client-urls", "http://127.0.0.1:%d" % ep,
            "--listen-peer-urls", "http://127.0.0.1:%d" % pp,
            "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % pp,
            "--initial-cluster", "default=http://127.0.0.1:%d" % pp,
            "--log-level", "warn"])
        self._apiserver_argv = [
            binary, "--etcd-servers", "http://127.0.0.1:%d" % ep,
            "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
            "--secure-port", str(self.ports["kube"]),
            "--tls-cert-file", str(self.dir / "server.crt"),
            "--tls-private-key-file", str(self.dir / "server.key"),
            "--cert-dir", str(self.dir / "certs"),
            "--token-auth-file", str(self.dir / "tokens.csv"),
            "--authorization-mode", "RBAC",
            "--service-account-issuer", "https://kubernetes.default.svc",
            "--service-account-key-file", str(self.dir / "sa.pub"),
            "--service-account-signing-key-file", str(self.dir / "sa.key"),
            "--service-cluster-ip-range", "10.96.0.0/24",
            "--endpoint-reconciler-type", "none",
            "--enable-priority-and-fairness=false",
            "--v", "1"]
        self._spawn("kube-apiserver", self._apiserver_argv)
        self.wait_ready(timeout)

    def rotate_agent_token(self, timeout=90):
        """Replaces the agent's token as a kubelet rotates a projected one:
        the new token is written beside the file and renamed over it, the
        old one is revoked (tokens.csv rewritten, the API server
        restarted). Returns the new token."""
        new = os.urandom(16).hex()
        Path(self.dir, "tokens.csv").write_text(
            '%s,slipway-test-admin,uid-admin,"system:masters"\n'
            '%s,%s,uid-agent\n' % (self.admin_token, new, AGENT_USER))
        token_file = self.dir / "agent.token"
        tmp = self.dir / "agent.token.new"
        tmp.write_text(new + "\n")
        os.chmod(tmp, 0o600)
        os.rename(tmp, token_file)
        self.agent_token = new
        self.restart_apiserver(timeout)
        return new

    def restart_apiserver(self, timeout=90):
        """Kills the API server (every watch breaks at once, as in a crash)
        and starts it again on the same etcd: the objects and their
        resourceVersions survive."""
        p = self.procs.pop("kube-apiserver")
        p.kill()
        p.wait(timeout=10)
        self._spawn("kube-apiserver", self._apiserver_argv)
        self.wait_ready(timeout)

    def wait_ready(self, timeout=90):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise KubeError("%s exited with %d:\n%s" % (
                        name, p.returncode, self.log_tail(name)))
            try:
                status, body = self.request("GET", "/readyz")
                last = (status, body)
                if status == 200:
                    self.log("kube: API server ready on %s" % self.server)
                    return
            except (OSError, urllib.error.URLError) as e:
                last = e
            time.sleep(0.3)
        raise KubeError("kube-apiserver not ready: %r\n%s" % (
            last, self.log_tail("kube-apiserver")))

    def _stop_one(self, name):
        p = self.procs.pop(name, None)
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)

    def stop(self):
        for name in ("kube-apiserver", "etcd"):
            self._stop_one(name)
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- the API -----------------------------------------------------------

    def request(self, method, path, body=None, token=None,
                content_type="application/json", timeout=15):
        """(status, parsed JSON or text). body: a dict (JSON) or str."""
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=self.ca_file)
        data = None
        if body is not None:
            data = (body if isinstance(body, str) else
                    json.dumps(body)).encode()
        req = urllib.request.Request(self.server + path, data=data,
                                     method=method)
        req.add_header("Authorization", "Bearer " + (token or
                                                     self.admin_token))
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=timeout,
                                        context=self._ssl) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def apply(self, obj, manager="slipway-tests", token=None):
        """Server-side apply of one object (a dict); returns it as stored."""
        status, body = self.request(
            "PATCH", path_of(obj) + "?fieldManager=%s&force=true" % manager,
            obj, token=token, content_type="application/apply-patch+yaml")
        if status not in (200, 201):
            raise KubeError("apply %s %s: %s %r" % (
                obj["kind"], obj["metadata"]["name"], status, body))
        return body

    def dry_run_apply(self, obj, manager="slipway", token=None):
        """Server-side apply with dryRun=All: the object as the server would
        store it (validated, defaulted), nothing changed. (status, body)."""
        return self.request(
            "PATCH", path_of(obj) + "?dryRun=All&fieldManager=%s&force=true"
            % manager, obj, token=token,
            content_type="application/apply-patch+yaml")

    def apply_file(self, path):
        """Applies every document of a YAML file; returns them."""
        docs = [d for d in yaml.safe_load_all(Path(path).read_text()) if d]
        return [self.apply(d) for d in docs]

    def get(self, kind, namespace, name):
        """The object, or None when absent."""
        status, body = self.request("GET", path_of(kind, namespace, name))
        if status == 404:
            return None
        if status != 200:
            raise KubeError("get %s %s/%s: %s %r" % (kind, namespace, name,
                                                     status, body))
        return body

    def list(self, kind, namespace=None, selector=None):
        p = path_of(kind, namespace)
        if selector:
            p += "?labelSelector=" + urllib.parse.quote(selector)
        status, body = self.request("GET", p)
        if status != 200:
            raise KubeError("list %s: %s %r" % (kind, status, body))
        return body["items"]

    def create(self, obj):
        status, body = self.request("POST", path_of(
            obj["kind"], obj["metadata"].get("namespace")), obj)
        if status != 201:
            raise KubeError("create %s: %s %r" % (obj["kind"], status, body))
        return body

    def patch_status(self, kind, namespace, name, status_obj):
        """Plays the controller: merges status_obj into the status."""
        status, body = self.request(
            "PATCH", path_of(kind, namespace, name, "status"),
            {"status": status_obj},
            content_type="application/merge-patch+json")
        if status != 200:
            raise KubeError("patch status %s %s/%s: %s %r" % (
                kind, namespace, name, status, body))
        return body

    def agent_env(self):
        """What an agent needs to reach this server as the agent's user."""
        token_file = self.dir / "agent.token"
        token_file.write_text(self.agent_token + "\n")
        os.chmod(token_file, 0o600)
        return {"SLIPWAY_RUNTIME": "kubernetes",
                "SLIPWAY_KUBE_SERVER": self.server,
                "SLIPWAY_KUBE_TOKEN_FILE": str(token_file),
                "SLIPWAY_KUBE_CA_FILE": self.ca_file}

    def extra_agent(self, slipway, port, org, **env):
        """An agent (not started) of a data plane on this cluster serving
        org: the Kubernetes runtime, no engine socket."""
        return slipway.extra_agent(port, orgs=[org],
                                   drop=("SLIPWAY_ENGINE_SOCKET",),
                                   **self.agent_env(), **env)


def bind_development(slipway, org, dataplane):
    """Puts org's development environment on dataplane."""
    import slipway_harness as sh
    status, body = sh.api("POST", slipway.url(
        "deploy-svc", "/v1/orgs/%s/environments" % org),
        {"name": "development", "dataplane": dataplane, "position": 0})
    assert status == 201, body


# Fields the server sets, removed before objects are compared with golden
# files.
SERVER_FIELDS_METADATA = ("uid", "resourceVersion", "generation",
                          "creationTimestamp", "managedFields",
                          "deletionGracePeriodSeconds")


def normalise(obj, replace=None):
    """A copy of obj without server-set fields (status, metadata noise,
    cluster IPs) and with the values in replace ({value: placeholder})
    replaced wherever they occur in strings: ids differ between runs."""
    o = json.loads(json.dumps(obj))
    o.pop("status", None)
    md = o.get("metadata", {})
    for k in SERVER_FIELDS_METADATA:
        md.pop(k, None)
    ann = md.get("annotations", {})
    ann.pop("deployment.kubernetes.io/revision", None)
    if not ann:
        md.pop("annotations", None)
    if o.get("kind") == "Secret":
        # Credentials: the keys are compared, never the values.
        o["data"] = {k: "<redacted>" for k in o.get("data", {})}
    spec = o.get("spec", {})
    if o.get("kind") == "Job":
        # The API server's defaults: a selector and pod labels naming the
        # Job's uid, which differs between runs.
        spec.pop("selector", None)
        labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
        for k in ("controller-uid", "batch.kubernetes.io/controller-uid",
                  "job-name", "batch.kubernetes.io/job-name"):
            labels.pop(k, None)
    if o.get("kind") == "Service":
        for k in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy",
                  "internalTrafficPolicy", "sessionAffinity"):
            spec.pop(k, None)
    text = json.dumps(o, sort_keys=True)
    for value, placeholder in sorted((replace or {}).items(),
                                     key=lambda kv: -len(kv[0])):
        text = text.replace(value, placeholder)
    return json.loads(text)


CRDS = REPO / "tests" / "e2e" / "crds" / "gateway-api-v1.2.1"


def install_gateway_api(kube, timeout=60):
    """The vendored Gateway API CRDs (standard channel), applied and
    established, so routes are checked by their schemas."""
    names = []
    for f in sorted(CRDS.glob("*.yaml")):
        names += [d["metadata"]["name"] for d in kube.apply_file(f)]
    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            crd = kube.get("CustomResourceDefinition", None, name)
            conds = {c["type"]: c["status"] for c in
                     (crd or {}).get("status", {}).get("conditions", [])}
            if conds.get("Established") == "True":
                break
            if time.monotonic() > deadline:
                raise KubeError("CRD %s not established: %r" % (name, conds))
            time.sleep(0.2)
    # Discovery of the new group can lag the CRDs' status a little.
    while kube.request("GET", "/apis/gateway.networking.k8s.io/v1")[0] != 200:
        if time.monotonic() > deadline:
            raise KubeError("gateway.networking.k8s.io/v1 not served")
        time.sleep(0.2)


def cluster_fixture(rbac):
    """A generator for a module-scoped pytest fixture: a started cluster
    with the Gateway API CRDs and the agent's RBAC (the file rbac)
    applied, stopped afterwards."""
    c = KubeCluster(log=lambda m: print(m, flush=True))
    try:
        c.start()
        install_gateway_api(c)
        c.apply_file(rbac)
    except Exception:
        tail = c.log_tail("kube-apiserver")
        c.stop()
        raise AssertionError("kube-apiserver did not start:\n" + tail)
    yield c
    c.stop()


def wait_for(what, fn, timeout=30):
    """fn()'s first truthy value, polled until timeout (then an assertion
    naming what)."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def utc_stamp(t=None):
    """RFC 3339 in UTC, as the API server writes times."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def job_succeeded(kube, ns, name):
    """Plays the Job controller: its one pod succeeded."""
    now = utc_stamp()
    return kube.patch_status("Job", ns, name, {
        "startTime": now, "completionTime": now, "succeeded": 1, "active": 0,
        "ready": 0, "terminating": 0,
        "uncountedTerminatedPods": {},
        "conditions": [
            {"type": "SuccessCriteriaMet", "status": "True",
             "reason": "CompletionsReached",
             "message": "Reached expected number of succeeded pods",
             "lastProbeTime": now, "lastTransitionTime": now},
            {"type": "Complete", "status": "True",
             "reason": "CompletionsReached",
             "message": "Reached expected number of succeeded pods",
             "lastProbeTime": now, "lastTransitionTime": now}]})


def job_failed(kube, ns, name, exit_code, reason="BackoffLimitExceeded",
               message="Job has reached the specified backoff limit"):
    """Plays the Job and pod controllers: its one pod exited with
    exit_code (a pod labelled as the Job controller labels its pods), and
    the Job failed with reason."""
    job = kube.get("Job", ns, name)
    tmpl = job["spec"]["template"]
    labels = dict(tmpl["metadata"].get("labels", {}))
    labels.update({"job-name": name, "batch.kubernetes.io/job-name": name})
    ensure_default_service_account(kube, ns)
    pod = kube.create({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name + "-x1", "namespace": ns, "labels": labels,
                     "ownerReferences": [{
                         "apiVersion": "batch/v1", "kind": "Job",
                         "name": name, "uid": job["metadata"]["uid"],
                         "controller": True}]},
        "spec": tmpl["spec"]})
    now = utc_stamp()
    kube.patch_status("Pod", ns, pod["metadata"]["name"], {
        "phase": "Failed",
        "containerStatuses": [{
            "name": "app", "image": tmpl["spec"]["containers"][0]["image"],
            "imageID": "", "ready": False, "restartCount": 0,
            "state": {"terminated": {"exitCode": exit_code, "reason": "Error",
                                     "startedAt": now, "finishedAt": now}}}]})
    return kube.patch_status("Job", ns, name, {
        "startTime": now, "failed": 1, "active": 0, "ready": 0,
        "terminating": 0, "uncountedTerminatedPods": {},
        "conditions": [
            {"type": "FailureTarget", "status": "True", "reason": reason,
             "message": message, "lastProbeTime": now,
             "lastTransitionTime": now},
            {"type": "Failed", "status": "True", "reason": reason,
             "message": message, "lastProbeTime": now,
             "lastTransitionTime": now}]})


def ensure_default_service_account(kube, ns):
    """The service-account controller's part: pods are admitted only once
    their namespace has its default service account."""
    if kube.get("ServiceAccount", ns, "default") is None:
        kube.create({"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": {"name": "default", "namespace": ns}})


def pod_of(kube, dep, suffix, waiting=None, message="", ready=False):
    """Plays the ReplicaSet controller and the kubelet: a pod of the
    Deployment dep's current template, its container waiting for reason
    waiting (with message), or running and ready."""
    md, tmpl = dep["metadata"], dep["spec"]["template"]
    ns = md["namespace"]
    ensure_default_service_account(kube, ns)
    pod = kube.create({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "%s-%s" % (md["name"], suffix), "namespace": ns,
                     "labels": tmpl["metadata"]["labels"]},
        "spec": tmpl["spec"]})
    c = tmpl["spec"]["containers"][0]
    state = ({"waiting": {"reason": waiting, "message": message}}
             if waiting else {"running": {"startedAt": utc_stamp()}})
    kube.patch_status("Pod", ns, pod["metadata"]["name"], {
        "phase": "Pending" if waiting and waiting != "CrashLoopBackOff"
        else "Running",
        "containerStatuses": [{
            "name": c["name"], "image": c["image"], "imageID": "",
            "ready": ready, "restartCount": 3 if waiting ==
            "CrashLoopBackOff" else 0, "state": state}]})
    return pod


# --- manifests ------------------------------------------------------------------

def kustomize_resources(directory):
    """The objects a kustomization in directory stands for, in order: its
    `resources` (YAML files, or directories with a kustomization.yaml,
    resolved the same way). Anything else kustomize does (patches,
    generators, namespace or label transformers, remote bases) is refused,
    so a kustomization this resolver does not understand fails loudly
    rather than being checked as something it is not."""
    directory = Path(directory)
    k = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unsupported = set(k) - {"apiVersion", "kind", "resources"}
    if unsupported:
        raise KubeError("%s/kustomization.yaml: %s not supported by this "
                        "resolver" % (directory, sorted(unsupported)))
    docs = []
    for res in k.get("resources", []):
        p = (directory / res).resolve()
        if p.is_dir():
            docs += kustomize_resources(p)
        else:
            docs += [(p, d) for d in yaml.safe_load_all(p.read_text()) if d]
    return docs


def resource_path(kube, obj, query=""):
    """The API path of obj found through discovery (any kind the server
    serves, CRDs included); None when the server has no such kind."""
    gv = obj["apiVersion"]
    status, body = kube.request("GET", ("/apis/" if "/" in gv else "/api/")
                                + gv)
    if status != 200:
        return None
    for r in body.get("resources", []):
        if r["kind"] == obj["kind"] and "/" not in r["name"]:
            md = obj["metadata"]
            p = ("/apis/" if "/" in gv else "/api/") + gv
            if r["namespaced"]:
                p += "/namespaces/" + md.get("namespace", "default")
            return p + "/" + r["name"] + "/" + md["name"] + query
    return None
