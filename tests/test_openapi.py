from __future__ import annotations

import re

from tests.conftest import Team


def test_openapi_document_is_public_and_lists_every_endpoint(team: Team) -> None:
    response = team.anonymous.get("/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    # Every route of the API, with every method it answers, is in the document.
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1")), method.lower())
        for rule in team.app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi"
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert routes == documented
    assert ("/crisis/lift/confirm", "post") in documented
    post_schema = document["components"]["schemas"]["PostCreate"]
    assert set(post_schema["required"]) == {"body", "channels", "publish_at"}


def test_health_needs_no_token(team: Team) -> None:
    assert team.anonymous.get("/health").get_json() == {"status": "ok"}


def test_input_the_database_cannot_store_is_refused_not_a_500(any_team: Team) -> None:
    channel = any_team.channel()
    nul = any_team.planner.post(
        "/posts",
        json={"body": "a\x00b", "channels": [channel["id"]], "publish_at": "2026-12-01T09:00:00Z"},
    )
    assert nul.status_code == 422
    assert "body" in nul.get_json()["fields"]
    huge = any_team.planner.post(
        "/posts",
        json={"body": "ok", "channels": [2**40], "publish_at": "2026-12-01T09:00:00Z"},
    )
    assert huge.status_code == 422
    assert any_team.planner.get(f"/posts/{2**40}").status_code == 404
    assert any_team.planner.get(f"/posts?channel={2**40}").status_code == 422
