from __future__ import annotations

from tests.conftest import Team


def test_openapi_document_is_public_and_lists_every_endpoint(team: Team) -> None:
    response = team.anonymous.get("/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/health",
        "/channels",
        "/posts",
        "/posts/{post_id}",
        "/posts/{post_id}/submit",
        "/posts/{post_id}/approve",
        "/posts/{post_id}/release",
        "/posts/{post_id}/discard",
        "/crisis",
        "/crisis/lift",
        "/crisis/lift/confirm",
    }
    post_schema = document["components"]["schemas"]["PostCreate"]
    assert set(post_schema["required"]) == {"body", "channels", "publish_at"}


def test_health_needs_no_token(team: Team) -> None:
    assert team.anonymous.get("/health").get_json() == {"status": "ok"}
