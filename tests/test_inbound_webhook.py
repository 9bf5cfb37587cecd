"""A webhook channel's signed inbound URL: items fed in by a sender that signs the raw body with
the channel's secret and a signed time against replays (as results come in), each item
stored once by its id."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from calendar_app.db import Database
from calendar_app.extensions import get_db
from calendar_app.listening.inbound import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from calendar_app.migrate import upgrade
from calendar_app.models import Channel, InboxItem
from calendar_app.timeutil import iso_utc, now_utc
from tests.conftest import Team
from tests.support.server import serving

SECRET = "kontaktformular-geheim"


def webhook_channel(team: Team, secret: str = SECRET) -> int:
    return team.channel(
        "Kontaktformular",
        kind="webhook",
        config={"url": "https://forms.stadtwerke.example/hook", "secret": secret},
    )["id"]


def body(*items: dict[str, Any]) -> bytes:
    return json.dumps({"items": list(items)}, ensure_ascii=False).encode()


def signed(raw: bytes, secret: str = SECRET, at: Any = None) -> dict[str, str]:
    """The headers a sender adds: the time and the signature over the time and the body."""
    timestamp = str(int((at or now_utc()).timestamp()))
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, raw),
    }


def item(id_: str, text: str = "Mein Zähler zeigt Unsinn", **extra: Any) -> dict[str, Any]:
    return {"id": id_, "author": {"handle": "kundin@mail.example", "name": "Kundin"}, "text": text,
            **extra}  # fmt: skip


def send(team: Team, channel_id: int, raw: bytes) -> Any:
    headers = signed(raw)
    return team.client.post(f"/api/v1/channels/{channel_id}/inbound", data=raw, headers=headers)


def stored(team: Team) -> int:
    with get_db(team.app).transaction() as session:
        return session.scalar(select(func.count()).select_from(InboxItem)) or 0


def test_signed_items_arrive_once_and_are_routed_like_any_other(any_team: Team) -> None:
    channel_id = webhook_channel(any_team)
    service = any_team.admin.post("/departments", json={"name": "Kundenservice"}).get_json()["id"]
    assert any_team.admin.post(
        "/inbox/rules", json={"keyword": "Zähler", "department_id": service}
    ).status_code == 201  # fmt: skip
    said = now_utc() - timedelta(minutes=3)
    raw = body(
        item("form-1", said_at=iso_utc(said), url="https://forms.stadtwerke.example/1"),
        item("form-2", "Wann ist das Wasserwerk offen?", kind="mention"),
        item("form-2", "Wann ist das Wasserwerk offen?"),  # the same id twice: stored once
    )

    first = send(any_team, channel_id, raw)
    again = send(any_team, channel_id, raw)  # a replay within the window stores nothing new

    assert first.status_code == 201, first.get_json()
    assert len(first.get_json()["stored"]) == 2
    assert first.get_json()["received"] == 2
    assert again.status_code == 200
    assert again.get_json()["stored"] == []
    assert stored(any_team) == 2
    items = {i["text"]: i for i in any_team.head.get("/inbox").get_json()["items"]}
    meter = items["Mein Zähler zeigt Unsinn"]
    assert meter["channel_id"] == channel_id
    assert meter["author"] == {"handle": "kundin@mail.example", "name": "Kundin"}
    assert meter["department"]["id"] == service  # the routing rule applied on arrival
    assert meter["status"] == "assigned"
    assert meter["url"] == "https://forms.stadtwerke.example/1"
    assert meter["received_at"] == iso_utc(said)


@pytest.mark.parametrize(
    ("case", "status", "says"),
    [
        ("unsigned", 401, SIGNATURE_HEADER),
        ("no time", 401, TIMESTAMP_HEADER),
        ("wrong secret", 401, "does not match"),
        ("body changed after signing", 401, "does not match"),
        ("time changed after signing", 401, "does not match"),
        ("too old", 401, TIMESTAMP_HEADER),
        ("from the future", 401, TIMESTAMP_HEADER),
        ("time not a number", 401, "unix seconds"),
        ("no items", 422, "items"),
        ("text missing", 422, "items.0.text"),
        ("naive said_at", 422, "items.0.said_at"),
        ("not JSON", 400, "JSON"),
    ],
)
def test_what_is_refused_says_why_and_stores_nothing(
    team: Team, case: str, status: int, says: str
) -> None:
    channel_id = webhook_channel(team)
    raw = body(item("1"))
    if case == "no items":
        raw = body()
    elif case == "text missing":
        raw = body({"id": "1", "author": {"handle": "x"}})
    elif case == "naive said_at":
        raw = body(item("1", said_at="2026-12-01T10:00:00"))
    elif case == "not JSON":
        raw = b"{items: 1"
    at = now_utc()
    if case == "too old":
        at -= timedelta(minutes=6)
    elif case == "from the future":
        at += timedelta(minutes=6)
    headers = signed(raw, "geraten" if case == "wrong secret" else SECRET, at)
    if case == "unsigned":
        del headers[SIGNATURE_HEADER]
    elif case == "no time":
        del headers[TIMESTAMP_HEADER]
    elif case == "body changed after signing":
        raw = raw.replace(b"Unsinn", b"Quatsch")
    elif case == "time changed after signing":
        headers[TIMESTAMP_HEADER] = str(int(headers[TIMESTAMP_HEADER]) + 1)
    elif case == "time not a number":
        headers[TIMESTAMP_HEADER] = "gestern"
    answer = team.client.post(f"/api/v1/channels/{channel_id}/inbound", data=raw, headers=headers)

    assert answer.status_code == status, answer.get_json()
    error = answer.get_json()
    assert says in error["error"] + json.dumps(error["fields"])
    assert stored(team) == 0


def test_only_an_active_webhook_channel_takes_items(team: Team) -> None:
    """Anything else answers as an unsigned request does: the URL tells nothing."""
    outbox = team.channel("Outbox")["id"]
    assert send(team, outbox, body(item("1"))).status_code == 401
    assert send(team, 999_999, body(item("1"))).status_code == 401
    channel_id = webhook_channel(team)
    with get_db(team.app).transaction() as session:
        session.get(Channel, channel_id).active = False
    assert send(team, channel_id, body(item("1"))).status_code == 401
    assert stored(team) == 0


def test_the_secret_is_read_from_its_encrypted_form(team: Team) -> None:
    channel_id = webhook_channel(team)
    with get_db(team.app).transaction() as session:
        assert session.get(Channel, channel_id).config["secret"] != SECRET  # sealed at rest
    assert send(team, channel_id, body(item("1"))).status_code == 201


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """The app served by a real WSGI server, with a webhook channel made on its database."""
    database_url = f"sqlite:///{tmp_path}/calendar.db"
    upgrade(database_url)
    db = Database(database_url)
    try:
        with db.transaction() as session:
            channel = Channel(
                name="Kontaktformular",
                kind="webhook",
                network="other",
                config={"url": "https://forms.stadtwerke.example/hook", "secret": SECRET},
            )
            session.add(channel)
            session.flush()
            channel_id = channel.id
    finally:
        db.dispose()
    with serving(tmp_path, database_url) as (url, _env):
        yield url, channel_id


def test_a_sender_over_real_http_feeds_items_in_once(served: tuple[str, int]) -> None:
    url, channel_id = served
    raw = body(item("ticket-4711", "Rechnung doppelt abgebucht"))
    headers = signed(raw)
    address = f"{url}/api/v1/channels/{channel_id}/inbound"

    first = httpx.post(address, content=raw, headers=headers, timeout=10)
    replayed = httpx.post(address, content=raw, headers=headers, timeout=10)
    forged = httpx.post(address, content=raw.replace(b"4711", b"4712"), headers=headers, timeout=10)

    assert first.status_code == 201, first.text
    assert replayed.status_code == 200
    assert replayed.json()["stored"] == []
    assert forged.status_code == 401
