"""schemathesis against the app's own OpenAPI document, through WSGI, as an admin.

Every operation gets a bounded, derandomised set of generated requests (valid and invalid: the
examples, coverage and fuzzing phases, positive and negative), its query parameters included;
every answer must be no server error and must match the documented status codes, content type
and schema (so the document says what the API really answers, and the API never answers a 500).
So that the run reaches every parameter, a test below checks that each query parameter a route
reads is in the document (tests/test_query_strings.py sends hostile values to every one too).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from calendar_app import create_app
from calendar_app.accounts import user_by_email
from calendar_app.api.openapi import document
from calendar_app.channels import create_channel
from calendar_app.extensions import get_db
from tests.conftest import SeededDatabase, make_config
from tests.support.recording import parameters_read, record_query_parameters

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 20


@pytest.fixture
def fuzzed_app(sqlite_db: SeededDatabase, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(make_config(sqlite_db.url, tmp_path, DECLARE_WAIT_SECONDS=0.5))
    with get_db(app).transaction() as session:  # something for the ids to find
        admin = user_by_email(session, "admin@example.org")
        assert admin is not None
        create_channel(session, admin, name="Outbox", kind="outbox")
    yield app
    get_db(app).dispose()


@pytest.fixture
def admin_token(sqlite_db: SeededDatabase) -> str:
    return sqlite_db.cast.tokens["admin"]


# The document the app serves (checked below) is a pure function of the schemas, so it can be
# loaded at collection time; schemathesis' lazy fixture loader does not run on pytest 9 yet.
schema = schemathesis.openapi.from_dict(document())


def test_the_fuzzed_document_is_the_one_served(fuzzed_app: Flask) -> None:
    served = fuzzed_app.test_client().get("/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.get_json() == document()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_documented_promises(
    case: schemathesis.Case, fuzzed_app: Flask, admin_token: str
) -> None:
    case.call_and_validate(
        app=fuzzed_app, headers={"Authorization": f"Bearer {admin_token}"}, checks=CHECKS
    )


def test_every_query_parameter_the_api_reads_is_documented(
    fuzzed_app: Flask, admin_token: str
) -> None:
    """Derived from the routing table and from what each route really reads."""
    client = record_query_parameters(fuzzed_app).test_client()
    headers = {"Authorization": f"Bearer {admin_token}"}
    documented = {
        path: {p["name"] for p in ops["get"].get("parameters", []) if p["in"] == "query"}
        for path, ops in document()["paths"].items()
        if "get" in ops
    }
    checked = 0
    for rule in fuzzed_app.url_map.iter_rules():
        if not rule.endpoint.startswith("api.") or "GET" not in (rule.methods or ()):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        read, status = parameters_read(client, re.sub(r"\{\w+\}", "1", "/api/v1" + path),
                                       headers=headers)  # fmt: skip
        assert status < 500, path
        assert read <= documented.get(path, set()), (path, read - documented.get(path, set()))
        checked += len(read)
    assert checked >= 9, "the posts filters, the page and the notifications' unread at least"
