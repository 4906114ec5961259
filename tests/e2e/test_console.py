"""The web console (services/console) in a real browser: Debian's Chromium,
headless, through chromedriver and Selenium, against the real stack behind
the front door (the `frontdoor` fixture serves <SLIPWAY_BUILD>/console at /
and routes /v1/... to the services on the same origin).

One scenario walks what a user does: sign in with an org key, register the
stack's registry, create a service, issue a CI token and read it off the
page, POST the webhook with it and watch the deployment reach `running`
without a reload, redeploy a previous image, run a manual task and see its
exit code, set configuration and a write-only secret, and look at it all at
phone width. A wrong key is refused with a visible message. Screenshots of
each page land in <SLIPWAY_BUILD>/console-screenshots/.
"""

import time

import pytest

import console_browser as cb
from slipway_harness import api, unique

pytestmark = pytest.mark.skipif(bool(cb.missing()), reason=cb.missing() or "-")


def _issue_key(slipway, fd, org, role="admin"):
    """An org key from the operator, accepted by every service the console
    calls (it reaches them as an event: wait until each says 200)."""
    status, body = api("POST", slipway.url("deploy-svc", "/v1/orgs/%s/keys" % org),
                       {"name": unique("console"), "role": role})
    assert status == 201, (status, body)
    key = body["key"]
    slipway.secrets.add(key)
    deadline = time.monotonic() + 20
    for path in ("/v1/orgs/%s/registries" % org,
                 "/v1/orgs/%s/projects/p/components" % org,
                 "/v1/orgs/%s/environments" % org):
        while True:
            status, resp = fd.api("GET", path, token=key)
            if status == 200:
                break
            assert status == 401 and time.monotonic() < deadline, (path, status, resp)
            time.sleep(0.1)
    return key


@pytest.fixture(scope="module")
def browser(slipway):
    b = cb.Browser(slipway.build / "console-screenshots")
    yield b
    b.quit()


def _sign_in(b, fd, org, key):
    b.go(fd.url + "/")
    b.type("#signin-form [name=org]", org)
    b.type("#signin-form [name=key]", key)
    b.click("#signin-submit")


def _no_csp_violation(b):
    bad = [m for m in b.console_messages()
           if "Content Security Policy" in m or "Uncaught" in m]
    assert not bad, bad


def test_a_wrong_key_is_refused(slipway, frontdoor, browser):
    b = browser
    org = unique("org")
    _issue_key(slipway, frontdoor, org, role="viewer")   # the org exists
    b.go(frontdoor.url + "/")
    b.js("sessionStorage.clear()")
    b.go(frontdoor.url + "/")
    b.shot("01-sign-in")
    wrong = "slk_" + "x" * 40
    _sign_in(b, frontdoor, org, wrong)
    err = b.text_in(".field-error[data-field=key]", "refused")
    assert err.is_displayed()
    b.shot("02-sign-in-refused")
    # Nothing was kept, and the key is in no URL.
    assert b.js("return sessionStorage.getItem('slipway.key')") is None
    assert wrong not in b.d.current_url
    assert b.d.find_elements("css selector", "#signin-form")
    # With the keyboard alone (labels, focus order, Enter submits): a
    # malformed key is refused before any request, next to its field.
    from selenium.webdriver.common.keys import Keys
    org_input = b.find("#signin-form [name=org]")
    org_input.clear()
    org_input.send_keys(org)
    org_input.send_keys(Keys.TAB)
    focused = b.d.switch_to.active_element
    assert focused.get_attribute("name") == "key", focused.get_attribute("outerHTML")
    focused.send_keys(Keys.CONTROL, "a")
    focused.send_keys("not-a-key", Keys.ENTER)
    b.text_in(".field-error[data-field=key]", "slk_")
    assert b.find("#signin-form [name=key]").get_attribute("aria-invalid") == "true"


def _add_registry(b, slipway):
    env = slipway.env
    b.click("a[href='#/registries']")
    b.click("#add-registry-toggle")
    name = unique("local")
    b.type("#add-registry [name=name]", name)
    b.type("#add-registry [name=host]", env["SLIPWAY_REGISTRY_HOST"])
    b.click("#add-registry input[data-auth=basic]")
    # The password goes into a password field.
    pw = b.find("#add-registry [name=password]")
    assert pw.get_attribute("type") == "password"
    b.type("#add-registry [name=username]", env["SLIPWAY_REGISTRY_USER"])
    b.type("#add-registry [name=password]", env["SLIPWAY_REGISTRY_PASSWORD"])
    b.shot("03-registry-add")
    b.click("#add-registry button[type=submit]")
    row = b.find("article.registry[data-host='%s']" % env["SLIPWAY_REGISTRY_HOST"])
    reg_id = row.get_attribute("data-registry-id")
    # The stored login works: registry-svc logs in with it.
    b.click("article.registry[data-registry-id='%s'] button.test" % reg_id)
    b.text_in("article.registry[data-registry-id='%s'] .test-result" % reg_id,
              "Login works", timeout=60)
    b.shot("04-registries")
    return reg_id, name


def _field_error_shown(b, form, field, want):
    return b.text_in("%s .field-error[data-field=%s]" % (form, field), want)


def _create_component(b, project, name, ctype, reg_name, image, yaml=None):
    b.click("a[href='#/components']")
    b.type("#project-form [name=project]", project)
    b.click("#project-form button[type=submit]")
    b.text_in("#components-page h3", project)
    b.click("#create-component-toggle")
    b.type("#create-component [name=name]", name)
    b.select("#create-component [name=type]", value=ctype)
    b.select("#create-component [name=registry_id]", text_contains=reg_name)
    b.type("#create-component [name=image]", image)
    if yaml is not None:
        b.type("#create-component [name=endpoints]", yaml)
    b.click("#create-component button[type=submit]")
    header = b.find(".component-header[data-component-id]", timeout=60)
    return header.get_attribute("data-component-id")


# The elements that stick out of the window (for a failure message).
_WIDEST = """
return Array.from(document.querySelectorAll('body *'))
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
  .slice(-5).map(e => e.tagName + '.' + e.className + ' ' +
    Math.round(e.getBoundingClientRect().right)).join('; ');
"""


def _deployment(b, dep_id, status, timeout=120):
    return b.find("li.deployment[data-deployment-id='%s'][data-status='%s']"
                  % (dep_id, status), timeout=timeout)


def test_console_end_to_end(slipway, frontdoor, browser, app_ports):
    b, fd = browser, frontdoor
    org, project = unique("org"), unique("proj")
    key = _issue_key(slipway, fd, org)
    b.go(fd.url + "/")
    b.js("sessionStorage.clear()")
    _sign_in(b, fd, org, key)
    b.find("#registries-page")
    # The key is kept for this tab only, and never put in a URL.
    assert b.js("return sessionStorage.getItem('slipway.key')") == key
    assert b.js("return localStorage.length") == 0
    assert key not in b.d.current_url

    # 1. The stack's registry, with basic auth typed into the form.
    reg_id, reg_name = _add_registry(b, slipway)

    # An API error appears next to the field it names (host is fixed per org:
    # a second registry for it is 409 registry_exists on "host").
    if not b.js("return document.querySelector('#add-registry').closest('details').open"):
        b.click("#add-registry-toggle")
    b.type("#add-registry [name=name]", unique("dup"))
    b.type("#add-registry [name=host]", slipway.env["SLIPWAY_REGISTRY_HOST"])
    b.click("#add-registry input[data-auth=anonymous]")
    b.click("#add-registry button[type=submit]")
    _field_error_shown(b, "#add-registry", "host", slipway.env["SLIPWAY_REGISTRY_HOST"])

    # 2. A service on the demo image, with its endpoints.yaml.
    port = app_ports.take()
    yaml = ("version: 0.1\nendpoints:\n  - name: web\n    port: %d\n"
            "    type: REST\n    networkVisibility: Public\n    context: /\n" % port)
    svc = unique("web")
    comp_id = _create_component(b, project, svc, "service", reg_name,
                                slipway.env["SLIPWAY_DEMO_IMAGE"], yaml)
    status, comp = fd.api("GET", "/v1/components/%s" % comp_id, token=key)
    assert status == 200 and comp["name"] == svc and comp["endpoints"][0]["port"] == port, comp
    b.click("a[href='#/components?project=%s']" % project)
    b.find("tr[data-component-id='%s']" % comp_id)
    b.shot("05-components")

    # 3. A CI token, shown once with its snippets.
    b.go(fd.url + "/#/components/%s/tokens" % comp_id)
    b.type("#token-form [name=name]", "ci")
    b.click("#token-create")
    token = b.find("#new-token-value").get_attribute("value")
    assert token.startswith("slp_"), token
    slipway.secrets.add(token)
    curl = b.find("pre.snippet[data-snippet=curl]").text
    assert fd.url + "/v1/hooks/deploy" in curl and "SLIPWAY_TOKEN" in curl, curl
    assert token not in curl
    b.find("tr.token td.token-state")
    b.shot("06-tokens")

    # 4. The webhook from "CI", watched live on the component's page: the
    # page is not reloaded (a marker set on the window survives).
    b.go(fd.url + "/#/components/%s" % comp_id)
    b.find("#component-page .releases")
    b.js("window.__slipwayNoReload = 'still here'")
    status, hook = fd.api("POST", "/v1/hooks/deploy",
                          {"image": slipway.env["SLIPWAY_DEMO_IMAGE"]}, token=token)
    assert status == 202, (status, hook)
    v1 = hook["request_id"]
    _deployment(b, v1, "running")
    assert b.js("return window.__slipwayNoReload") == "still here"
    release = b.find(".release[data-environment=development]")
    status, dep = fd.api("GET", "/v1/deployments/%s" % v1, token=key)
    assert dep["digest"] and dep["digest"] in release.text, (dep, release.text)
    assert dep["endpoints"][0]["url"] in release.text, release.text
    b.shot("07-component-running")

    # 5. v2 by tag from the console; then v1 again from the history.
    b.click("#deploy-form input[data-mode=tag]")
    b.type("#deploy-form [name=tag]", "v2")
    b.click("#deploy-submit")
    v2 = b.wait(lambda d: next((e.get_attribute("data-deployment-id") for e in
                                d.find_elements("css selector", "li.deployment")
                                if e.get_attribute("data-deployment-id") != v1), None),
                60, "a second deployment in the timeline")
    _deployment(b, v2, "running")
    _deployment(b, v1, "superseded", timeout=60)
    b.click("li.deployment[data-deployment-id='%s'] button.redeploy" % v1)
    again = b.wait(lambda d: next((e.get_attribute("data-deployment-id") for e in
                                   d.find_elements("css selector", "li.deployment")
                                   if e.get_attribute("data-deployment-id") not in (v1, v2)), None),
                   60, "the redeployment in the timeline")
    _deployment(b, again, "running")
    status, redo = fd.api("GET", "/v1/deployments/%s" % again, token=key)
    assert redo["digest"] == dep["digest"] and redo["image"] == dep["image"], (redo, dep)
    assert b.js("return window.__slipwayNoReload") == "still here"
    b.shot("08-component-redeployed")

    # 6. Configuration and a write-only secret.
    b.go(fd.url + "/#/components/%s/config" % comp_id)
    b.type("#vars-form [name=vars]", "LOG_LEVEL=debug\nFEATURE_X=on")
    b.click("#vars-form button[type=submit]")
    b.text_in(".notice", "configuration version")
    secret_value = "console-" + unique("s")
    slipway.secrets.add(secret_value)
    b.type("#secret-form [name=name]", "DB_PASSWORD")
    b.type("#secret-form [name=value]", secret_value)
    b.click("#secret-form button[type=submit]")
    b.find("li[data-secret=DB_PASSWORD]")
    assert secret_value not in b.d.page_source
    status, cfg = fd.api("GET", "/v1/components/%s/environments/development/config" % comp_id,
                         token=key)
    assert cfg["vars"] == {"LOG_LEVEL": "debug", "FEATURE_X": "on"}, cfg
    b.shot("09-config")

    b.go(fd.url + "/#/components/%s/settings" % comp_id)
    b.find("#endpoints-form [name=endpoints]")
    b.shot("10-settings")

    # 7. A manual task: deploy it, "run now", see its exit code.
    image = slipway.push_variant("consoletask", "echo from the console task; exit 3")
    task = unique("job")
    task_id = _create_component(b, project, task, "manual-task", reg_name, image)
    b.click("#deploy-form input[data-mode=tag]")
    b.type("#deploy-form [name=tag]", "consoletask")
    b.click("#deploy-submit")
    b.find("li.deployment[data-status=ready]", timeout=120)
    b.click("#run-now")
    row = b.find("tr.execution[data-status=failed]", timeout=120)
    assert row.find_element("css selector", "td.exit-code").text == "3", row.text
    status, ex = fd.api("GET", "/v1/components/%s/executions" % task_id, token=key)
    assert ex["executions"][0]["exit_code"] == 3, ex
    b.shot("11-task-executions")

    # 8. Phone width: every page still fits (no sideways scrolling).
    b.d.set_window_size(375, 812)
    for name, frag in (("12-phone-registries", "#/registries"),
                       ("13-phone-components", "#/components?project=" + project),
                       ("14-phone-component", "#/components/%s" % comp_id),
                       ("15-phone-tokens", "#/components/%s/tokens" % comp_id)):
        b.go(fd.url + "/" + frag)
        b.find("main section")
        b.wait(lambda d: not d.find_elements("css selector", "[aria-busy=true]"), 30,
               "the page to load")
        wide = b.js("return document.documentElement.scrollWidth")
        inner = b.js("return window.innerWidth")
        b.shot(name)
        assert wide <= inner + 1, "%s: %d px wide in a %d px window: %s" % (
            frag, wide, inner, b.js(_WIDEST))
    b.d.set_window_size(1280, 900)
    _no_csp_violation(b)


def _delete_until_gone(b, row, timeout=30):
    """Clicks the row's "Really delete" (again while the API says 409, as a
    user would) until the row has left the list."""
    def attempt(d):
        if not d.find_elements("css selector", row):
            return True
        for e in d.find_elements("css selector", row + " button.really-delete"):
            if e.is_enabled():
                e.click()
        return False
    b.wait(attempt, timeout, "%s to be deleted" % row)


def test_registry_rotate_and_delete(slipway, frontdoor, browser):
    """Rotate the stack registry's credentials to a pasted docker-config
    (the login still works), turn an anonymous registry into a vendor one,
    and delete both; a registry in use cannot be deleted (409, shown)."""
    import base64
    import json

    b, fd = browser, frontdoor
    org = unique("org")
    key = _issue_key(slipway, fd, org)
    b.go(fd.url + "/")
    if b.d.find_elements("css selector", "#sign-out"):
        b.click("#sign-out")
    _sign_in(b, fd, org, key)
    b.find("#registries-page")
    reg_id, reg_name = _add_registry(b, slipway)
    env = slipway.env
    row = "article.registry[data-registry-id='%s']" % reg_id

    # A docker-config, pasted: one entry under auths, credentials inline.
    cred = "%s:%s" % (env["SLIPWAY_REGISTRY_USER"], env["SLIPWAY_REGISTRY_PASSWORD"])
    dc = json.dumps({"auths": {env["SLIPWAY_REGISTRY_HOST"]: {
        "auth": base64.b64encode(cred.encode()).decode()}}})
    b.text_in(row + " button", "Rotate credentials").click()
    b.click(row + " form.rotate input[data-auth=docker-config]")
    # A config with two entries is refused next to its field, before any request.
    b.type(row + " form.rotate [name=docker_config]",
           json.dumps({"auths": {"a.io": {}, "b.io": {}}}))
    b.click(row + " form.rotate button[type=submit]")
    _field_error_shown(b, row + " form.rotate", "docker_config", "exactly one")
    b.type(row + " form.rotate [name=docker_config]", dc)
    b.shot("16-registry-rotate")
    b.click(row + " form.rotate button[type=submit]")
    b.text_in(".notice", "Credentials rotated")
    status, got = fd.api("GET", "/v1/orgs/%s/registries/%s" % (org, reg_id), token=key)
    assert got["auth_type"] == "docker-config", got
    b.click(row + " button.test")
    b.text_in(row + " .test-result", "Login works", timeout=60)

    # In use: a component on it makes the delete a 409, shown on the row.
    comp = slipway.create_component(org, unique("p"), reg_id, ctype="manual-task")
    b.text_in(row + " button", "Delete").click()
    b.click(row + " button.really-delete")
    b.text_in(row + " .form-error", "component")
    status, _ = fd.api("DELETE", "/v1/components/%s" % comp["id"], token=key)
    assert status == 204
    # registry-svc hears of the removal as an event: ask again until it has.
    _delete_until_gone(b, row)

    # Anonymous, then the vendor's own access.
    b.click("#add-registry-toggle")
    b.type("#add-registry [name=name]", "gh")
    b.type("#add-registry [name=host]", "ghcr.io")
    b.click("#add-registry input[data-auth=anonymous]")
    b.click("#add-registry button[type=submit]")
    gh = b.find("article.registry[data-host='ghcr.io']")
    gh_id = gh.get_attribute("data-registry-id")
    ghrow = "article.registry[data-registry-id='%s']" % gh_id
    b.text_in(ghrow + " button", "Rotate credentials").click()
    b.click(ghrow + " form.rotate input[data-auth=vendor]")
    b.select(ghrow + " form.rotate [name=vendor]", value="ghcr")
    b.click(ghrow + " form.rotate button[type=submit]")
    b.text_in(".notice", "Credentials rotated")
    status, got = fd.api("GET", "/v1/orgs/%s/registries/%s" % (org, gh_id), token=key)
    assert got["auth_type"] == "vendor" and got["vendor"] == "ghcr", got
    b.text_in(ghrow + " button", "Delete").click()
    b.click(ghrow + " button.really-delete")
    b.gone(ghrow)
    status, left = fd.api("GET", "/v1/orgs/%s/registries" % org, token=key)
    assert left["registries"] == [], left
    _no_csp_violation(b)
