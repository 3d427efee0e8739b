"""The JSON API against its contract, console/openapi.yaml, with schemathesis.

Every operation of the document is generated (examples, coverage and fuzzing phases: other
HTTP methods, missing or forged session cookies, …) and sent in-process to the real Django
app through its WSGI handler, in five scenarios: anonymous, logged in without a role, logged
in as an operator — each with and without an initialised node. Every response must pass all
of schemathesis's checks (status code and content type documented, body and headers match the
schema, no 5xx, auth enforced), and the GET answers must be the ones the scenario expects, so
a run that only ever saw 401s cannot pass. `FUZZ_EXAMPLES` sets hypothesis's max_examples
(default 25 here: each example is a full request).
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

import pytest
import schemathesis
import yaml
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, settings

from console.roles import OPERATORS
from console.views import OPENAPI_PATH
from tests.conftest import PASSWORD
from tests.consoleweb.conftest import make_node

from .conftest import tried

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))
# A 503 is a designed answer here (health degraded, node not initialised) and is documented;
# any other 5xx is still a failure of the not_a_server_error check.
CONFIG = schemathesis.Config.from_dict(
    {"checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}}})
SCHEMA = schemathesis.openapi.from_path(OPENAPI_PATH, config=CONFIG)
SCHEMA.app = WSGIHandler()  # every request, probes included, goes to the real app in-process
SESSION: dict[str, str | None] = {"key": None}  # the scenario's session key, None = anonymous


@SCHEMA.auth(refresh_interval=None)  # no caching: each scenario logs in its own user
class SessionCookie:
    """The scenario's real session as the `sessionCookie` credential. Given to schemathesis as
    auth (not as a plain cookie) so that its negative cases can drop or forge it and its
    ignored_auth check can probe the endpoint without it."""

    def get(self, case, context):
        return SESSION["key"]

    def set(self, case, data, context):
        case.cookies = {**(case.cookies or {}), "sessionid": data}

# scenario -> (who, node?) and what a GET on each path must answer in it
SCENARIOS = {
    "anonymous-no-node": (None, False, {"/healthz": 503, "/api/status": 401, "/api/openapi.yaml": 200}),
    "anonymous-node": (None, True, {"/healthz": 200, "/api/status": 401, "/api/openapi.yaml": 200}),
    "no-role-node": ("norole", True, {"/healthz": 200, "/api/status": 403, "/api/openapi.yaml": 200}),
    "operator-no-node": (OPERATORS, False, {"/healthz": 503, "/api/status": 503, "/api/openapi.yaml": 200}),
    "operator-node": (OPERATORS, True, {"/healthz": 200, "/api/status": 200, "/api/openapi.yaml": 200}),
}


@pytest.fixture
def wsgi_app():
    """The project's real WSGI handler, middleware and all. Like Django's test client, it must
    not close the test's connection (it runs inside the test's transaction) between requests."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield SCHEMA.app
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _healthy_runner() -> None:
    """The runner's heartbeat as a live runner leaves it (run_node marks it stopped on exit)."""
    from kernelhost.models import RunnerHeartbeat

    RunnerHeartbeat.objects.update(state="running", beat_at=timezone.now() - timedelta(seconds=1))


@pytest.fixture
def real_node(tmp_path, settings):
    """A real node on a tmp swing-store: genesis, bootstrap, a counter increment; height 3."""
    settings.SWINGSTORE_PATH = str(tmp_path / "swingstore.sqlite")
    kit = make_node(settings.SWINGSTORE_PATH)
    kit.run(blocks=2)
    kit.send("counter", "increment", 1)
    kit.run(blocks=1)
    _healthy_runner()
    return kit


@pytest.fixture
def no_node(tmp_path, settings):
    settings.SWINGSTORE_PATH = str(tmp_path / "missing" / "swingstore.sqlite")


def _session_key(role_user, django_user_model, who) -> str | None:
    if who is None:
        return None
    user = (django_user_model.objects.create_user("norole", password=PASSWORD) if who == "norole"
            else role_user(who))
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture(params=list(SCENARIOS))
def scenario(request, role_user, django_user_model):
    who, with_node, expected = SCENARIOS[request.param]
    request.getfixturevalue("real_node" if with_node else "no_node")
    SESSION["key"] = _session_key(role_user, django_user_model, who)
    yield request.param, SESSION["key"], expected
    SESSION["key"] = None


@SCHEMA.parametrize()
@SETTINGS
def test_every_response_conforms_to_the_openapi_document(case, scenario, wsgi_app):
    name, key, expected = scenario
    tried(f"openapi: {case.operation.label}")
    response = case.call_and_validate()  # all checks: schemathesis's default set
    sent_cookie = response.request.headers.get("Cookie", "")
    # a GET carrying the scenario's credentials (or none, anonymously) answers as expected
    if response.request.method == "GET" and (f"sessionid={key}" in sent_cookie if key else True):
        assert response.status_code == expected[case.path], (name, case.path, response.status_code,
                                                            response.text[:300])


# --- plain tests ------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/healthz", "/api/status", "/api/openapi.yaml"])
def test_each_scenario_answers_as_documented(scenario, wsgi_app, path):
    """Every (scenario, path) answer once, deterministically (the fuzzed run above only sees
    the credentials on some cases): GET validated by schemathesis, other methods 405 JSON."""
    name, key, expected = scenario
    response = SCHEMA[path]["GET"].Case().call_and_validate(**_explicit_session(key))
    assert response.status_code == expected[path], (name, path, response.text[:300])
    client = Client()
    if key:
        client.cookies["sessionid"] = key
    for method in ("post", "put", "patch", "delete"):
        refused = getattr(client, method)(path)
        if path == "/api/status" and not key:
            assert refused.status_code == 401, (name, method)
            continue
        assert refused.status_code == 405, (name, method, path)
        assert refused["Allow"] == "GET"
        assert refused.json() == {"error": "method not allowed"}


def test_the_served_document_is_the_file_and_a_valid_openapi_document(client):
    response = client.get("/api/openapi.yaml")  # anonymous: the document is public
    assert response.status_code == 200
    assert response["Content-Type"] == "application/yaml; charset=utf-8"
    assert response.content == OPENAPI_PATH.read_bytes()
    document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.1.")
    schemathesis.openapi.from_dict(document).validate()  # against the OpenAPI 3.1 meta-schema
    assert set(document["paths"]) == {"/healthz", "/api/status", "/api/openapi.yaml"}


def test_the_document_loads_from_the_running_app(wsgi_app):
    schema = schemathesis.openapi.from_wsgi("/api/openapi.yaml", wsgi_app)
    schema.validate()
    # (schemathesis leaves out the operation it loaded the document from)
    assert {op.ok().label for op in schema.get_all_operations()} >= {"GET /api/status", "GET /healthz"}


def test_every_documented_status_code_is_one_the_views_can_answer():
    document = yaml.safe_load(OPENAPI_PATH.read_text())
    codes = {path: set(op["get"]["responses"]) for path, op in document["paths"].items()}
    assert codes == {"/healthz": {"200", "405", "503"},
                     "/api/status": {"200", "401", "403", "405", "503"},
                     "/api/openapi.yaml": {"200", "405"}}


def _explicit_session(key: str | None) -> dict:
    """Call arguments sending the session: the cookie itself (werkzeug's client sends its own
    cookie jar, not a Cookie header) and the same as a header, which is how schemathesis
    learns it is explicit auth (its ignored_auth check then probes the endpoint without it
    and with a forged one)."""
    if not key:
        return {}
    return {"cookies": {"sessionid": key}, "headers": {"Cookie": f"sessionid={key}"}}


@pytest.fixture
def operator_session(role_user):
    client = Client()
    client.force_login(role_user(OPERATORS))
    return client.cookies["sessionid"].value


def _validate_status_body(body, wsgi_app, operator_session, monkeypatch):
    monkeypatch.setattr("console.views.node_status", lambda: body)
    case = SCHEMA["/api/status"]["GET"].Case()
    return case.call_and_validate(**_explicit_session(operator_session))


def test_the_schema_accepts_the_real_status(real_node, wsgi_app, operator_session, monkeypatch):
    from kernelhost.status import node_status

    status = node_status()
    assert len(status["vats"]) >= 5 and status["kernel"]["crankNumber"] > 0
    _validate_status_body(status, wsgi_app, operator_session, monkeypatch)


@pytest.mark.parametrize("breakage", [
    "no vats", "height as a string", "unknown field", "bad bundle id", "unknown kernel state",
    "paused without a reason", "vat with two sources", "short app hash",
])
def test_the_schema_rejects_a_broken_status_body(real_node, wsgi_app, operator_session, monkeypatch, breakage):
    """The contract test can fail: each deliberately broken body is refused by the schema."""
    from kernelhost.status import node_status

    tried("openapi: broken status bodies")
    status = json.loads(json.dumps(node_status()))
    vat = status["vats"][1]
    match breakage:
        case "no vats":
            del status["vats"]
        case "height as a string":
            status["chain"]["height"] = str(status["chain"]["height"])
        case "unknown field":
            status["kernel"]["secret"] = "x"
        case "bad bundle id":
            status["kernel"]["bundleID"] = "b1-" + "0" * 127
        case "unknown kernel state":
            status["kernel"]["state"] = "halted"
        case "paused without a reason":
            status["kernel"]["state"] = "paused"
        case "vat with two sources":
            vat["kernelVat"] = "vatAdmin"
        case "short app hash":
            status["chain"]["appHash"] = status["chain"]["appHash"][:-1]
    with pytest.raises(schemathesis.core.failures.FailureGroup) as failure:
        _validate_status_body(status, wsgi_app, operator_session, monkeypatch)
    assert "Response violates schema" in str(failure.value)


def test_anonymous_api_requests_get_401_json_and_pages_still_redirect(client):
    api = client.get("/api/status")
    assert api.status_code == 401
    assert api.json() == {"error": "authentication required"}
    assert api["WWW-Authenticate"] == 'Session realm="kernel-console"'
    page = client.get("/")
    assert page.status_code == 302 and page["Location"].startswith("/accounts/login/?next=")
