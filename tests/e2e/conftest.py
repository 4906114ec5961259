"""pytest fixtures for the black-box tests: one real stack and one set of
real services for the whole session (see slipway_harness.py).

Ports: Kafka 29092 / controller 29093, PostgreSQL 25432, Redis 26379,
registry 25000, services 28080-28084; override with SLIPWAY_E2E_PORT_<NAME>.
Deployed containers listen on 127.0.0.1 ports from SLIPWAY_E2E_APP_PORTS
("lo-hi", default 38500-38999).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import slipway_harness as sh  # noqa: E402
import frontdoor_harness as fdh  # noqa: E402

_harness = None


def pytest_runtest_makereport(item, call):
    """On a failure, attach the service logs' tails: CI failures must be
    diagnosable from the pytest output alone."""
    if call.excinfo is None or _harness is None or \
            call.excinfo.errisinstance(pytest.skip.Exception):
        return
    item.add_report_section(call.when, "slipway service logs",
                            _harness.all_log_tails())


@pytest.fixture(scope="session")
def slipway():
    global _harness
    state = os.environ.get("SLIPWAY_E2E_STATE",
                           str(sh.REPO / "build" / "e2e-state"))
    h = sh.Harness(state)
    try:
        h.start()
    except Exception as e:
        tails = h.all_log_tails()
        h.stop()
        pytest.fail("platform did not start: %s\n%s" % (e, tails),
                    pytrace=False)
    _harness = h
    yield h
    problems = h.stop()
    _harness = None
    if problems:
        pytest.fail("unclean shutdown: " + "; ".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def app_ports():
    lo, _, hi = os.environ.get("SLIPWAY_E2E_APP_PORTS", "38500-38999").partition("-")
    return sh.PortPool(int(lo), int(hi) + 1)


@pytest.fixture
def org():
    return sh.unique("org")


@pytest.fixture
def project():
    return sh.unique("proj")


def _build_tool(slipway, name):
    """Builds tests/e2e/tools/<name>.c (librdkafka + the build's generated
    protobuf-c code) into the build's tests/ folder."""
    src = Path(__file__).resolve().parent / "tools" / (name + ".c")
    out = slipway.build / "tests" / name
    gen = slipway.build / "gen"
    pb = sorted(str(p) for p in (gen / "slipway" / "v1").glob("*.pb-c.c"))
    if not pb:
        pytest.fail("no generated protobuf code under %s (run make)" % gen)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["sh", "-c", 'cc -std=c11 -D_GNU_SOURCE -O1 -Wall -Wextra -o "$0" '
           '"$@" $(pkg-config --cflags --libs rdkafka libprotobuf-c)',
           str(out), str(src), "-I" + str(gen)] + pb
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    if r.returncode != 0:
        pytest.fail("building %s failed:\n" % name +
                    r.stdout.decode(errors="replace"))
    return str(out)


@pytest.fixture(scope="session")
def produce_dup(slipway):
    """tests/e2e/tools/produce_dup: the only way to deliver the very same
    ImagePushed bytes twice, since there is no Python Kafka client here."""
    return _build_tool(slipway, "produce_dup")


@pytest.fixture(scope="session")
def kafka_probe(slipway):
    """tests/e2e/tools/kafka_probe: produces a forged event or reads a topic
    with the credentials it is given, reporting a refusal."""
    return _build_tool(slipway, "kafka_probe")


@pytest.fixture(scope="session")
def frontdoor(slipway):
    """The front door (scripts/frontdoor.sh) on the "frontdoor" port, in
    front of the harness's services, serving <SLIPWAY_BUILD>/console at /
    (absent: / answers a JSON 404). Its webhook-ingress is its own (on the
    port + 1), set up as behind the front door: status_url points at it.
    Yields a frontdoor_harness.FrontDoor: .url, .api(), .stop()."""
    try:
        fd = fdh.start_frontdoor(slipway)
    except Exception as e:
        pytest.fail("front door did not start: %s" % e, pytrace=False)
    yield fd
    problems = fd.stop()
    if problems:
        pytest.fail("front door: " + "; ".join(problems), pytrace=False)
