"""Bad input gets a 4xx that names the field, never a 500 and never a silent change
(API.md "Invalid input", DESIGN.md guarantee 4 "Clear errors"); times leave the API in UTC;
secrets never leave it at all."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calendar_app.timeutil import now_utc
from tests.conftest import Clock, Team

MISSING = object()  # a key left out of the request body


def assert_invalid(response: Any, field: str | None = None) -> dict[str, Any]:
    """A documented 4xx for bad input: `{"error": str, "fields": {<field>: <problem>}}`."""
    assert response.status_code in (400, 422), (response.status_code, response.get_data(True))
    payload = response.get_json()
    assert isinstance(payload, dict), response.get_data(as_text=True)
    assert isinstance(payload.get("error"), str), payload
    assert payload["error"], payload
    assert isinstance(payload.get("fields"), dict), payload
    if field is not None:
        named = [n for n in payload["fields"] if n == field or n.startswith(field + ".")]
        assert named, f"no problem reported for {field!r}: {payload}"
    return payload


def assert_json_error(response: Any, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.get_data(True))
    assert response.is_json, response.get_data(as_text=True)
    assert isinstance(response.get_json().get("error"), str)


def assert_utc(value: str, instant: datetime | None = None) -> None:
    assert value.endswith(("Z", "+00:00")), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0), value
    if instant is not None:
        assert parsed == instant, (value, instant)


def build(base: dict[str, Any], changes: dict[str, Any], channel_id: int) -> dict[str, Any]:
    """`base` with `changes` applied; a callable value gets the channel id, MISSING drops a key."""
    payload = dict(base)
    for key, value in changes.items():
        if value is MISSING:
            payload.pop(key, None)
        else:
            payload[key] = value(channel_id) if callable(value) else value
    return payload


def valid_post(channel_id: int) -> dict[str, Any]:
    return {
        "body": "Morgen ist Tag der offenen Tür.",
        "channels": [channel_id],
        "publish_at": "2026-12-01T09:00:00+01:00",
    }


# --- POST /posts ---------------------------------------------------------------------------

BAD_POSTS: list[Any] = [
    pytest.param({"body": MISSING}, "body", id="body missing"),
    pytest.param({"body": ""}, "body", id="body empty"),
    pytest.param({"body": "  \n\t "}, "body", id="body only whitespace"),
    pytest.param({"body": 42}, "body", id="body a number"),
    pytest.param({"body": None}, "body", id="body null"),
    pytest.param({"body": "Tag der\u0000Tür"}, "body", id="body with NUL"),
    pytest.param({"channels": MISSING}, "channels", id="channels missing"),
    pytest.param({"channels": []}, "channels", id="channels empty"),
    pytest.param({"channels": [999_999]}, "channels", id="channels unknown id"),
    pytest.param({"channels": lambda c: [c, 999_999]}, "channels", id="channels one unknown"),
    pytest.param({"channels": lambda c: [str(c)]}, "channels", id="channels strings"),
    pytest.param({"channels": lambda c: str(c)}, "channels", id="channels a string"),
    pytest.param({"channels": lambda c: [float(c) + 0.5]}, "channels", id="channels floats"),
    pytest.param({"channels": [0]}, "channels", id="channels zero"),
    pytest.param({"channels": [2**31]}, "channels", id="channels beyond an integer column"),
    pytest.param({"channels": [10**20]}, "channels", id="channels beyond 64 bits"),
    pytest.param({"channels": None}, "channels", id="channels null"),
    pytest.param({"publish_at": MISSING}, "publish_at", id="publish_at missing"),
    pytest.param({"publish_at": "2026-12-01T09:00:00"}, "publish_at", id="publish_at naive"),
    pytest.param({"publish_at": "2026-12-01"}, "publish_at", id="publish_at date only"),
    pytest.param({"publish_at": 1796112000}, "publish_at", id="publish_at a number"),
    pytest.param({"publish_at": "next tuesday"}, "publish_at", id="publish_at garbage"),
    pytest.param({"publish_at": ""}, "publish_at", id="publish_at empty"),
    pytest.param({"publish_at": None}, "publish_at", id="publish_at null"),
    pytest.param(
        {"publish_at": "2026-13-45T09:00:00+01:00"}, "publish_at", id="publish_at impossible"
    ),
    pytest.param(
        {"publish_at": "9999-12-31T23:59:59-01:00"}, "publish_at", id="publish_at after 9999 UTC"
    ),
    pytest.param(
        {"publish_at": "0001-01-01T00:00:00+01:00"}, "publish_at", id="publish_at before 1 UTC"
    ),
    pytest.param({"title": 42}, "title", id="title a number"),
    pytest.param({"title": "T" * 201}, "title", id="title too long"),
    pytest.param({"title": "\u0000"}, "title", id="title with NUL"),
    pytest.param({"crisis_response": "yes"}, "crisis_response", id="crisis_response string"),
    pytest.param({"crisis_response": "true"}, "crisis_response", id="crisis_response 'true'"),
    pytest.param({"crisis_response": 1}, "crisis_response", id="crisis_response 1"),
    pytest.param({"crisis_response": None}, "crisis_response", id="crisis_response null"),
    pytest.param({"crisis_response": [True]}, "crisis_response", id="crisis_response list"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_POSTS)
def test_creating_a_post_with_bad_input_names_the_field(
    team: Team, changes: dict[str, Any], field: str
) -> None:
    channel = team.channel()
    payload = build(valid_post(channel["id"]), changes, channel["id"])
    response = team.planner.post("/posts", json=payload)
    assert_invalid(response, field)
    assert team.planner.get("/posts").get_json()["items"] == [], "nothing may be stored"


def test_a_valid_post_is_accepted(team: Team) -> None:
    """The baseline the table above varies: each bad case differs from this in one field."""
    channel = team.channel()
    response = team.planner.post("/posts", json=valid_post(channel["id"]))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["status"] == "draft"


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        pytest.param(b'{"body": "Hallo", ', "application/json", id="truncated JSON"),
        pytest.param(b"{'body': 'Hallo'}", "application/json", id="single quotes"),
        pytest.param(b"body=Hallo", "application/json", id="form data as JSON"),
        pytest.param(b"\xff\xfe\x00", "application/json", id="not UTF-8"),
        pytest.param(b'["body", "channels"]', "application/json", id="JSON array"),
        pytest.param(b'"just a string"', "application/json", id="JSON string"),
        pytest.param(b"42", "application/json", id="JSON number"),
        pytest.param(b"null", "application/json", id="JSON null"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, "application/json", id="nested too deep"),
    ],
)
def test_a_request_body_that_is_not_a_json_object_is_bad_input(
    team: Team, raw: bytes, content_type: str
) -> None:
    team.channel()
    response = team.planner.post("/posts", data=raw, content_type=content_type)
    assert_invalid(response)


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        pytest.param(
            "/posts",
            '{"body": "Hallo \\ud800", "channels": [CHANNEL], '
            '"publish_at": "2026-12-01T09:00:00Z"}',
            "body",
            id="post body with a lone surrogate",
        ),
        pytest.param(
            "/posts",
            '{"body": "Hallo", "title": "\\udfff", "channels": [CHANNEL], '
            '"publish_at": "2026-12-01T09:00:00Z"}',
            "title",
            id="post title with a lone surrogate",
        ),
        pytest.param("/crisis", '{"reason": "Shitstorm \\ud83d"}', "reason", id="crisis reason"),
    ],
)
def test_text_that_is_not_valid_unicode_is_rejected_naming_the_field(
    team: Team, path: str, raw: str, field: str
) -> None:
    """JSON may escape half of a surrogate pair (`\\ud800`); no database can store that."""
    channel = team.channel()
    response = team.head.post(
        path, data=raw.replace("CHANNEL", str(channel["id"])), content_type="application/json"
    )
    assert_invalid(response, field)


def test_an_empty_request_body_names_the_missing_fields(team: Team) -> None:
    response = team.planner.post("/posts")
    payload = assert_invalid(response)
    assert {"body", "channels", "publish_at"} <= set(payload["fields"]), payload


# --- channel rules: length in grapheme clusters, never truncated --------------------------

SKIN_TONE_THUMB = "\U0001f44d\U0001f3fd"  # 👍🏽: two code points, one character on screen
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # 👨‍👩‍👧‍👦: seven
FLAG = "\U0001f1e9\U0001f1ea"  # 🇩🇪


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("x" * 280, id="280 letters"),
        pytest.param("ä" * 280, id="280 umlauts"),
        # X weighs an emoji 2, however many code points it has (twitter-text).
        pytest.param(SKIN_TONE_THUMB * 140, id="140 emoji with skin tone"),
        pytest.param(FAMILY * 140, id="140 family emoji"),
        pytest.param(FLAG * 140, id="140 flags"),
        pytest.param("e\u0301" * 280, id="280 combining accents"),
    ],
)
@pytest.mark.parametrize("kind", ["outbox", "webhook"])
def test_a_body_of_280_characters_fits_x_and_is_stored_in_full(
    team: Team, body: str, kind: str
) -> None:
    config = {"url": "http://127.0.0.1:9/hook", "secret": "s"} if kind == "webhook" else {}
    x = team.channel("Konzern-X", kind=kind, network="x", config=config)
    created = team.planner.post("/posts", json={**valid_post(x["id"]), "body": body})
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["body"] == body
    assert team.post(created.get_json()["id"])["body"] == body


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("x" * 281, id="281 letters"),
        pytest.param(SKIN_TONE_THUMB * 141, id="141 emoji with skin tone"),
        pytest.param(FAMILY * 141, id="141 family emoji"),
        pytest.param("Pressemitteilung: " + "Lorem ipsum dolor sit amet. " * 40, id="a release"),
    ],
)
@pytest.mark.parametrize("kind", ["outbox", "webhook"])
def test_a_body_over_the_x_limit_is_rejected_not_truncated(
    team: Team, body: str, kind: str
) -> None:
    """A webhook channel that feeds X still obeys X's 280 (API.md, Channels)."""
    config = {"url": "http://127.0.0.1:9/hook", "secret": "s"} if kind == "webhook" else {}
    x = team.channel("Konzern-X", kind=kind, network="x", config=config)
    response = team.planner.post("/posts", json={**valid_post(x["id"]), "body": body})
    assert_invalid(response, "body")
    assert team.planner.get("/posts").get_json()["items"] == []


def test_the_limit_of_the_strictest_channel_applies_to_a_multi_channel_post(team: Team) -> None:
    blog = team.channel("Blog", network="blog")
    x = team.channel("Konzern-X", network="x")
    long_text = "Ein langer Text für den Blog. " * 20
    assert (
        team.planner.post("/posts", json={**valid_post(blog["id"]), "body": long_text}).status_code
        == 201
    )
    response = team.planner.post(
        "/posts", json={**valid_post(blog["id"]), "channels": [blog["id"], x["id"]],
                        "body": long_text}
    )  # fmt: skip
    assert_invalid(response, "body")


def test_editing_a_body_over_the_limit_is_rejected_and_keeps_the_old_text(team: Team) -> None:
    x = team.channel("Konzern-X", network="x")
    post = team.draft([x["id"]], body="Kurz und gut.")
    response = team.planner.patch(f"/posts/{post['id']}", json={"body": "y" * 281})
    assert_invalid(response, "body")
    assert team.post(post["id"])["body"] == "Kurz und gut."


def test_moving_a_long_post_onto_x_is_rejected(team: Team) -> None:
    blog = team.channel("Blog", network="blog")
    x = team.channel("Konzern-X", network="x")
    post = team.draft([blog["id"]], body="z" * 500)
    response = team.planner.patch(f"/posts/{post['id']}", json={"channels": [x["id"]]})
    assert_invalid(response)
    assert team.post(post["id"])["body"] == "z" * 500
    assert [d["channel_id"] for d in team.post(post["id"])["deliveries"]] == [blog["id"]]


# --- PATCH /posts/<id> ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"body": None}, "body", id="body null"),
        pytest.param({"body": ""}, "body", id="body empty"),
        pytest.param({"publish_at": None}, "publish_at", id="publish_at null"),
        pytest.param({"publish_at": "2026-12-01T09:00:00"}, "publish_at", id="publish_at naive"),
        pytest.param({"publish_at": 1796112000}, "publish_at", id="publish_at number"),
        pytest.param({"publish_at": "9999-12-31T23:59:59-01:00"}, "publish_at", id="after 9999"),
        pytest.param({"channels": None}, "channels", id="channels null"),
        pytest.param({"channels": []}, "channels", id="channels empty"),
        pytest.param({"channels": [999_999]}, "channels", id="channels unknown"),
        pytest.param({"channels": ["1"]}, "channels", id="channels strings"),
        pytest.param({"crisis_response": "no"}, "crisis_response", id="crisis_response string"),
        pytest.param({"crisis_response": None}, "crisis_response", id="crisis_response null"),
        pytest.param({"title": None}, "title", id="title null"),
    ],
)
def test_editing_a_post_with_bad_input_names_the_field_and_changes_nothing(
    team: Team, changes: dict[str, Any], field: str
) -> None:
    channel = team.channel()
    post = team.draft([channel["id"]])
    response = team.planner.patch(f"/posts/{post['id']}", json=changes)
    assert_invalid(response, field)
    assert team.post(post["id"]) == post


# --- POST /channels ------------------------------------------------------------------------

WEBHOOK = {"url": "https://hooks.example.org/x", "secret": "s3cret"}

BAD_CHANNELS: list[Any] = [
    pytest.param({"name": MISSING}, "name", id="name missing"),
    pytest.param({"name": ""}, "name", id="name empty"),
    pytest.param({"name": "   "}, "name", id="name whitespace"),
    pytest.param({"name": 7}, "name", id="name a number"),
    pytest.param({"kind": MISSING}, "kind", id="kind missing"),
    pytest.param({"kind": "carrier-pigeon"}, "kind", id="kind unknown"),
    pytest.param({"kind": None}, "kind", id="kind null"),
    pytest.param({"network": "myspace"}, "network", id="network unknown"),
    pytest.param({"network": "X"}, "network", id="network wrong case"),
    pytest.param({"network": 1}, "network", id="network a number"),
    pytest.param({"config": "url=https://x"}, "config", id="config a string"),
    pytest.param({"config": {"secret": "s3cret"}}, "config.url", id="webhook without url"),
    pytest.param(
        {"config": {"url": "https://x.example"}}, "config.secret", id="webhook without secret"
    ),
    pytest.param({"config": {}}, "config", id="webhook without config"),
    pytest.param({"config": MISSING}, "config", id="webhook config missing"),
    pytest.param({"config": {**WEBHOOK, "secret": ""}}, "config.secret", id="webhook empty secret"),
    pytest.param({"config": {**WEBHOOK, "url": "ftp://example.org/x"}}, "config.url", id="ftp url"),
    pytest.param({"config": {**WEBHOOK, "url": "file:///etc/passwd"}}, "config.url", id="file url"),
    pytest.param({"config": {**WEBHOOK, "url": "hooks.example.org"}}, "config.url", id="no scheme"),
    pytest.param({"config": {**WEBHOOK, "url": "http://"}}, "config.url", id="no host"),
    pytest.param({"config": {**WEBHOOK, "url": 80}}, "config.url", id="url a number"),
]


@pytest.mark.parametrize(("changes", "field"), BAD_CHANNELS)
def test_creating_a_channel_with_bad_input_names_the_field(
    team: Team, changes: dict[str, Any], field: str
) -> None:
    base = {"name": "Konzern-X", "kind": "webhook", "network": "x", "config": WEBHOOK}
    response = team.admin.post("/channels", json=build(base, changes, 0))
    assert_invalid(response, field)
    assert team.admin.get("/channels").get_json()["items"] == []


def test_a_duplicate_channel_name_is_refused_naming_the_field(team: Team) -> None:
    team.channel("Konzern-X")
    response = team.admin.post("/channels", json={"name": "Konzern-X", "kind": "outbox"})
    # A name that is taken conflicts with what exists: 409 is as fitting as 400/422.
    assert response.status_code in (400, 409, 422), response.get_json()
    payload = response.get_json()
    assert payload["error"], payload
    assert "name" in payload["fields"], payload
    assert len(team.admin.get("/channels").get_json()["items"]) == 1


# --- crisis --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        pytest.param({}, "reason", id="reason missing"),
        pytest.param({"reason": ""}, "reason", id="reason empty"),
        pytest.param({"reason": "   "}, "reason", id="reason whitespace"),
        pytest.param({"reason": None}, "reason", id="reason null"),
        pytest.param({"reason": 5}, "reason", id="reason a number"),
        pytest.param({"reason": "Shit\u0000storm"}, "reason", id="reason with NUL"),
        pytest.param({"reason": "Shitstorm", "channels": [999_999]}, "channels", id="unknown"),
        pytest.param({"reason": "Shitstorm", "channels": []}, "channels", id="channels empty"),
        pytest.param({"reason": "Shitstorm", "channels": ["1"]}, "channels", id="strings"),
        pytest.param({"reason": "Shitstorm", "channels": "all"}, "channels", id="'all'"),
    ],
)
def test_declaring_a_crisis_with_bad_input_names_the_field_and_declares_nothing(
    team: Team, payload: dict[str, Any], field: str
) -> None:
    team.channel()
    response = team.head.post("/crisis", json=payload)
    assert_invalid(response, field)
    assert team.head.get("/crisis").get_json()["active"] is False


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param({}, id="note missing"),
        pytest.param({"note": ""}, id="note empty"),
        pytest.param({"note": "  "}, id="note whitespace"),
        pytest.param({"note": None}, id="note null"),
        pytest.param({"reason": "Lage geklärt"}, id="reason instead of note"),
    ],
)
def test_lifting_a_crisis_needs_a_note(team: Team, payload: dict[str, Any]) -> None:
    assert team.head.post("/crisis", json={"reason": "Shitstorm"}).status_code == 201
    response = team.head.post("/crisis/lift", json=payload)
    assert_invalid(response, "note")
    assert team.head.get("/crisis").get_json()["active"] is True


@pytest.mark.parametrize(
    "publish_at",
    [
        pytest.param("2026-12-01T09:00:00", id="naive"),
        pytest.param("soon", id="garbage"),
        pytest.param(1796112000, id="a number"),
        pytest.param("9999-12-31T23:59:59-01:00", id="after 9999 in UTC"),
    ],
)
def test_releasing_with_a_bad_publish_at_names_the_field(team: Team, publish_at: Any) -> None:
    channel = team.channel()
    post = team.scheduled([channel["id"]], at=now_utc() - timedelta(minutes=1))
    assert team.head.post("/crisis", json={"reason": "Shitstorm"}).status_code == 201
    assert team.post(post["id"])["status"] == "held"  # it was due: the declaration held it
    assert team.head.post("/crisis/lift", json={"note": "vorbei"}).status_code == 202
    assert team.head2.post("/crisis/lift/confirm").status_code == 200

    response = team.head.post(f"/posts/{post['id']}/release", json={"publish_at": publish_at})
    assert_invalid(response, "publish_at")
    assert team.post(post["id"])["status"] == "held"


# --- GET /posts filters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param({"status": "bogus"}, "status", id="status unknown"),
        pytest.param({"status": "Scheduled"}, "status", id="status wrong case"),
        pytest.param({"from": "2026-12-01T09:00:00"}, "from", id="from naive"),
        pytest.param({"from": "yesterday"}, "from", id="from garbage"),
        pytest.param({"to": "2026-12-01T09:00:00"}, "to", id="to naive"),
        pytest.param({"to": "2026-02-30T09:00:00Z"}, "to", id="to impossible date"),
        pytest.param({"from": "9999-12-31T23:59:59-01:00"}, "from", id="from after 9999 UTC"),
        pytest.param({"to": "0001-01-01T00:00:00+01:00"}, "to", id="to before year 1 UTC"),
        pytest.param({"channel": str(10**20)}, "channel", id="channel beyond 64 bits"),
        pytest.param({"channel": "abc"}, "channel", id="channel not a number"),
        pytest.param({"channel": "-1"}, "channel", id="channel negative"),
        pytest.param({"channel": "1.5"}, "channel", id="channel fraction"),
    ],
)
def test_listing_posts_with_a_bad_filter_names_the_filter(
    team: Team, query: dict[str, str], field: str
) -> None:
    response = team.planner.get("/posts", query_string=query)
    assert_invalid(response, field)


# --- unknown things and authentication ----------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/posts/999999", None),
        ("PATCH", "/posts/999999", {"body": "Neu"}),
        ("POST", "/posts/999999/submit", None),
        ("POST", "/posts/999999/approve", None),
        ("POST", "/posts/999999/release", {}),
        ("POST", "/posts/999999/discard", {}),
    ],
)
def test_an_unknown_post_id_is_a_json_404(
    team: Team, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = team.head._call(method, path, json=body)
    assert_json_error(response, 404)


@pytest.mark.parametrize("path", ["/nope", "/posts/1/publish-now", "/channels/1/secret"])
def test_an_unknown_api_path_is_a_json_404(team: Team, path: str) -> None:
    assert_json_error(team.admin.get(path), 404)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no header"),
        pytest.param("", id="empty header"),
        pytest.param("Bearer", id="scheme without token"),
        pytest.param("Bearer ", id="scheme and blank"),
        pytest.param("Bearer cal_not-a-real-token", id="unknown token"),
        pytest.param("Basic cGxhbm5lckBleGFtcGxlLm9yZzpjb3JyZWN0", id="basic auth"),
        pytest.param("{token}", id="token without scheme"),
        pytest.param("Token {token}", id="wrong scheme"),
        pytest.param("Bearer {token}x", id="token with an extra character"),
    ],
)
@pytest.mark.parametrize("path", ["/posts", "/channels", "/crisis"])
def test_a_missing_or_bad_token_is_a_json_401(
    team: Team, authorization: str | None, path: str
) -> None:
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization.format(token=team.tokens["admin"])
    response = team.client.get("/api/v1" + path, headers=headers)
    assert_json_error(response, 401)


def test_a_bad_token_cannot_write(team: Team) -> None:
    response = team.client.post(
        "/api/v1/crisis",
        json={"reason": "Shitstorm"},
        headers={"Authorization": "Bearer cal_forged"},
    )
    assert_json_error(response, 401)
    assert team.head.get("/crisis").get_json()["active"] is False


# --- times and secrets in responses --------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "instant"),
    [
        ("2026-12-01T09:00:00+01:00", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        ("2026-07-01T09:00:00+02:00", datetime(2026, 7, 1, 7, 0, tzinfo=UTC)),
        ("2026-12-01T09:00:00-05:00", datetime(2026, 12, 1, 14, 0, tzinfo=UTC)),
        ("2026-12-01T23:30:00-01:00", datetime(2026, 12, 2, 0, 30, tzinfo=UTC)),
        ("2026-12-01T09:00:00Z", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
        ("2026-12-01T09:00:00.250+00:00", datetime(2026, 12, 1, 9, 0, 0, 250000, tzinfo=UTC)),
    ],
)
def test_times_come_back_in_utc_as_the_same_instant(
    team: Team, sent: str, instant: datetime
) -> None:
    channel = team.channel()
    created = team.planner.post("/posts", json={**valid_post(channel["id"]), "publish_at": sent})
    assert created.status_code == 201, created.get_json()
    assert_utc(created.get_json()["publish_at"], instant)
    assert_utc(team.post(created.get_json()["id"])["publish_at"], instant)
    listed = team.planner.get("/posts").get_json()["items"]
    assert_utc(listed[0]["publish_at"], instant)


def test_every_time_in_a_published_post_and_a_crisis_is_utc(team: Team, make_dispatcher) -> None:
    clock = Clock()
    channel = team.channel()
    post = team.scheduled([channel["id"]], at=clock.now - timedelta(seconds=1))
    make_dispatcher(team.app, clock=clock).run_pass()
    published = team.post(post["id"])
    assert published["status"] == "published"
    assert_utc(published["publish_at"])
    assert_utc(published["deliveries"][0]["published_at"])

    crisis = team.head.post("/crisis", json={"reason": "Shitstorm"}).get_json()
    assert_utc(crisis["declared_at"])
    assert_utc(team.planner.get("/crisis").get_json()["declared_at"])


def test_the_channel_secret_is_never_returned(team: Team) -> None:
    secret = "hunter2-very-secret-signing-key"
    config = {"url": "https://hooks.example.org/x", "secret": secret}
    created = team.admin.post(
        "/channels", json={"name": "Konzern-X", "kind": "webhook", "network": "x", "config": config}
    )
    assert created.status_code == 201, created.get_json()
    assert secret not in created.get_data(as_text=True)
    assert created.get_json()["name"] == "Konzern-X"
    assert created.get_json()["kind"] == "webhook"

    for role in ("admin", "head", "planner"):
        listed = getattr(team, role).get("/channels")
        assert listed.status_code == 200
        assert secret not in listed.get_data(as_text=True)
        assert [c["name"] for c in listed.get_json()["items"]] == ["Konzern-X"]

    duplicate = team.admin.post(
        "/channels", json={"name": "Konzern-X", "kind": "webhook", "config": config}
    )
    assert secret not in duplicate.get_data(as_text=True)


def test_an_error_response_is_json_even_for_a_wrong_method(team: Team) -> None:
    response = team.admin._call("DELETE", "/crisis")
    assert response.status_code == 405
    assert response.is_json
    assert response.get_json()["error"]
