"""The running API holds to its OpenAPI document (issue 12, item 7):
schemathesis reads ``/api/openapi.json`` from a real ``chatapp serve`` and sends
each operation valid and invalid input; every answer must be no 5xx, have a
status the document lists for that operation, a body that fits that status's
schema, the content type and headers it names (``Retry-After`` on 429 and
503), and a method the path does not list must get 405.

Who the requests act as, and why:

- ``fuzzer`` sends them with an API token (``Authorization: Bearer``), as a
  program would. With a token, ``POST /api/auth/logout`` and ``logout-all`` end
  sessions, never the token, so they stay in; fuzzing them with a session
  would end the run's own login. Registering or logging in under a token makes
  a session the run never uses.
- ``DELETE /api/tokens/{token_id}`` could revoke the token the run uses (ids are
  small numbers, which the fuzzer tries first), so it runs on its own, as
  ``keeper`` with a session cookie and the CSRF header: revoking any of
  keeper's tokens cannot end that session. It also puts the cookie scheme of
  the document to work.
- Registration and login keep throttles of their own (``THROTTLE_REGISTER`` is
  low), so both their answers and their 429 are checked. The login lock
  counts failures per account; the fuzzer's random names lock random accounts,
  never the two above, which log in only once.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from chatapp.bench.users import register
from tests.e2e.client import PASSWORD
from tests.e2e.server import base_env, chatapp_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DOCS_FILE = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"

MAX_EXAMPLES = 25  # per operation and generation mode
DEADLINE = timedelta(seconds=10)  # per example: a hung request fails, a slow machine does not
REQUEST_TIMEOUT = 10.0
REVOKE_TOKEN = ("/api/tokens/{token_id}", "DELETE")

CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
    openapi_checks.unsupported_method,
]


@pytest.fixture(scope="module")
def answers() -> Counter[tuple[str, int]]:
    """How many answers of each status each operation gave, over the module."""
    return Counter()


@pytest.fixture(scope="module")
def base(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("openapi-fuzz")
    env = base_env(
        DATABASE_URL=module_database_url,
        SECRET_KEY="fuzz-" + uuid.uuid4().hex * 2,
        CHATAPP_DATA_DIR=str(data / "data"),
        THROTTLE_REGISTER="5/minute",
        THROTTLE_LOGIN="20/minute",
    )
    with chatapp_server(env=env, log_path=data / "server.log", args=("--migrate",)) as url:
        yield url


@contextmanager
def _login(base: str, username: str) -> Iterator[httpx.Client]:
    """A client with ``username``'s session and CSRF cookies, registered just now."""
    session = asyncio.run(register(base, username, password=PASSWORD))
    with httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT) as client:
        client.cookies.set("sessionid", session)
        client.headers["X-CSRFToken"] = client.get("/api/csrf").json()["csrf_token"]
        yield client


@pytest.fixture(scope="module")
def fuzzer_token(base: str, keeper: dict[str, str]) -> str:
    """fuzzer's token; keeper registers first, before the fuzzer uses up the
    registration budget."""
    with _login(base, "fuzzer") as client:
        answer = client.post("/api/tokens", json={"name": "schemathesis"})
        assert answer.status_code == 201, answer.text
        token: str = answer.json()["token"]
    assert httpx.get(f"{base}/api/me", headers={"Authorization": f"Bearer {token}"}).is_success
    return token


@pytest.fixture(scope="module")
def keeper(base: str) -> dict[str, str]:
    """Headers of keeper's session, who holds a few tokens to be revoked."""
    with _login(base, "keeper") as client:
        for n in range(3):
            assert client.post("/api/tokens", json={"name": f"spare {n}"}).status_code == 201
        cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
        return {"Cookie": cookies, "X-CSRFToken": client.headers["X-CSRFToken"]}


# Loaded from docs/openapi.json, which the server serves byte for byte
# (test_the_server_serves_the_fuzzed_document): schemathesis's lazy loader from a
# fixture does not run under this pytest, and the operations must be known when
# the tests are collected.
schema = schemathesis.openapi.from_path(DOCS_FILE)
schema.config.update(request_timeout=REQUEST_TIMEOUT)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=MAX_EXAMPLES,
    # The run authenticates itself; made-up cookies and tokens would only
    # measure the 401, which tests/tokens/test_api.py holds.
    with_security_parameters=False,
)


def test_the_server_serves_the_fuzzed_document(base: str) -> None:
    assert httpx.get(f"{base}/api/openapi.json").content == DOCS_FILE.read_bytes()


FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=DEADLINE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@schema.exclude(path=REVOKE_TOKEN[0], method=REVOKE_TOKEN[1]).parametrize()
@FUZZ
def test_api_with_a_token_holds_to_its_document(
    case: Any, base: str, fuzzer_token: str, answers: Counter[tuple[str, int]]
) -> None:
    headers = {"Authorization": f"Bearer {fuzzer_token}"}
    response = case.call_and_validate(base_url=base, headers=headers, checks=CHECKS)
    answers[(case.operation.label, response.status_code)] += 1


@schema.include(path=REVOKE_TOKEN[0], method=REVOKE_TOKEN[1]).parametrize()
@FUZZ
def test_revoking_tokens_with_a_session_holds_to_its_document(
    case: Any, base: str, keeper: dict[str, str], answers: Counter[tuple[str, int]]
) -> None:
    response = case.call_and_validate(base_url=base, headers=keeper, checks=CHECKS)
    answers[(case.operation.label, response.status_code)] += 1


def test_the_fuzzing_reached_the_handlers(answers: Counter[tuple[str, int]]) -> None:
    """Runs after the fuzz tests (pytest keeps file order): the run was not
    all 401s and 400s, so the handlers' answers were checked too."""
    succeeded = {label for (label, status), _ in answers.items() if status < 300}
    assert len(succeeded) >= 15, answers
    assert "GET /api/me" in succeeded and "POST /api/tokens" in succeeded, answers
    assert sum(n for (_, status), n in answers.items() if status == 401) < answers.total() / 4
