"""A service's endpoints and their schema files, as a user sees them:
PUT /v1/components/{id}/endpoints with endpoints.yaml alone or with the
OpenAPI and GraphQL files it names (multipart), through the API and the
CLI; the files are served back byte for byte with their media type; a bad
upload (a schema that does not parse, a named file not uploaded, too many
or too large files, a path for a name) is refused with the file and line
and changes nothing; the next deployment runs with the new endpoints."""

import hashlib
import time
import urllib.error
import urllib.request
import uuid

import pytest

from slipway_harness import api, error_code, unique

OPENAPI = (b"openapi: 3.0.3\n"
           b"info:\n"
           b"  title: Greeting\n"
           b"  version: 1.0.0\n"
           b"paths:\n"
           b"  /greet:\n"
           b"    get:\n"
           b"      responses:\n"
           b"        '200':\n"
           b"          description: a greeting\n")

OPENAPI_JSON = (b'{\n  "swagger": "2.0",\n  "info": {"title": "Greeting", '
                b'"version": "2"},\n  "paths": {"/greet": {"get": {}}}\n}\n')

GRAPHQL = (b'"""The root of the greeting graph."""\n'
           b"type Query {\n"
           b"  # a comment\n"
           b'  greet(name: String = "you"): String!\n'
           b"  user(id: ID!): User\n"
           b"}\n"
           b"type User @key(fields: \"id\") { id: ID!, name: String }\n"
           b"enum Mood { HAPPY SAD }\n"
           b"extend type Query { mood: Mood }\n")


def _yaml(rest_port, graph_port, rest_schema="openapi.yaml",
          graph_schema="schema.graphql"):
    text = ("version: 0.1\n"
            "endpoints:\n"
            "- name: api\n"
            "  port: %d\n"
            "  type: REST\n"
            "  context: /\n" % rest_port)
    if rest_schema:
        text += "  schemaFilePath: %s\n" % rest_schema
    text += ("- name: graph\n"
             "  port: %d\n"
             "  type: GraphQL\n"
             "  networkVisibility: Organization\n"
             "  context: /graphql\n" % graph_port)
    if graph_schema:
        text += "  schemaFilePath: %s\n" % graph_schema
    return text.encode()


def _multipart(yaml, files):
    """endpoints.yaml and [(name, bytes)] as multipart/form-data."""
    boundary = "e2e" + uuid.uuid4().hex
    out = []
    parts = [("endpoints", "endpoints.yaml", yaml)] + \
        [("schema", name, data) for name, data in files]
    for field, name, data in parts:
        out.append(b"--%s\r\nContent-Disposition: form-data; name=\"%s\"; "
                   b"filename=\"%s\"\r\nContent-Type: application/octet-stream"
                   b"\r\n\r\n" % (boundary.encode(), field.encode(),
                                  name.encode()))
        out.append(data + b"\r\n")
    out.append(b"--%s--\r\n" % boundary.encode())
    return b"".join(out), "multipart/form-data; boundary=" + boundary


def _ep_url(slipway, cid, path=""):
    return slipway.url("component-svc",
                       "/v1/components/%s/endpoints%s" % (cid, path))


def _put(slipway, cid, yaml, files=None, content_type=None):
    if files is None:
        body, ctype = yaml, "application/yaml"
    else:
        body, ctype = _multipart(yaml, files)
    return api("PUT", _ep_url(slipway, cid), body,
               headers={"Content-Type": content_type or ctype}, timeout=60)


def _get(slipway, cid):
    status, body = api("GET", _ep_url(slipway, cid))
    assert status == 200, (status, body)
    return body


def _schema(slipway, cid, name):
    """(status, bytes, Content-Type) of GET .../endpoints/schemas/{name}."""
    req = urllib.request.Request(
        _ep_url(slipway, cid, "/schemas/" + name),
        headers={"Authorization": "Bearer " + slipway.admin_token})
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, resp.read(), resp.headers["Content-Type"]
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers["Content-Type"]


def _sha(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def service(slipway, org, project, app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    return slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())


def _deployed_endpoints(slipway, cid, want_ports, timeout=30):
    """Deploys until a deployment records want_ports: deploy-svc learns the
    new endpoints from ComponentUpdated a moment after the PUT."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        status, resp = api("POST", slipway.url(
            "deploy-svc", "/v1/components/%s/deployments" % cid),
            {"environment": "development",
             "image": slipway.env["SLIPWAY_DEMO_IMAGE"]})
        if status == 202:
            for _ in range(50):
                status, dep = slipway.get_deployment(resp["id"])
                if status == 200:
                    break
                time.sleep(0.1)
            last = dep
            if [e["port"] for e in dep.get("endpoints_ran_with", [])] == \
                    want_ports:
                return dep
        else:
            last = (status, resp)
        time.sleep(1)
    raise AssertionError("no deployment ran with ports %r; last %r" % (
        want_ports, last))


def test_schemas_upload_served_back_and_deployed(slipway, service,
                                                 app_ports):
    cid = service["id"]
    before = _get(slipway, cid)
    assert before["schemas"] == [] and len(before["endpoints"]) == 1
    rest, graph = app_ports.take(), app_ports.take()

    status, body = _put(slipway, cid, _yaml(rest, graph),
                        [("openapi.yaml", OPENAPI),
                         ("schema.graphql", GRAPHQL)])
    assert status == 200, (status, body)
    assert [e["name"] for e in body["endpoints"]] == ["api", "graph"]
    assert body["endpoints"][1]["schema_file_path"] == "schema.graphql"
    assert body["endpoints"][1]["visibility"] == "Organization"
    assert body["schemas"] == [
        {"file": "openapi.yaml", "type": "openapi",
         "media_type": "application/yaml", "size": len(OPENAPI),
         "sha256": _sha(OPENAPI)},
        {"file": "schema.graphql", "type": "graphql",
         "media_type": "application/graphql", "size": len(GRAPHQL),
         "sha256": _sha(GRAPHQL)}], body
    assert body["updated_at"] >= before["updated_at"]
    assert _get(slipway, cid) == body

    # Served back byte for byte, with the media type of what they are.
    assert _schema(slipway, cid, "openapi.yaml") == (
        200, OPENAPI, "application/yaml")
    assert _schema(slipway, cid, "schema.graphql") == (
        200, GRAPHQL, "application/graphql")
    status, raw, ctype = _schema(slipway, cid, "nope.yaml")
    assert status == 404 and ctype == "application/json", (status, raw)

    # The component itself shows the endpoints it now has.
    status, comp = api("GET", slipway.url("component-svc",
                                           "/v1/components/%s" % cid))
    assert status == 200 and comp["endpoints"] == body["endpoints"], comp

    # The next deployment runs with them, and records them.
    dep = _deployed_endpoints(slipway, cid, [rest, graph])
    assert [e["name"] for e in dep["endpoints_ran_with"]] == ["api", "graph"]
    assert dep["endpoints_ran_with"][0]["schema_file_path"] == "openapi.yaml"

    # endpoints.yaml alone replaces the whole set: no files remain.
    status, body = _put(slipway, cid, _yaml(rest, graph, None, None))
    assert status == 200, (status, body)
    assert body["schemas"] == [] and len(body["endpoints"]) == 2
    assert _schema(slipway, cid, "openapi.yaml")[0] == 404


ASYNCAPI_JSON = (b'{"asyncapi": "2.6.0", "info": {"title": "Chat", '
                 b'"version": "1"},\n "channels": {"room": {"subscribe": '
                 b'{"message": {"payload": {"type": "string"}}}}}}\n')


def test_ws_endpoint_takes_an_asyncapi_schema(slipway, service, app_ports):
    """A WS endpoint's schemaFilePath names an AsyncAPI document; an OpenAPI
    one given for it is refused with the file and line."""
    cid = service["id"]
    yaml = ("version: 0.1\nendpoints:\n- name: chat\n  port: %d\n"
            "  type: WS\n  context: /chat\n  schemaFilePath: chat.json\n"
            % app_ports.take()).encode()
    status, body = _put(slipway, cid, yaml, [("chat.json", OPENAPI_JSON)])
    assert status == 422 and error_code(body) == "invalid_schema", body
    assert "chat.json line 2: this is an OpenAPI document" in \
        body["error"]["message"], body
    status, body = _put(slipway, cid, yaml, [("chat.json", ASYNCAPI_JSON)])
    assert status == 200, (status, body)
    assert body["schemas"] == [
        {"file": "chat.json", "type": "asyncapi",
         "media_type": "application/json", "size": len(ASYNCAPI_JSON),
         "sha256": _sha(ASYNCAPI_JSON)}], body
    assert _schema(slipway, cid, "chat.json") == (
        200, ASYNCAPI_JSON, "application/json")


def test_cli_sets_shows_and_prints_schemas(slipway, service, app_ports,
                                           tmp_path):
    cid = service["id"]
    rest, graph = app_ports.take(), app_ports.take()
    yaml = tmp_path / "endpoints.yaml"
    yaml.write_bytes(_yaml(rest, graph, "openapi.json"))
    (tmp_path / "openapi.json").write_bytes(OPENAPI_JSON)
    (tmp_path / "schema.graphql").write_bytes(GRAPHQL)

    rc, out, err = slipway.cli("endpoints", "set", cid, str(yaml),
                               str(tmp_path / "openapi.json"),
                               str(tmp_path / "schema.graphql"))
    assert rc == 0, (out, err)
    assert "openapi.json" in out and "schema.graphql" in out, out
    body = _get(slipway, cid)
    assert [(s["file"], s["media_type"], s["sha256"]) for s in
            body["schemas"]] == [
        ("openapi.json", "application/json", _sha(OPENAPI_JSON)),
        ("schema.graphql", "application/graphql", _sha(GRAPHQL))], body

    rc, out, err = slipway.cli("endpoints", "show", cid)
    assert rc == 0 and "graph" in out and _sha(GRAPHQL) in out, (out, err)
    rc, out, err = slipway.cli("endpoints", "schema", cid, "openapi.json")
    assert rc == 0 and out.encode() == OPENAPI_JSON, (out, err)

    # A bad file: the CLI says which file and where, nothing changes.
    (tmp_path / "schema.graphql").write_bytes(b"type Query {\n  a Int\n}\n")
    rc, out, err = slipway.cli("endpoints", "set", cid, str(yaml),
                               str(tmp_path / "openapi.json"),
                               str(tmp_path / "schema.graphql"))
    assert rc == 1, (out, err)
    assert "invalid_schema" in err and \
        "schema.graphql line 2, column 5" in err, err
    assert _get(slipway, cid) == body

    # The YAML alone (no schema files named): sent as application/yaml.
    yaml.write_bytes(_yaml(rest, graph, None, None))
    rc, out, err = slipway.cli("endpoints", "set", cid, str(yaml))
    assert rc == 0, (out, err)
    assert _get(slipway, cid)["schemas"] == []


def _refused(slipway, cid, good, expect_status, expect_code, *texts,
             **put):
    status, body = _put(slipway, cid, **put)
    assert status == expect_status and error_code(body) == expect_code, \
        (status, body)
    for t in texts:
        assert t in body["error"]["message"], body
    assert _get(slipway, cid) == good, "a refused PUT changed something"
    return body


def test_bad_uploads_are_refused_and_change_nothing(slipway, service,
                                                    app_ports):
    cid = service["id"]
    rest, graph = app_ports.take(), app_ports.take()
    yaml = _yaml(rest, graph)
    status, good = _put(slipway, cid, yaml, [("openapi.yaml", OPENAPI),
                                             ("schema.graphql", GRAPHQL)])
    assert status == 200, (status, good)

    bad_openapi = (b"openapi: 3.0.3\ninfo:\n  version: 1.0.0\n"
                   b"paths: {}\n")
    _refused(slipway, cid, good, 422, "invalid_schema",
             "openapi.yaml line 2: info must have a title", yaml=yaml,
             files=[("openapi.yaml", bad_openapi),
                    ("schema.graphql", GRAPHQL)])
    _refused(slipway, cid, good, 422, "invalid_schema",
             "openapi.yaml line 5: paths must be a mapping", yaml=yaml,
             files=[("openapi.yaml", OPENAPI.replace(
                 b"paths:\n", b"paths: []\nx:\n")),
                 ("schema.graphql", GRAPHQL)])
    _refused(slipway, cid, good, 422, "invalid_schema",
             "schema.graphql line 3, column 9: expected ':'", yaml=yaml,
             files=[("openapi.yaml", OPENAPI),
                    ("schema.graphql",
                     b"type Query {\n  a: Int\n  greet String\n}\n")])
    # A named file that was not uploaded: the file and the YAML's line.
    _refused(slipway, cid, good, 422, "missing_schema",
             "endpoints.yaml line 13", "schema.graphql", yaml=yaml,
             files=[("openapi.yaml", OPENAPI)])
    _refused(slipway, cid, good, 422, "missing_schema",
             "endpoints.yaml line 7", "openapi.yaml", yaml=yaml)
    _refused(slipway, cid, good, 422, "unused_schema", "extra.yaml",
             yaml=yaml, files=[("openapi.yaml", OPENAPI),
                               ("schema.graphql", GRAPHQL),
                               ("extra.yaml", OPENAPI)])
    # At most 10 files, each at most 1 MiB.
    _refused(slipway, cid, good, 422, "too_many_schemas", "at most 10",
             yaml=yaml, files=[("f%d.yaml" % i, OPENAPI) for i in range(11)])
    big = OPENAPI + b"x-pad: '" + b"p" * (1024 * 1024) + b"'\n"
    _refused(slipway, cid, good, 413, "schema_too_large", "openapi.yaml",
             yaml=yaml, files=[("openapi.yaml", big),
                               ("schema.graphql", GRAPHQL)])
    # Names, never paths: neither in the upload nor in the YAML.
    for name in ("../openapi.yaml", "api/openapi.yaml", ".hidden"):
        _refused(slipway, cid, good, 422, "invalid_schema_name", "never a path",
                 yaml=yaml, files=[(name, OPENAPI),
                                   ("schema.graphql", GRAPHQL)])
    _refused(slipway, cid, good, 422, "invalid_endpoints",
             "endpoints.yaml line 7: schemaFilePath must be a file name",
             yaml=_yaml(rest, graph, "api/openapi.yaml"),
             files=[("openapi.yaml", OPENAPI), ("schema.graphql", GRAPHQL)])
    # An OpenAPI file for the GraphQL endpoint is checked as SDL.
    _refused(slipway, cid, good, 422, "invalid_schema",
             "schema.graphql line 1, column 1", yaml=yaml,
             files=[("openapi.yaml", OPENAPI), ("schema.graphql", OPENAPI)])
    # A bad endpoints.yaml, a bad body, a wrong media type.
    _refused(slipway, cid, good, 422, "invalid_endpoints",
             "endpoints.yaml line 1", yaml=b"version: 9\n", files=[])
    _refused(slipway, cid, good, 400, "malformed_multipart", "boundary",
             yaml=yaml, files=[],
             content_type="multipart/form-data; boundary=elsewhere")
    _refused(slipway, cid, good, 415, "unsupported_media_type",
             "application/yaml", yaml=yaml, content_type="application/json")
    # The files of the good PUT are still there, as they were.
    assert _schema(slipway, cid, "openapi.yaml")[1] == OPENAPI


def test_web_apps_and_tasks_keep_their_endpoints(slipway, org, project,
                                                 app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    web = slipway.create_component(org, project, reg["id"], ctype="web-app",
                                   name=unique("web"))
    yaml = _yaml(app_ports.take(), app_ports.take(), None, None)
    status, body = _put(slipway, web["id"], yaml)
    assert status == 422 and error_code(body) == "endpoints_not_allowed", body
    assert "web-app" in body["error"]["message"] and \
        '"web" endpoint' in body["error"]["message"], body
    assert [e["name"] for e in _get(slipway, web["id"])["endpoints"]] == \
        ["web"]
    task = slipway.create_component(org, project, reg["id"],
                                    ctype="manual-task", name=unique("task"))
    status, body = _put(slipway, task["id"], yaml)
    assert status == 422 and error_code(body) == "endpoints_not_allowed", body
    assert "task" in body["error"]["message"], body
    # Another org's key or a missing component: 404 as for any component.
    status, body = _put(slipway, str(uuid.uuid4()), yaml)
    assert status == 404, (status, body)


def _key(slipway, org, role):
    status, body = api("POST", slipway.url(
        "deploy-svc", "/v1/orgs/%s/keys" % org),
        {"name": unique(role), "role": role})
    assert status == 201, (status, body)
    slipway.secrets.add(body["key"])
    return body["key"]


def _with_key(call, key, timeout=10):
    """Calls until the key is known (every service learns keys from
    slipway.orgkeys a moment after they are issued): (status, body)."""
    deadline = time.monotonic() + timeout
    while True:
        status, body = call(key)
        if status != 401 or time.monotonic() > deadline:
            return status, body
        time.sleep(0.2)


def test_org_keys_and_roles(slipway, service, app_ports):
    cid, org = service["id"], service["org"]
    yaml = _yaml(app_ports.take(), app_ports.take())
    body, ctype = _multipart(yaml, [("openapi.yaml", OPENAPI),
                                    ("schema.graphql", GRAPHQL)])

    def put(key):
        return api("PUT", _ep_url(slipway, cid), body, token=key,
                   headers={"Content-Type": ctype})

    def get(key):
        return api("GET", _ep_url(slipway, cid), token=key)

    def get_file(key):
        return api("GET", _ep_url(slipway, cid, "/schemas/schema.graphql"),
                   token=key)

    viewer = _key(slipway, org, "viewer")
    deployer = _key(slipway, org, "deployer")
    admin = _key(slipway, org, "admin")
    stranger = _key(slipway, unique("org"), "admin")
    for key in (viewer, deployer):
        status, resp = _with_key(put, key)
        assert status == 403 and error_code(resp) == "forbidden", resp
    status, resp = _with_key(put, admin)
    assert status == 200 and len(resp["schemas"]) == 2, (status, resp)
    status, resp = _with_key(get, viewer)
    assert status == 200 and resp["schemas"] == _get(slipway, cid)["schemas"]
    status, resp = _with_key(get_file, viewer)
    assert status == 200 and resp == {"_raw": GRAPHQL.decode()}, resp
    # Another org's key finds nothing, on every route.
    for call in (put, get, get_file):
        status, resp = _with_key(call, stranger)
        assert status == 404 and error_code(resp) == "not_found", resp
