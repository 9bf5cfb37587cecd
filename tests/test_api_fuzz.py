"""schemathesis against the app's own OpenAPI document, through WSGI, as an admin.

Every operation gets a bounded, derandomised set of generated requests (valid and invalid); every
answer must be no server error and must match the documented status codes, content type and
schema (so the document says what the API really answers, and the API never answers a 500).
"""

from __future__ import annotations

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
