"""Schemathesis against the controller's OpenAPI schema: no request, valid or not, gets a 5xx, and
every answer is the one the schema documents (status, content type, body, headers).

Every operation of the schema is fuzzed in-process through the test world's ASGI client (no
network) as an administrator, as a commune editor and without a token, with data that fits the
schema, data that does not, and path parameters that name real objects of the world (so requests
get past the 404s into the services). Generation is seeded and derandomized, so a failure comes
back on the next run; a new API route is fuzzed with no change here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Ok
from schemathesis.generation import GenerationMode
from schemathesis.schemas import APIOperation, BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.controller.conftest import World, approved_bulletin, make_world

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
#: Examples per operation and role: (fitting the schema, not fitting it). Without a token every
#: operation but login, enrolment and media stops at the 401, so fewer examples find all there is.
EXAMPLES = {"admin": (8, 4), "editor_a": (8, 4), "anonymous": (3, 2)}
CONFIG = SchemathesisConfig.from_dict({"seed": 7})
ROLES = list(EXAMPLES)


@pytest.fixture(scope="module")
def api_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(tmp_path_factory.mktemp("api"))


@pytest.fixture(scope="module")
def logins(api_world: World) -> dict[str, dict[str, str]]:
    """Tokens got before any fuzzing: fuzzed logins soon trip the login limit of the address."""
    return {"admin": api_world.token("admin"), "editor_a": api_world.token("editor_a"), "anonymous": {}}


@pytest.fixture(scope="module")
def known(api_world: World, logins: dict[str, dict[str, str]]) -> dict[str, list[Any]]:
    """Real objects (in the editor's commune and in another) by the name of their path parameter."""
    w, admin = api_world, logins["admin"]
    approved = approved_bulletin(w)
    other = approved_bulletin(w, editor="editor_b", approver="approver_b", commune=w.commune_b)
    draft = w.client.post(
        "/api/v1/bulletins",
        json={"commune_id": w.commune_a, "title": "Nháp", "body": "Bản nháp."},
        headers=logins["editor_a"],
    )
    schedule = w.client.post(
        "/api/v1/schedules",
        json={"bulletin_id": approved["id"], "target_zone_id": w.village_a1, "in_seconds": 3600},
        headers=admin,
    )
    emergency = w.client.post(
        "/api/v1/emergencies", json={"bulletin_id": approved["id"], "zone_ids": [w.village_a1]}, headers=admin
    )
    entry = w.client.put(
        "/api/v1/lexicon", json={"kind": "abbreviation", "term": "TDP", "spoken": "tổ dân phố"}, headers=admin
    )
    token = w.client.post("/api/v1/tokens", json={"name": "fuzz"}, headers=admin)
    made = (draft, schedule, emergency, entry, token)
    assert all(r.status_code in (200, 201) for r in made), [r.text for r in made]
    return {
        "bulletin_id": [approved["id"], other["id"], draft.json()["id"]],
        "schedule_id": [schedule.json()["id"]],
        "emergency_id": [emergency.json()["id"]],
        "entry_id": [entry.json()["id"]],
        "token_id": [token.json()["id"]],
        "device_id": ["box-a1", "box-b1"],
        "zone_id": [w.commune_a, w.commune_b, w.village_a1],
        "sha256": [approved["media_sha256"]],
    }


@pytest.fixture(scope="module")
def api_schema(api_world: World) -> BaseSchema:
    raw = api_world.client.get("/openapi.json").json()
    return schemathesis.openapi.from_dict(raw, config=CONFIG)


def send(world: World, case: Case[Any], headers: dict[str, str]) -> httpx2.Response:
    """The case through the world's client (its app is running), encoded as schemathesis would."""
    kwargs = case.as_transport_kwargs(base_url=str(world.client.base_url), headers=headers)
    request = requests.Request(**kwargs).prepare()
    sent = {k: v if isinstance(v, str) else v.decode("latin-1") for k, v in request.headers.items()}
    body = request.body.encode() if isinstance(request.body, str) else request.body
    assert body is None or isinstance(body, bytes)  # prepared from data, never from a stream
    return world.client.request(request.method or "GET", request.url or "", headers=sent, content=body)


def cases(
    operation: APIOperation[Any, Any, Any, Any], known: dict[str, list[Any]]
) -> st.SearchStrategy[Case[Any]]:
    """Requests that fit the schema, half of them naming real objects in the path when there are."""
    names = [name for name in re.findall(r"{(\w+)}", operation.path) if name in known]
    if not names:
        return operation.as_strategy()
    real = st.fixed_dictionaries({name: st.sampled_from(known[name]) for name in names})
    return st.one_of(
        operation.as_strategy(), real.flatmap(lambda path: operation.as_strategy(path_parameters=path))
    )


def check(
    world: World, strategy: st.SearchStrategy[Case[Any]], headers: dict[str, str], examples: int
) -> None:
    # filter_too_much: to make data that does not fit, schemathesis filters out what would still fit,
    # and some operations have little room for that. No shrinking: the first failing request is
    # reported as it was sent (derandomized, it comes back on the next run).
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=[HealthCheck.filter_too_much],
    )
    @given(case=strategy)
    def run(case: Case[Any]) -> None:
        case.validate_response(send(world, case, headers), checks=CHECKS)

    run()


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_documented_and_never_with_a_server_error(
    api_world: World,
    api_schema: BaseSchema,
    known: dict[str, list[Any]],
    logins: dict[str, dict[str, str]],
    subtests: pytest.Subtests,
    role: str,
) -> None:
    fitting, unfitting = EXAMPLES[role]
    operations = []
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # an operation the schema cannot describe
        operations.append(result.ok())
    assert len(operations) > 40  # the whole API, not an empty schema
    for operation in operations:
        with subtests.test(msg=operation.label):
            check(api_world, cases(operation, known), logins[role], fitting)
            try:
                negative = operation.as_strategy(GenerationMode.NEGATIVE)
                check(api_world, negative, logins[role], unfitting)
            except Unsatisfiable:
                pass  # nothing of it can be made invalid (no body, no parameter but a path string)


def test_the_openapi_schema_is_valid(api_schema: BaseSchema) -> None:
    api_schema.validate()  # against the OpenAPI 3.1 meta-schema; raises on the first problem


def _describes(response: dict[str, Any]) -> bool:
    """JSON is described by a schema; audio and other files by their media type alone."""
    content: dict[str, dict[str, Any]] = response.get("content", {})
    return bool(content) and all(c.get("schema") or not t.endswith("json") for t, c in content.items())


def test_every_operation_documents_its_success_and_its_errors(api_schema: BaseSchema) -> None:
    undocumented = []
    for path, operations in api_schema.raw_schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            success = {code: r for code, r in responses.items() if code.startswith("2")}
            described = all(code == "204" or _describes(r) for code, r in success.items())
            problem = responses.get("default", {}).get("content", {}).get("application/problem+json")
            if not success or not described or problem is None:
                undocumented.append(f"{method.upper()} {path}")
    assert undocumented == []


@pytest.mark.parametrize("role", ROLES)
def test_health_and_readiness_answer_every_caller(
    api_world: World, logins: dict[str, dict[str, str]], role: str
) -> None:
    health = api_world.client.get("/healthz", headers=logins[role])
    ready = api_world.client.get("/readyz", headers=logins[role])
    assert health.status_code == 200 and health.json()["ok"] is True
    assert ready.status_code == 200 and ready.json()["ready"] is True
