"""The crisis rules over the API on SQLite and PostgreSQL (API.md "Crisis", DESIGN.md guarantees
1 and 2): one crisis at a time; what it holds and what it lets through; held posts wait for a
head's release or discard, never for the lift; two people to lift where configured; and an audit
log that records every decision and cannot be rewritten."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from calendar_app.extensions import get_db
from calendar_app.models import AuditEntry
from calendar_app.timeutil import iso_utc, now_utc
from tests.conftest import Clock, Team
from tests.support.receiver import Receiver, Reply
from tests.support.web import signed_in

# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def dispatch(any_team: Team, clock: Clock, make_dispatcher: Any) -> Callable[[], Any]:
    """One dispatch pass at the test's clock."""
    return make_dispatcher(any_team.app, clock=clock).run_pass


def webhook(team: Team, receiver: Receiver, name: str) -> dict[str, Any]:
    config = {"url": f"{receiver.url}/{name}", "secret": "s3cret"}
    return team.channel(name, kind="webhook", network="x", config=config)


def declare(team: Team, who: str = "head", **payload: Any) -> dict[str, Any]:
    response = getattr(team, who).post("/crisis", json={"reason": "Shitstorm", **payload})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def lift(team: Team, who: str = "head", confirmer: str | None = None) -> None:
    """Two people lift the crisis (the default): `who` requests, another head confirms."""
    requested = getattr(team, who).post("/crisis/lift", json={"note": "Lage geklärt"})
    assert requested.status_code == 202, requested.get_json()
    confirmer = confirmer or ("head2" if who != "head2" else "head")
    confirmed = getattr(team, confirmer).post("/crisis/lift/confirm")
    assert confirmed.status_code == 200, confirmed.get_json()


def sent_post_ids(receiver: Receiver) -> list[int]:
    return [body["post_id"] for body in receiver.bodies()]


def statuses(team: Team, post: dict[str, Any]) -> dict[int, str]:
    return {d["channel_id"]: d["status"] for d in team.post(post["id"])["deliveries"]}


@pytest.fixture
def held(any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any) -> dict[str, Any]:
    """A post that fell due during a crisis on its only channel, which is still in force."""
    hook = webhook(any_team, receiver, "Konzern-X")
    post = any_team.scheduled([hook["id"]], at=clock.now + timedelta(minutes=5))
    declare(any_team)
    clock.advance(minutes=10)
    dispatch()
    assert any_team.post(post["id"])["status"] == "held"
    assert receiver.snapshot() == []
    return post


# --- declaring and lifting -----------------------------------------------------------------


@pytest.mark.parametrize("second", ["head2", "admin"])
def test_a_second_declaration_while_one_is_active_is_a_conflict(
    any_team: Team, second: str
) -> None:
    first = declare(any_team, reason="Shitstorm: Sicherheitsdienst")
    response = getattr(any_team, second).post("/crisis", json={"reason": "Noch einer"})
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"]
    current = any_team.planner.get("/crisis").get_json()
    assert current["active"] is True
    assert current["id"] == first["id"]
    assert current["reason"] == "Shitstorm: Sicherheitsdienst"
    since = datetime.fromisoformat(current["declared_at"]).isoformat()
    assert response.get_json() == {
        "error": f"a crisis is already in force since {since} (declared by "
        "head@example.org: Shitstorm: Sicherheitsdienst); lift it first",
        "fields": {},
    }


@pytest.mark.parametrize(
    ("language", "error", "problem"),
    [
        ("en", "a crisis needs a reason", "must not be empty"),
        ("de", "eine Krise braucht einen Grund", "darf nicht leer sein"),
    ],
)
def test_a_declaration_with_a_blank_reason_says_so_in_the_askers_language(
    team: Team, language: str, error: str, problem: str
) -> None:
    response = team.head.post(
        "/crisis", json={"reason": "   "}, headers={"Accept-Language": language}
    )
    assert response.status_code == 422
    assert response.get_json() == {"error": error, "fields": {"reason": problem}}
    assert team.head.get("/crisis").get_json()["active"] is False


def test_a_second_scoped_declaration_while_one_is_active_is_a_conflict(any_team: Team) -> None:
    channel = any_team.channel()
    declare(any_team, channels=[channel["id"]])
    response = any_team.head2.post("/crisis", json={"reason": "Auch", "channels": [channel["id"]]})
    assert response.status_code == 409


def test_a_declaration_says_who_declared_why_and_for_which_channels(any_team: Team) -> None:
    x, blog = any_team.channel("Konzern-X")["id"], any_team.channel("Blog")["id"]
    declared = declare(any_team, who="head2", reason="Datenleck", channels=[x])
    assert declared["active"] is True
    assert declared["reason"] == "Datenleck"
    assert declared["declared_by"] == any_team.email("head2")
    assert declared["channels"] == [x]
    assert declared["in_flight"] == []
    shown = any_team.planner.get("/crisis").get_json()
    assert {k: shown[k] for k in ("active", "id", "reason", "channels")} == {
        "active": True,
        "id": declared["id"],
        "reason": "Datenleck",
        "channels": [x],
    }
    assert blog not in shown["channels"]
    lift(any_team)
    assert declare(any_team)["channels"] == "all"


def test_a_crisis_can_be_declared_again_once_lifted(any_team: Team) -> None:
    first = declare(any_team)
    lift(any_team)
    second = declare(any_team, reason="Neue Lage")
    assert second["id"] != first["id"]
    assert any_team.head.get("/crisis").get_json()["reason"] == "Neue Lage"


def test_lifting_when_no_crisis_is_in_force_is_a_conflict(any_team: Team) -> None:
    response = any_team.head.post("/crisis/lift", json={"note": "Alles gut"})
    assert response.status_code == 409, response.get_json()
    declare(any_team)
    lift(any_team)
    again = any_team.head2.post("/crisis/lift", json={"note": "Nochmal"})
    assert again.status_code == 409, again.get_json()


@pytest.mark.parametrize("payload", [{}, {"note": "   "}])
def test_lifting_needs_a_note(any_team: Team, payload: dict[str, Any]) -> None:
    declare(any_team)
    response = any_team.head.post("/crisis/lift", json=payload)
    assert response.status_code in (400, 422), response.get_json()
    assert "note" in response.get_json()["fields"]
    assert any_team.head.get("/crisis").get_json()["active"] is True


# --- what a crisis holds -------------------------------------------------------------------


def test_a_post_falling_due_during_a_crisis_is_held_and_not_sent(
    any_team: Team, held: dict[str, Any], receiver: Receiver
) -> None:
    [delivery] = any_team.post(held["id"])["deliveries"]
    assert delivery["status"] == "held"
    assert delivery["published_at"] is None
    assert receiver.snapshot() == []


def test_a_post_already_due_when_the_crisis_is_declared_is_held(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    hook = webhook(any_team, receiver, "Konzern-X")
    post = any_team.scheduled([hook["id"]], at=clock.now - timedelta(minutes=1))
    declare(any_team)  # before any dispatch pass saw it
    dispatch()
    assert receiver.snapshot() == []
    assert any_team.post(post["id"])["status"] == "held"


def test_held_posts_stay_held_after_the_lift_and_the_lift_sends_nothing(
    any_team: Team, held: dict[str, Any], receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    lift(any_team, who="head2")
    for _ in range(3):
        clock.advance(minutes=10)
        dispatch()
    assert receiver.snapshot() == [], "lifting must never publish held posts by itself"
    post = any_team.post(held["id"])
    assert post["status"] == "held"
    assert [d["status"] for d in post["deliveries"]] == ["held"]


def test_a_retry_that_falls_due_during_a_crisis_is_held(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    answers = iter([Reply(503), Reply(200)])
    receiver.reply = lambda _r: next(answers)
    hook = webhook(any_team, receiver, "Konzern-X")
    post = any_team.scheduled([hook["id"]], at=clock.now)
    dispatch()  # 503: a retry is planned
    declare(any_team)
    clock.advance(minutes=10)
    dispatch()
    assert len(receiver.snapshot()) == 1
    assert any_team.post(post["id"])["status"] == "held"

    lift(any_team)
    assert any_team.head.post(f"/posts/{post['id']}/release", json={}).status_code == 200
    clock.advance(minutes=1)
    dispatch()
    assert receiver.counts_by_key() == {str(post["deliveries"][0]["id"]): 2}
    assert any_team.post(post["id"])["status"] == "published"


def test_a_crisis_on_one_channel_holds_only_that_channels_deliveries(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    x, jobs = webhook(any_team, receiver, "x"), webhook(any_team, receiver, "jobs")
    due = clock.now + timedelta(minutes=5)
    on_both = any_team.scheduled([x["id"], jobs["id"]], at=due, body="Beide")
    only_x = any_team.scheduled([x["id"]], at=due, body="Nur X")
    only_jobs = any_team.scheduled([jobs["id"]], at=due, body="Nur Karriere")
    declare(any_team, channels=[x["id"]])
    clock.advance(minutes=10)
    dispatch()

    assert sorted(r.path for r in receiver.snapshot()) == ["/hook/jobs", "/hook/jobs"]
    assert sorted(sent_post_ids(receiver)) == sorted([on_both["id"], only_jobs["id"]])
    assert statuses(any_team, on_both) == {x["id"]: "held", jobs["id"]: "published"}
    assert any_team.post(on_both["id"])["status"] == "held"
    assert any_team.post(only_x["id"])["status"] == "held"
    assert any_team.post(only_jobs["id"])["status"] == "published"


@pytest.mark.parametrize(
    ("author", "approver", "approved"),
    [
        pytest.param("planner", "head", "during", id="planner's, approved by a head during"),
        pytest.param("head", "head", "during", id="head's own, approved by the head during"),
    ],
)
def test_a_crisis_response_approved_by_a_head_is_published_during_the_crisis(
    any_team: Team,
    receiver: Receiver,
    clock: Clock,
    dispatch: Any,
    author: str,
    approver: str,
    approved: str,
) -> None:
    hook = webhook(any_team, receiver, "Konzern-X")
    due = clock.now + timedelta(minutes=5)
    plain = any_team.scheduled([hook["id"]], at=due, body="Vorhang auf!")
    declare(any_team)
    response = any_team.scheduled(
        [hook["id"]],
        at=due,
        author=author,
        approver=approver,
        body="Wir nehmen die Vorwürfe ernst.",
        crisis_response=True,
    )
    clock.advance(minutes=10)
    dispatch()

    assert sent_post_ids(receiver) == [response["id"]]
    assert any_team.post(response["id"])["status"] == "published"
    assert any_team.post(plain["id"])["status"] == "held"


def test_a_post_due_after_the_lift_goes_out_as_planned(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    hook = webhook(any_team, receiver, "Konzern-X")
    declare(any_team)
    post = any_team.scheduled([hook["id"]], at=clock.now + timedelta(hours=1))
    lift(any_team)
    clock.advance(hours=1, seconds=1)
    dispatch()
    assert sent_post_ids(receiver) == [post["id"]]
    assert any_team.post(post["id"])["status"] == "published"


# --- release and discard -------------------------------------------------------------------


def test_releasing_now_while_the_crisis_is_in_force_is_refused_but_a_later_time_is_accepted(
    any_team: Team, held: dict[str, Any], receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    release = f"/posts/{held['id']}/release"
    now = any_team.head.post(release, json={})
    assert now.status_code == 409, now.get_json()
    assert now.get_json()["error"]
    past = any_team.head.post(release, json={"publish_at": iso_utc(now_utc() - timedelta(hours=1))})
    assert past.status_code == 409, past.get_json()
    assert any_team.post(held["id"])["status"] == "held"

    later = clock.now + timedelta(hours=2)
    accepted = any_team.head.post(release, json={"publish_at": iso_utc(later)})
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["status"] == "scheduled"
    lift(any_team)
    clock.advance(hours=1)
    dispatch()
    assert receiver.snapshot() == []
    clock.advance(hours=1, seconds=1)
    dispatch()
    assert sent_post_ids(receiver) == [held["id"]]


def test_a_refused_release_names_the_channels_the_crisis_still_holds_and_who_may_release(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    x, jobs = webhook(any_team, receiver, "Konzern-X"), webhook(any_team, receiver, "Karriere")
    post = any_team.scheduled([x["id"], jobs["id"]], at=clock.now + timedelta(minutes=5))
    declare(any_team, channels=[x["id"], jobs["id"]])
    clock.advance(minutes=10)
    dispatch()
    release = f"/posts/{post['id']}/release"

    refused = any_team.head.post(release, json={})
    assert refused.status_code == 409
    assert refused.get_json()["error"] == (
        "a crisis is still in force on Konzern-X, Karriere: releasing now would only hold the "
        "post again. Lift the crisis first, or release it at a later time."
    )
    assert refused.get_json()["fields"] == {
        "publish_at": "must be later while the crisis is in force"
    }
    by_a_planner = any_team.planner.post(release, json={})
    assert by_a_planner.status_code == 403
    assert by_a_planner.get_json()["error"] == (
        "only a communications head or an admin may release held posts"
    )
    assert any_team.post(post["id"])["status"] == "held"


def test_a_release_tells_the_author_who_released_it_for_when_and_is_audited_with_what_it_freed(
    any_team: Team, held: dict[str, Any]
) -> None:
    lift(any_team)
    released = any_team.head.post(
        f"/posts/{held['id']}/release", json={"publish_at": "2031-06-10T10:00:00Z"}
    )
    assert released.status_code == 200, released.get_json()

    [note, *_] = any_team.planner.get("/notifications").get_json()["items"]
    assert (note["kind"], note["text"]) == (
        "released",
        "Head (head@example.org) hat „Wir laden ein zum Tag der offenen Tür.“ wieder "
        "freigegeben; der Beitrag geht Di., 10. Juni, 12:00 hinaus.",
    )
    with get_db(any_team.app).transaction() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "release")).one()
        assert (entry.actor_id, entry.subject_id) == (any_team.ids["head"], held["id"])
        assert entry.detail == {
            "publish_at": "2031-06-10T10:00:00+00:00",
            "deliveries": {str(held["deliveries"][0]["id"]): "held"},
        }


def test_a_post_released_for_later_is_held_again_if_the_crisis_is_still_in_force_then(
    any_team: Team, held: dict[str, Any], receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    later = clock.now + timedelta(hours=1)
    released = any_team.head.post(
        f"/posts/{held['id']}/release", json={"publish_at": iso_utc(later)}
    )
    assert released.status_code == 200, released.get_json()
    clock.advance(hours=1, seconds=1)
    dispatch()
    assert receiver.snapshot() == []
    assert any_team.post(held["id"])["status"] == "held"


def test_a_crisis_on_another_channel_does_not_stop_a_release_now(
    any_team: Team, held: dict[str, Any], receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    lift(any_team)
    elsewhere = webhook(any_team, receiver, "Karriere")
    declare(any_team, reason="Streik im Werk", channels=[elsewhere["id"]])
    released = any_team.head.post(f"/posts/{held['id']}/release", json={})
    assert released.status_code == 200, released.get_json()
    clock.advance(seconds=1)
    dispatch()
    assert sent_post_ids(receiver) == [held["id"]]
    assert any_team.post(held["id"])["status"] == "published"


def test_a_release_at_a_later_time_is_sent_once_at_that_time_and_not_before(
    any_team: Team, held: dict[str, Any], receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    lift(any_team)
    at = (clock.now + timedelta(hours=3)).replace(microsecond=0)
    released = any_team.head2.post(
        f"/posts/{held['id']}/release", json={"publish_at": at.isoformat()}
    )
    assert released.status_code == 200, released.get_json()
    assert released.get_json()["status"] == "scheduled"
    assert datetime.fromisoformat(released.get_json()["publish_at"]) == at

    clock.advance(hours=2, minutes=59)
    dispatch()
    assert receiver.snapshot() == [], "not before the time it was released for"
    clock.advance(minutes=2)
    for _ in range(3):
        dispatch()
        clock.advance(minutes=10)
    assert receiver.counts_by_key() == {str(held["deliveries"][0]["id"]): 1}
    assert any_team.post(held["id"])["status"] == "published"


def test_a_release_without_a_time_after_the_lift_is_sent_on_the_next_pass(
    any_team: Team, held: dict[str, Any], receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    lift(any_team)
    released = any_team.admin.post(f"/posts/{held['id']}/release", json={})
    assert released.status_code == 200, released.get_json()
    assert released.get_json()["status"] == "scheduled"
    clock.advance(seconds=1)  # the clock is ahead of the time of the release
    dispatch()
    dispatch()
    assert sent_post_ids(receiver) == [held["id"]]


def test_the_post_page_shows_a_hold_only_while_it_lasts(
    any_team: Team, held: dict[str, Any], receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    browser = signed_in(any_team, "planner")
    assert "seit" in browser.get(f"/posts/{held['id']}").get_data(as_text=True)
    lift(any_team)
    assert any_team.admin.post(f"/posts/{held['id']}/release", json={}).status_code == 200
    clock.advance(seconds=1)
    dispatch()
    assert any_team.post(held["id"])["status"] == "published"
    page = browser.get(f"/posts/{held['id']}").get_data(as_text=True)
    channels = page.split("<tbody>")[1].split("</tbody>")[0]
    assert "seit" not in channels  # the held time is not shown as if it were still held


@pytest.mark.parametrize("lifted", [False, True], ids=["during the crisis", "after the lift"])
def test_a_discarded_held_post_is_never_sent(
    any_team: Team,
    held: dict[str, Any],
    receiver: Receiver,
    clock: Clock,
    dispatch: Any,
    lifted: bool,
) -> None:
    if lifted:
        lift(any_team)
    response = any_team.head.post(f"/posts/{held['id']}/discard", json={"reason": "überholt"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "discarded"
    if not lifted:
        lift(any_team)
    for _ in range(3):
        clock.advance(hours=1)
        dispatch()
    assert receiver.snapshot() == []
    post = any_team.post(held["id"])
    assert post["status"] == "discarded"
    assert [d["status"] for d in post["deliveries"]] == ["discarded"]
    assert any_team.head.post(f"/posts/{held['id']}/release", json={}).status_code == 409


# --- two people to lift --------------------------------------------------------------------


@pytest.mark.parametrize("confirmer", ["head2", "admin"])
def test_a_lift_requested_by_one_head_is_not_in_force_until_a_second_confirms(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any, confirmer: str
) -> None:
    hook = webhook(any_team, receiver, "Konzern-X")
    declare(any_team)
    requested = any_team.head.post("/crisis/lift", json={"note": "Lage geklärt"})
    assert requested.status_code == 202, requested.get_json()
    assert requested.get_json()["pending_confirmation"] is True
    assert any_team.planner.get("/crisis").get_json()["active"] is True

    post = any_team.scheduled([hook["id"]], at=clock.now)
    clock.advance(minutes=1)
    dispatch()
    assert receiver.snapshot() == [], "the crisis stays in force until confirmed"
    assert any_team.post(post["id"])["status"] == "held"

    same = any_team.head.post("/crisis/lift/confirm")
    assert same.status_code == 409, same.get_json()
    assert any_team.planner.get("/crisis").get_json()["active"] is True
    by_a_planner = any_team.planner.post("/crisis/lift/confirm")
    assert by_a_planner.status_code == 403
    assert by_a_planner.get_json()["error"] == (
        "only a communications head or an admin may confirm lifting a crisis"
    )

    confirmed = getattr(any_team, confirmer).post("/crisis/lift/confirm")
    assert confirmed.status_code == 200, confirmed.get_json()
    assert confirmed.get_json()["active"] is False
    assert confirmed.get_json()["lift_note"] == "Lage geklärt", "the requester's note stays"
    assert any_team.planner.get("/crisis").get_json()["active"] is False
    clock.advance(minutes=1)
    dispatch()
    assert receiver.snapshot() == [], "confirming the lift publishes nothing either"
    [lifted] = [e for e in audit_log(any_team) if e["action"] == "lift_crisis"]
    assert lifted["actor_id"] == any_team.ids[confirmer]
    assert lifted["reason"] == "Lage geklärt"


def test_a_second_request_to_lift_is_a_conflict_and_the_first_stands(any_team: Team) -> None:
    declare(any_team)
    assert any_team.head.post("/crisis/lift", json={"note": "Lage geklärt"}).status_code == 202
    again = any_team.head2.post("/crisis/lift", json={"note": "Ich auch"})
    assert again.status_code == 409, again.get_json()
    shown = any_team.planner.get("/crisis").get_json()
    assert shown["active"] is True
    assert shown["lift_requested_by"] == any_team.email("head")
    assert shown["lift_note"] == "Lage geklärt"
    asked_at = datetime.fromisoformat(shown["lift_requested_at"])
    assert now_utc() - timedelta(minutes=1) < asked_at <= now_utc()


@pytest.mark.parametrize("config_overrides", [{"CRISIS_LIFT_CONFIRMATIONS": 1}])
def test_where_one_person_is_enough_a_head_lifts_the_crisis_at_once_with_the_note(
    any_team: Team,
) -> None:
    declare(any_team)
    by_a_planner = any_team.planner.post("/crisis/lift", json={"note": "Lage geklärt"})
    assert by_a_planner.status_code == 403
    assert by_a_planner.get_json()["error"] == (
        "only a communications head or an admin may lift a crisis"
    )

    lifted = any_team.head.post("/crisis/lift", json={"note": "  Lage geklärt "})
    assert lifted.status_code == 200, lifted.get_json()
    body = lifted.get_json()
    assert (body["active"], body["lift_note"], body["lifted_by"]) == (
        False,
        "Lage geklärt",
        any_team.email("head"),
    )
    assert "pending_confirmation" not in body
    [entry] = [e for e in audit_log(any_team) if e["action"] == "lift_crisis"]
    assert (entry["actor_id"], entry["reason"]) == (any_team.ids["head"], "Lage geklärt")


def test_confirming_without_a_request_is_a_conflict(any_team: Team) -> None:
    declare(any_team)
    response = any_team.head2.post("/crisis/lift/confirm")
    assert response.status_code == 409, response.get_json()
    assert any_team.planner.get("/crisis").get_json()["active"] is True


@pytest.mark.parametrize("config_overrides", [{"CRISIS_LIFT_CONFIRMATIONS": 1}])
def test_with_one_confirmation_a_single_head_lifts_at_once(any_team: Team) -> None:
    declare(any_team)
    response = any_team.head.post("/crisis/lift", json={"note": "Lage geklärt"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["active"] is False
    assert "pending_confirmation" not in response.get_json()
    assert any_team.planner.get("/crisis").get_json()["active"] is False


# --- the audit log -------------------------------------------------------------------------


def audit_log(team: Team) -> list[dict[str, Any]]:
    with get_db(team.app).transaction() as session:
        return [
            {
                "action": e.action,
                "actor_id": e.actor_id,
                "subject_id": e.subject_id,
                "reason": e.reason,
                "at": e.at,
            }
            for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        ]


def test_the_audit_log_records_who_decided_what_and_why(
    any_team: Team, receiver: Receiver, clock: Clock, dispatch: Any
) -> None:
    team, ids = any_team, any_team.ids
    hook = webhook(team, receiver, "Konzern-X")
    kept = team.scheduled([hook["id"]], at=clock.now + timedelta(minutes=5), approver="head")
    dropped = team.scheduled([hook["id"]], at=clock.now + timedelta(minutes=5), approver="admin")
    crisis = declare(team, who="head", reason="Shitstorm: Sicherheitsdienst")
    clock.advance(minutes=10)
    dispatch()
    lift(team, who="head2", confirmer="head")
    assert team.admin.post(f"/posts/{kept['id']}/release", json={}).status_code == 200
    discarded = team.head.post(f"/posts/{dropped['id']}/discard", json={"reason": "überholt"})
    assert discarded.status_code == 200

    decisions = [
        {k: e[k] for k in ("action", "actor_id", "subject_id", "reason")}
        for e in audit_log(team)
        if e["action"]
        in ("approve", "declare_crisis", "request_lift", "lift_crisis", "release", "discard")
    ]
    assert decisions == [
        {"action": "approve", "actor_id": ids["head"], "subject_id": kept["id"], "reason": None},
        {"action": "approve", "actor_id": ids["admin"], "subject_id": dropped["id"],
         "reason": None},
        {"action": "declare_crisis", "actor_id": ids["head"], "subject_id": crisis["id"],
         "reason": "Shitstorm: Sicherheitsdienst"},
        {"action": "request_lift", "actor_id": ids["head2"], "subject_id": crisis["id"],
         "reason": "Lage geklärt"},
        {"action": "lift_crisis", "actor_id": ids["head"], "subject_id": crisis["id"],
         "reason": "Lage geklärt"},
        {"action": "release", "actor_id": ids["admin"], "subject_id": kept["id"], "reason": None},
        {"action": "discard", "actor_id": ids["head"], "subject_id": dropped["id"],
         "reason": "überholt"},
    ]  # fmt: skip
    assert all(e["at"] is not None for e in audit_log(team))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entries SET reason = 'nichts passiert'",
        "UPDATE audit_entries SET actor_id = NULL",
        "DELETE FROM audit_entries WHERE action = 'declare_crisis'",
    ],
)
def test_the_audit_log_refuses_update_and_delete(any_team: Team, statement: str) -> None:
    declare(any_team, reason="Shitstorm")
    lift(any_team)
    before = audit_log(any_team)
    assert {e["action"] for e in before} >= {"declare_crisis", "lift_crisis"}

    with pytest.raises(DBAPIError), get_db(any_team.app).transaction() as session:
        session.execute(text(statement))
    assert audit_log(any_team) == before


# --- a release that finds nothing says what happened meanwhile ------------------------------


def _set_delivery(team: Team, post_id: int, status: str, post_status: str | None = None) -> None:
    """What the scheduler made of a released post meanwhile (claimed, sending, published)."""
    with get_db(team.app).transaction() as session:
        session.execute(
            text("UPDATE deliveries SET status = :status WHERE post_id = :post"),
            {"status": status, "post": post_id},
        )
        if post_status is not None:
            session.execute(
                text("UPDATE posts SET status = :status WHERE id = :post"),
                {"status": post_status, "post": post_id},
            )


AT = r"at \d\d:\d\d UTC"


def _refused_release(team: Team, post: dict[str, Any]) -> str:
    """A second head's release of `post`: refused with 409; what it says."""
    late = team.head2.post(f"/posts/{post['id']}/release", json={})
    assert late.status_code == 409, late.get_json()
    return str(late.get_json()["error"])


@pytest.mark.parametrize("meanwhile", ["scheduled", "claimed", "publishing"])
def test_a_second_release_names_who_released_first_while_the_post_is_on_its_way(
    any_team: Team, held: dict[str, Any], meanwhile: str
) -> None:
    lift(any_team)
    assert any_team.head.post(f"/posts/{held['id']}/release", json={}).status_code == 200
    _set_delivery(any_team, held["id"], meanwhile)
    assert re.fullmatch(
        rf"post {held['id']} was already released by head@example.org {AT}; it is approved now",
        _refused_release(any_team, held),
    )


def test_a_release_after_a_discard_names_who_discarded(
    any_team: Team, held: dict[str, Any]
) -> None:
    discarded = any_team.head.post(f"/posts/{held['id']}/discard", json={"reason": "überholt"})
    assert discarded.status_code == 200
    assert re.fullmatch(
        rf"post {held['id']} was discarded by head@example.org {AT}: nothing to release",
        _refused_release(any_team, held),
    )


@pytest.mark.parametrize(
    ("delivery", "post_status", "word"),
    [("published", "published", "published"), ("failed", None, None)],
)
def test_a_release_of_what_already_went_out_says_there_is_nothing_to_release(
    any_team: Team, held: dict[str, Any], delivery: str, post_status: str | None, word: str | None
) -> None:
    """Released, then published: nothing waits. (A failed delivery may be released again.)"""
    lift(any_team)
    assert any_team.head.post(f"/posts/{held['id']}/release", json={}).status_code == 200
    _set_delivery(any_team, held["id"], delivery, post_status)
    again = any_team.head2.post(f"/posts/{held['id']}/release", json={})
    if word is None:
        assert again.status_code == 200, again.get_json()
        return
    assert again.status_code == 409
    assert again.get_json()["error"] == (
        f"post {held['id']} has nothing to release: only held, missed, failed or unknown "
        f"deliveries can be released (post status: {word})"
    )


def test_a_draft_has_nothing_to_release(any_team: Team) -> None:
    channel = any_team.channel()
    draft = any_team.planner.post(
        "/posts",
        json={"body": "Entwurf", "channels": [channel["id"]], "publish_at": iso_utc(now_utc())},
    ).get_json()
    refused = any_team.head.post(f"/posts/{draft['id']}/release", json={})
    assert refused.status_code == 409
    assert refused.get_json()["error"] == (
        f"post {draft['id']} has nothing to release: only held, missed, failed or unknown "
        "deliveries can be released (post status: a draft)"
    )


def test_every_refused_lift_says_exactly_why_and_the_lift_records_who_asked(team: Team) -> None:
    """The lift's refusals, in order of a crisis' life, each with its own reason; then the lift
    itself in the audit log: who asked, the note, and that held posts still wait for a review."""

    def answer(who: str, path: str, **payload: Any) -> tuple[int, dict[str, Any]]:
        response = getattr(team, who).post(path, json=payload or None)
        return response.status_code, response.get_json()

    none_in_force = (409, {"error": "no crisis is in force", "fields": {}})
    assert answer("head", "/crisis/lift", note="ruhig") == none_in_force
    assert answer("head", "/crisis/lift/confirm") == none_in_force
    held = team.scheduled([team.channel()["id"]], at=now_utc() - timedelta(seconds=1))
    crisis = declare(team, reason="Sturm")
    assert answer("head", "/crisis/lift/confirm") == (
        409,
        {"error": "nobody has asked to lift this crisis yet", "fields": {}},
    )
    assert answer("head", "/crisis/lift", note="  ") == (
        422,
        {"error": "lifting a crisis needs a note", "fields": {"note": "must not be empty"}},
    )
    status, requested = answer("head", "/crisis/lift", note=" ruhig ")
    assert (status, requested["lift_note"], requested["pending_confirmation"]) == (
        202,
        "ruhig",
        True,
    )
    assert answer("head2", "/crisis/lift", note="noch mal") == (
        409,
        {
            "error": "head@example.org already asked to lift this crisis; another head or an "
            "admin must confirm it",
            "fields": {},
        },
    )
    assert answer("head", "/crisis/lift/confirm") == (
        409,
        {
            "error": "the lift must be confirmed by someone other than who requested it",
            "fields": {},
        },
    )
    status, lifted = answer("head2", "/crisis/lift/confirm")
    assert (status, lifted["active"], lifted["lifted_by"]) == (200, False, "head2@example.org")

    with get_db(team.app).transaction() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "lift_crisis")).one()
        recorded = (entry.actor_id, entry.subject_id, entry.reason, entry.detail)
    assert recorded == (
        team.ids["head2"],
        crisis["id"],
        "ruhig",
        {"requested_by": "head@example.org", "deliveries_still_held": True, "held_at_lift": []},
    )
    assert team.post(held["id"])["status"] == "held"


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("topics", "t" * 61, "Text should have at most 60 characters, not 61"),
        ("keywords", "k" * 101, "Text should have at most 100 characters, not 101"),
    ],
)
def test_a_declaration_with_a_topic_or_keyword_too_long_says_how_long_it_may_be(
    team: Team, field: str, value: str, problem: str
) -> None:
    response = team.head.post("/crisis", json={"reason": "Sturm", field: [value]})
    assert response.status_code == 422
    assert response.get_json()["fields"] == {f"{field}.0": problem}
    assert team.head.get("/crisis").get_json()["active"] is False


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("topics", "t" * 61, "jedes Thema höchstens 60 Zeichen"),
        ("keywords", "k" * 101, "jedes Stichwort höchstens 100 Zeichen"),
    ],
)
def test_the_declare_form_shows_a_topic_or_keyword_too_long_at_its_field(
    team: Team, field: str, value: str, problem: str
) -> None:
    from tests.test_security import csrf_token, signed_in

    browser = signed_in(team.app, "head")
    token = csrf_token(browser, "/crisis/declare")
    refused = browser.post(
        "/crisis/declare",
        data={"csrf_token": token, "reason": "Sturm", "scope": "all", field: value},
    )
    assert refused.status_code == 422
    shown = re.findall(r'id="(\w+)-error">([^<]*)<', refused.get_data(as_text=True))
    assert shown == [(field, problem)]
    assert team.head.get("/crisis").get_json() == {"active": False}
