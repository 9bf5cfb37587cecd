"""The failure we exist to prevent, end to end over the API with a real webhook receiver:
a cheerful post planned weeks ahead falls due during a crisis."""

from __future__ import annotations

from datetime import timedelta

from calendar_app.timeutil import iso_utc
from tests.conftest import Clock, Team
from tests.support.receiver import Receiver


def test_post_planned_weeks_ahead_is_held_during_crisis_and_sent_once_after_release(
    any_team: Team, receiver: Receiver, make_dispatcher
) -> None:
    team = any_team
    clock = Clock()
    dispatcher = make_dispatcher(team.app, clock=clock)
    hook = team.channel(
        "Konzern-X", kind="webhook", network="x", config={"url": receiver.url, "secret": "s3cret"}
    )
    puppet = team.scheduled(
        [hook["id"]],
        at=clock.now.replace(microsecond=0) + timedelta(weeks=3),
        title="Wir sponsern das Puppentheater-Museum",
        body="Vorhang auf! Ab heute sponsern wir das Puppentheater-Museum. 🎭",
    )
    assert dispatcher.run_pass().claimed == 0  # weeks ahead: nothing due

    # Weeks later, the day it falls due, a shitstorm about the company's security staff rages.
    clock.advance(weeks=3, minutes=-5)
    declared = team.head.post("/crisis", json={"reason": "Shitstorm: Sicherheitsdienst"})
    assert declared.status_code == 201
    assert declared.get_json()["active"] is True
    assert declared.get_json()["in_flight"] == []

    statement = team.crisis_response(
        [hook["id"]],
        at=clock.now,
        title="Stellungnahme",
        body="Wir nehmen die Vorwürfe ernst und klären sie auf.",
    )
    clock.advance(minutes=10)  # the puppet post is now due
    dispatcher.run_pass()

    assert [b["post_id"] for b in receiver.bodies()] == [statement["id"]]
    assert team.post(puppet["id"])["status"] == "held"
    assert team.post(puppet["id"])["deliveries"][0]["status"] == "held"
    assert team.post(statement["id"])["status"] == "published"

    requested = team.head.post("/crisis/lift", json={"note": "Lage geklärt"})
    assert requested.status_code == 202
    assert requested.get_json()["pending_confirmation"] is True
    lifted = team.head2.post("/crisis/lift/confirm")  # two people lift a crisis
    assert lifted.status_code == 200
    assert lifted.get_json()["active"] is False
    clock.advance(minutes=5)
    dispatcher.run_pass()
    assert len(receiver.snapshot()) == 1, "lifting must never publish held posts by itself"
    assert team.post(puppet["id"])["status"] == "held"

    # Released for the scheduler's "now" (its clock runs weeks ahead of the real one).
    released = team.head2.post(
        f"/posts/{puppet['id']}/release", json={"publish_at": iso_utc(clock.now)}
    )
    assert released.status_code == 200
    assert released.get_json()["status"] == "scheduled"
    clock.advance(seconds=1)
    for _ in range(3):
        dispatcher.run_pass()

    assert receiver.counts_by_key() == {
        str(statement["deliveries"][0]["id"]): 1,
        str(puppet["deliveries"][0]["id"]): 1,
    }
    assert team.post(puppet["id"])["status"] == "published"
    actions = [e for e in _audit_actions(team)]
    assert actions == [
        "approve",
        "declare_crisis",
        "approve",
        "hold",  # by the scheduler, naming the crisis
        "request_lift",
        "lift_crisis",
        "release",
    ]


def _audit_actions(team: Team) -> list[str]:
    from sqlalchemy import select

    from calendar_app.extensions import get_db
    from calendar_app.models import AuditEntry

    with get_db(team.app).transaction() as session:
        return [
            a
            for a in session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))
            if a not in ("create_channel", "submit")
        ]
