"""CI snippets: `slipway token create` prints, after the token, snippets for
curl, GitHub Actions and GitLab CI; `slipway token snippet` prints them again
without a token. The snippets are run here as pasted (bash for curl, sh for
the shell the two CI wrappers embed) against the local webhook."""

import json
import os
import subprocess
import textwrap

import yaml


def _snippet(text, name):
    """The snippet under "--- name ---" in a CLI output."""
    marker = "--- %s ---\n" % name
    assert marker in text, text
    rest = text.split(marker, 1)[1]
    return rest.split("\n--- ", 1)[0]


def _run_shell(shell, script, **env):
    full = {k: v for k, v in os.environ.items()
            if not k.startswith("SLIPWAY_")}
    full.update(env)
    r = subprocess.run([shell, "-c", script], env=full, timeout=30,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def _request_id(out):
    first = out.strip().splitlines()[0]
    return json.loads(first)["request_id"]


def _component(slipway, org, project, app_ports):
    reg = slipway.create_registry(org, auth_type="basic")
    return slipway.create_component(org, project, reg["id"],
                                    port=app_ports.take())


def test_curl_snippet_deploys_as_pasted(slipway, org, project, app_ports):
    comp = _component(slipway, org, project, app_ports)
    rc, out, err = slipway.cli("token", "create", comp["id"], "--name", "ci")
    assert rc == 0, err
    lines = out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("slp_"), out
    token = lines[0]
    slipway.secrets.add(token)
    # Every snippet on stderr, none holding the token's value.
    for name in ("curl", "GitHub Actions", "GitLab CI"):
        _snippet(err, name)
    assert token not in err
    assert "${{ secrets.SLIPWAY_TOKEN }}" in err
    assert "${{ inputs.tag || github.sha }}" in err
    assert "$CI_COMMIT_SHORT_SHA" in err
    assert slipway.url("webhook-ingress", "/v1/hooks/deploy") in err
    repo = slipway.env["SLIPWAY_DEMO_IMAGE"].rsplit(":", 1)[0]
    assert repo + ":$IMAGE_TAG" in err.replace('\\"', '"')

    # `token snippet` prints the same on stdout, without a token value.
    rc, again, err2 = slipway.cli("token", "snippet", comp["id"],
                                  "--snippet", "curl")
    assert rc == 0, err2
    assert "--- GitHub Actions ---" not in again and token not in again
    script = _snippet(again, "curl")
    assert script == _snippet(err, "curl")

    tag = slipway.env["SLIPWAY_DEMO_IMAGE"].rsplit(":", 1)[1]
    rc, out, err = _run_shell("bash", script, SLIPWAY_TOKEN=token,
                              IMAGE_TAG=tag)
    assert rc == 0, (out, err)
    assert "HTTP 202" in out, out
    dep = slipway.wait_deployment(_request_id(out), "running", timeout=90)
    assert dep["image"].endswith(":" + tag), dep

    # Without the token the snippet stops before calling anything.
    rc, out, err = _run_shell("bash", script, IMAGE_TAG=tag)
    assert rc != 0 and "SLIPWAY_TOKEN" in err, (out, err)


def test_signed_curl_snippet_deploys_as_pasted(slipway, org, project,
                                               app_ports):
    comp = _component(slipway, org, project, app_ports)
    rc, out, err = slipway.cli("token", "create", comp["id"], "--signing",
                               "--snippet", "curl")
    assert rc == 0, err
    token, secret = out.splitlines()
    assert token.startswith("slp_") and secret.startswith("whsec_"), out
    slipway.secrets.update({token, secret, secret.split("_", 1)[1]})
    assert "--- GitHub Actions ---" not in err
    script = _snippet(err, "curl")
    assert "webhook-signature: v1,$SIG" in script and secret not in script
    tag = slipway.env["SLIPWAY_DEMO_IMAGE"].rsplit(":", 1)[1]

    rc, out, err = _run_shell("bash", script, SLIPWAY_TOKEN=token,
                              SLIPWAY_SIGNING_SECRET=secret, IMAGE_TAG=tag)
    assert rc == 0, (out, err)
    assert "HTTP 202" in out, out
    slipway.wait_deployment(_request_id(out), "running", timeout=90)

    # The unsigned snippet is refused for a signing token: the signature
    # is what the signed one adds.
    rc, plain, _ = slipway.cli("token", "snippet", comp["id"], "--snippet",
                               "curl")
    assert rc == 0
    rc, out, err = _run_shell("bash", _snippet(plain, "curl"),
                              SLIPWAY_TOKEN=token, IMAGE_TAG=tag)
    assert rc != 0 and "HTTP 401" in out, (out, err)
    assert "signature_required" in out, out


def test_ci_wrappers_run_their_shell(slipway, org, project, app_ports):
    """The GitHub step and the GitLab job parse as YAML, read the token from
    the CI's secret, and their shell (with the CI's variables filled in as
    the runner would) deploys under sh (GitLab's alpine runs busybox sh)."""
    comp = _component(slipway, org, project, app_ports)
    token = slipway.create_token(comp["id"], signing=True)
    tag = slipway.env["SLIPWAY_DEMO_IMAGE"].rsplit(":", 1)[1]

    rc, out, err = slipway.cli("token", "snippet", comp["id"], "--signing",
                               "--snippet", "github")
    assert rc == 0, err
    steps = yaml.safe_load(textwrap.dedent(_snippet(out, "GitHub Actions")))
    step = steps[0]
    assert step["env"]["SLIPWAY_TOKEN"] == "${{ secrets.SLIPWAY_TOKEN }}"
    assert step["env"]["SLIPWAY_SIGNING_SECRET"] == \
        "${{ secrets.SLIPWAY_SIGNING_SECRET }}"
    assert "github.sha" in step["env"]["IMAGE_TAG"]
    rc, out, err = _run_shell("sh", step["run"], SLIPWAY_TOKEN=token["token"],
                              SLIPWAY_SIGNING_SECRET=token["signing_secret"],
                              IMAGE_TAG=tag, IDEMPOTENCY_KEY="gh-1-1")
    assert rc == 0 and "HTTP 202" in out, (out, err)
    first = _request_id(out)
    slipway.wait_deployment(first, "running", timeout=90)

    rc, out, err = slipway.cli("token", "snippet", comp["id"], "--signing",
                               "--snippet", "gitlab")
    assert rc == 0, err
    job = yaml.safe_load(_snippet(out, "GitLab CI"))["deploy-slipway"]
    assert job["variables"]["IMAGE_TAG"] == "$CI_COMMIT_SHORT_SHA"
    assert "openssl" in job["before_script"][0]
    rc, out, err = _run_shell("sh", job["script"][0],
                              SLIPWAY_TOKEN=token["token"],
                              SLIPWAY_SIGNING_SECRET=token["signing_secret"],
                              IMAGE_TAG=tag, IDEMPOTENCY_KEY="gl-1-2")
    assert rc == 0 and "HTTP 202" in out, (out, err)
    assert _request_id(out) != first


def test_snippet_options(slipway, org, project, app_ports):
    comp = _component(slipway, org, project, app_ports)
    rc, out, err = slipway.cli("token", "create", comp["id"], "--snippet",
                               "none")
    assert rc == 0 and len(out.splitlines()) == 1, out
    assert "--- " not in err
    slipway.secrets.add(out.strip())

    # Machine modes print nothing extra anywhere unless asked by name.
    rc, out, err = slipway.cli("token", "create", comp["id"], "--json")
    assert rc == 0
    slipway.secrets.add(json.loads(out)["token"])
    assert "--- " not in err and "--- " not in out

    rc, out, err = slipway.cli("token", "create", comp["id"], "--snippet",
                               "yaml")
    assert rc == 2 and "--snippet" in err, err
    rc, out, err = slipway.cli("token", "snippet", comp["id"], "--snippet",
                               "bogus")
    assert rc == 2

    rc, out, err = slipway.cli("token", "snippet",
                               "00000000-0000-0000-0000-000000000000")
    assert rc == 1 and "not_found" in err, err
