"""The crisis timeline (issue 8): one page per crisis, an HTML export for the debrief and the API
list declaration, statements published, holds, missed deliveries, acknowledgements, the lift
request and its confirmation, releases and discards, in order."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import time_machine

from calendar_app.timeutil import now_utc
from tests.conftest import Team
from tests.support.receiver import Receiver


def webhook(team: Team, receiver: Receiver, name: str) -> dict[str, Any]:
    config = {"url": f"{receiver.url}/{name}", "secret": "s3cret"}
    return team.channel(name, kind="webhook", config=config)


@pytest.fixture
def traveller() -> Iterator[time_machine.Traveller]:
    """The whole app's clock (the audit log's and the scheduler's), moved by the test."""
    with time_machine.travel(now_utc(), tick=True) as traveller:
        yield traveller


def a_crisis_from_start_to_debrief(
    team: Team, receiver: Receiver, traveller: time_machine.Traveller, make_dispatcher: Any
) -> dict[str, Any]:
    """Declared from a playbook, a statement goes out, posts are held and one is missed, the
    escalation list acknowledges, two heads lift it, and the held posts are reviewed."""
    x = webhook(team, receiver, "Konzern-X")
    blog = webhook(team, receiver, "Blog")
    playbook = team.head.post(
        "/playbooks",
        json={
            "name": "Störfall im Werk",
            "channels": [x["id"]],
            "keywords": ["Gewinnspiel"],
            "statements": {str(x["id"]): "Wir wissen von einem Vorfall im Werk."},
            "escalation": [{"user_id": team.ids["head2"]}],
        },
    ).get_json()
    at = now_utc() + timedelta(minutes=5)
    held_x = team.scheduled([x["id"]], at=at, title="Sommerfest")
    contest = team.scheduled([blog["id"]], at=at, title="Gewinnspiel", body="Unser Gewinnspiel!")
    free = team.scheduled([blog["id"]], at=at, title="Azubis", body="Wir suchen Azubis.")
    dispatcher = make_dispatcher(team.app)

    declared = team.head.post(
        "/crisis", json={"reason": "Brand in Halle 3", "playbook_id": playbook["id"]}
    )
    assert declared.status_code == 201, declared.get_json()
    crisis = declared.get_json()
    dispatcher.run_pass()  # the statement, due at the declaration, goes out
    traveller.shift(timedelta(minutes=10))
    dispatcher.run_pass()  # Sommerfest and Gewinnspiel are held, Azubis goes out
    assert team.head2.post("/crisis/acknowledge").status_code == 200

    # A post that was due long ago (the scheduler was down): missed, not sent.
    late = team.scheduled([blog["id"]], at=now_utc() + timedelta(minutes=1), title="Spät")
    traveller.shift(timedelta(minutes=45))
    dispatcher.run_pass()
    assert team.post(late["id"])["status"] == "missed"

    assert team.head.post("/crisis/lift", json={"note": "Lage geklärt"}).status_code == 202
    assert team.admin.post("/crisis/lift/confirm").status_code == 200
    assert team.head.post(f"/posts/{held_x['id']}/release", json={}).status_code == 200
    discarded = team.head.post(f"/posts/{contest['id']}/discard", json={"reason": "unpassend"})
    assert discarded.status_code == 200
    return {
        "crisis": crisis,
        "statement": crisis["statements"][0],
        "held_x": held_x,
        "contest": contest,
        "free": free,
        "late": late,
        "x": x,
        "blog": blog,
    }


def test_the_timeline_lists_the_crisis_in_order(
    any_team: Team,
    receiver: Receiver,
    traveller: time_machine.Traveller,
    make_dispatcher: Any,
) -> None:
    story = a_crisis_from_start_to_debrief(any_team, receiver, traveller, make_dispatcher)
    response = any_team.head.get(f"/crises/{story['crisis']['id']}/timeline")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["crisis"]["id"] == story["crisis"]["id"]
    assert body["crisis"]["active"] is False
    events = body["events"]
    kinds = [e["kind"] for e in events]
    assert kinds == [
        "declared",
        "playbook",
        "statement",
        "held",
        "held",
        "acknowledged",
        "missed",
        "lift_requested",
        "lifted",
        "released",
        "discarded",
    ]
    assert [e["at"] for e in events] == sorted(e["at"] for e in events), "oldest first"
    by_kind: dict[str, list[dict]] = {}
    for event in events:
        by_kind.setdefault(event["kind"], []).append(event)

    [declared] = by_kind["declared"]
    assert declared["actor"] == "Head"
    assert declared["note"] == "Brand in Halle 3"
    assert declared["channels"] == ["Konzern-X"]
    assert declared["detail"]["keywords"] == ["gewinnspiel"]
    assert by_kind["playbook"][0]["detail"] == {
        "playbook": "Störfall im Werk",
        "statements": 1,
        "alerted": 1,
    }
    [statement] = by_kind["statement"]
    assert statement["post_id"] == story["statement"]
    assert statement["channels"] == ["Konzern-X"]
    assert statement["note"] == "Wir wissen von einem Vorfall im Werk."
    # Held: the post in scope, and the keyword outside it; never what was free to go.
    held = {(e["post_id"], tuple(e["channels"])) for e in by_kind["held"]}
    assert held == {
        (story["held_x"]["id"], ("Konzern-X",)),
        (story["contest"]["id"], ("Blog",)),
    }
    assert story["free"]["id"] not in {e["post_id"] for e in events}
    assert by_kind["acknowledged"][0]["actor"] == "Head2"
    assert by_kind["missed"][0]["post_id"] == story["late"]["id"]
    assert by_kind["missed"][0]["actor"] is None  # the scheduler
    assert by_kind["lift_requested"][0]["actor"] == "Head"
    assert by_kind["lift_requested"][0]["note"] == "Lage geklärt"
    assert by_kind["lifted"][0]["actor"] == "Admin"
    assert by_kind["lifted"][0]["detail"]["requested_by"] == "head@example.org"
    # The review after the lift belongs to the crisis' timeline.
    assert by_kind["released"][0]["post_id"] == story["held_x"]["id"]
    assert by_kind["released"][0]["channels"] == ["Konzern-X"]
    assert by_kind["discarded"][0]["post_id"] == story["contest"]["id"]
    assert by_kind["discarded"][0]["note"] == "unpassend"


def test_a_later_crisis_has_its_own_timeline(
    team: Team, receiver: Receiver, traveller: time_machine.Traveller, make_dispatcher: Any
) -> None:
    story = a_crisis_from_start_to_debrief(team, receiver, traveller, make_dispatcher)
    second = team.head.post("/crisis", json={"reason": "Shitstorm"}).get_json()
    # A release after the next declaration is that crisis' business.
    assert team.head.post(f"/posts/{story['late']['id']}/discard", json={}).status_code == 200
    first = team.head.get(f"/crises/{story['crisis']['id']}/timeline").get_json()["events"]
    assert [e["kind"] for e in first].count("discarded") == 1
    later = team.head.get(f"/crises/{second['id']}/timeline").get_json()["events"]
    # The post released after the first crisis was not sent yet: the second one holds it again.
    assert [(e["kind"], e["post_id"]) for e in later] == [
        ("declared", None),
        ("held", story["held_x"]["id"]),
        ("discarded", story["late"]["id"]),
    ]
    # The first crisis' timeline keeps its own hold and release of that post.
    assert [(e["kind"], e["post_id"]) for e in first if e["kind"] in ("held", "released")] == [
        ("held", story["held_x"]["id"]),
        ("held", story["contest"]["id"]),
        ("released", story["held_x"]["id"]),
    ]


@pytest.mark.parametrize(
    ("role", "expected"),
    [("head", 200), ("admin", 200), ("planner", 403), ("anonymous", 401)],
)
def test_who_may_read_a_timeline(team: Team, role: str, expected: int) -> None:
    crisis = team.head.post("/crisis", json={"reason": "Shitstorm"}).get_json()
    response = getattr(team, role).get(f"/crises/{crisis['id']}/timeline")
    assert response.status_code == expected, response.get_json()
    assert team.head.get("/crises/999/timeline").status_code == 404


def test_the_page_and_the_debrief_export(
    team: Team, receiver: Receiver, traveller: time_machine.Traveller, make_dispatcher: Any
) -> None:
    from tests.test_security import signed_in

    story = a_crisis_from_start_to_debrief(team, receiver, traveller, make_dispatcher)
    crisis_id = story["crisis"]["id"]
    head = signed_in(team.app, "head")
    page = head.get(f"/crisis/{crisis_id}/timeline")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert f"/crisis/{crisis_id}/timeline.html" in text
    order = [text.index(word) for word in ("Brand in Halle 3", "Wir wissen von einem Vorfall",
                                           "Sommerfest", "Lage geklärt", "unpassend")]  # fmt: skip
    assert order == sorted(order)
    assert f"<dd>{team.app.config['CALENDAR'].TIMEZONE}</dd>" in text, "times on the team's clock"
    # Linked from the crisis page (earlier crises) and the audit log.
    link = f'href="/crisis/{crisis_id}/timeline"'
    assert link in head.get("/crisis").get_data(as_text=True)
    assert link in head.get("/audit").get_data(as_text=True)

    export = head.get(f"/crisis/{crisis_id}/timeline.html")
    assert export.status_code == 200
    assert export.mimetype == "text/html"
    disposition = export.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="crisis-{crisis_id}-timeline.html"'
    html = export.get_data(as_text=True)
    assert "<script" not in html, "no scripts"
    assert "<style" in html, "its styles are its own"
    assert 'rel="stylesheet"' not in html
    assert not re.search(r'(href|src)="/', html), "nothing to fetch from the app"
    assert html.index("Brand in Halle 3") < html.index("Sommerfest") < html.index("unpassend")

    planner = signed_in(team.app, "planner")
    assert planner.get(f"/crisis/{crisis_id}/timeline").status_code == 403
    assert planner.get(f"/crisis/{crisis_id}/timeline.html").status_code == 403
