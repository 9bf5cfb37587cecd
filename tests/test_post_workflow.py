"""A post's way through the workflow over the API (API.md "Posts"): draft, in review, scheduled,
published; edits after approval need a new approval; the list filters; and how a post with
several deliveries shows the one that most needs attention."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from calendar_app import interleave
from calendar_app.extensions import get_db
from calendar_app.models import AuditEntry
from tests.conftest import Clock, Team
from tests.support.receiver import Receiver, Reply
from tests.support.web import csrf_token, signed_in
from tests.test_post_news import in_review, kinds, news, speaks

# --- helpers -------------------------------------------------------------------------------


@pytest.fixture
def dispatch(team: Team, clock: Clock, make_dispatcher: Any) -> Any:
    """One dispatch pass at the test's clock."""
    return make_dispatcher(team.app, clock=clock).run_pass


def webhook(team: Team, receiver: Receiver, name: str = "Presse-Webhook") -> dict[str, Any]:
    config = {"url": f"{receiver.url}/{name}", "secret": "s3cret"}
    return team.channel(name, kind="webhook", config=config)


def statuses(post: dict[str, Any]) -> dict[int, str]:
    return {d["channel_id"]: d["status"] for d in post["deliveries"]}


# --- the happy path ------------------------------------------------------------------------


def test_a_post_goes_from_draft_through_review_to_published(
    team: Team, clock: Clock, dispatch: Any
) -> None:
    outbox = team.channel()
    post = team.draft([outbox["id"]], at=clock.now + timedelta(hours=1), title="Tag der Tür")
    assert post["status"] == "draft"
    assert post["author"] == team.email("planner")
    assert [d["channel_id"] for d in post["deliveries"]] == [outbox["id"]]

    submitted = team.planner.post(f"/posts/{post['id']}/submit")
    assert submitted.status_code == 200
    assert submitted.get_json()["status"] == "in_review"

    approved = team.head.post(f"/posts/{post['id']}/approve")
    assert approved.status_code == 200
    assert approved.get_json()["status"] == "scheduled"
    assert approved.get_json()["approved_by"] == team.email("head")
    approved_at = datetime.fromisoformat(approved.get_json()["approved_at"])
    assert abs(approved_at - datetime.now(UTC)) < timedelta(minutes=1)
    with get_db(team.app).transaction() as session:
        submit, entry = (
            session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == action,
                    AuditEntry.subject_type == "post",
                    AuditEntry.subject_id == post["id"],
                )
            ).one()
            for action in ("submit", "approve")
        )
        assert (submit.actor_id, submit.detail) == (team.ids["planner"], {})
        assert (entry.actor_id, entry.detail) == (
            team.ids["head"],
            {
                "publish_at": datetime.fromisoformat(post["publish_at"]).isoformat(),
                "crisis_response": False,
            },
        )

    dispatch()  # an hour early: nothing is due
    assert team.post(post["id"])["status"] == "scheduled"
    assert team.post(post["id"])["deliveries"][0]["published_at"] is None

    clock.advance(hours=1, seconds=1)
    dispatch()
    published = team.post(post["id"])
    assert published["status"] == "published"
    [delivery] = published["deliveries"]
    assert delivery["status"] == "published"
    assert delivery["error"] is None
    published_at = datetime.fromisoformat(delivery["published_at"])
    assert published_at.utcoffset() == timedelta(0)
    assert published_at >= datetime.fromisoformat(published["publish_at"])


def test_a_post_due_minutes_ago_when_approved_goes_out_on_the_next_pass(
    team: Team, clock: Clock, dispatch: Any, receiver: Receiver
) -> None:
    hook = webhook(team, receiver)
    post = team.scheduled([hook["id"]], at=clock.now - timedelta(minutes=5))
    dispatch()
    assert [b["post_id"] for b in receiver.bodies()] == [post["id"]]
    assert team.post(post["id"])["status"] == "published"


def test_a_post_due_days_ago_when_approved_is_missed_not_sent_late(
    team: Team, clock: Clock, dispatch: Any, receiver: Receiver
) -> None:
    hook = webhook(team, receiver)
    post = team.scheduled([hook["id"]], at=clock.now - timedelta(days=2))
    dispatch()
    assert receiver.snapshot() == []
    assert team.post(post["id"])["status"] == "missed"


# --- the workflow's order ------------------------------------------------------------------


def test_approving_a_draft_that_was_not_submitted_is_a_conflict(team: Team) -> None:
    post = team.draft([team.channel()["id"]])
    response = team.head.post(f"/posts/{post['id']}/approve")
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"] == (
        "only a post in review can be approved; this post is a draft"
    )
    assert team.post(post["id"])["status"] == "draft"


def test_submitting_twice_is_a_conflict(team: Team) -> None:
    post = team.draft([team.channel()["id"]])
    assert team.planner.post(f"/posts/{post['id']}/submit").status_code == 200
    response = team.planner.post(f"/posts/{post['id']}/submit")
    assert response.status_code == 409, response.get_json()
    assert team.post(post["id"])["status"] == "in_review"


def test_approving_twice_is_a_conflict(team: Team) -> None:
    post = team.scheduled([team.channel()["id"]])
    response = team.admin.post(f"/posts/{post['id']}/approve")
    assert response.status_code == 409, response.get_json()
    assert team.post(post["id"])["status"] == "scheduled"


def test_a_discarded_post_cannot_be_submitted_or_approved(team: Team) -> None:
    post = team.draft([team.channel()["id"]])
    assert team.planner.post(f"/posts/{post['id']}/discard", json={}).status_code == 200
    refused = team.planner.post(f"/posts/{post['id']}/submit")
    assert refused.status_code == 409
    assert refused.get_json()["error"] == (
        "only a draft can be submitted for approval; this post is discarded"
    )
    assert team.head.post(f"/posts/{post['id']}/approve").status_code == 409
    assert team.post(post["id"])["status"] == "discarded"


def test_a_post_in_review_is_not_submitted_twice(team: Team) -> None:
    post = team.draft([team.channel()["id"]])
    assert team.planner.post(f"/posts/{post['id']}/submit").status_code == 200
    again = team.planner.post(f"/posts/{post['id']}/submit")
    assert again.status_code == 409
    assert again.get_json()["error"] == (
        "only a draft can be submitted for approval; this post is in review"
    )
    assert kinds(team, "head") == ["waiting_for_approval"]  # the heads were told once


# --- editing -------------------------------------------------------------------------------


def test_editing_an_approved_post_sends_it_back_to_draft_and_it_waits_for_a_new_approval(
    team: Team, clock: Clock, dispatch: Any, receiver: Receiver
) -> None:
    hook = webhook(team, receiver)
    post = team.scheduled([hook["id"]], at=clock.now + timedelta(hours=1))

    edited = team.planner.patch(f"/posts/{post['id']}", json={"body": "Korrigierter Text."})
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["status"] == "draft"
    assert edited.get_json()["body"] == "Korrigierter Text."

    clock.advance(hours=1, minutes=10)  # its time has come and gone
    dispatch()
    assert receiver.snapshot() == [], "an edited post must not go out before a new approval"
    assert team.post(post["id"])["status"] == "draft"

    assert team.planner.post(f"/posts/{post['id']}/submit").status_code == 200
    assert team.head2.post(f"/posts/{post['id']}/approve").status_code == 200
    dispatch()
    assert [b["body"] for b in receiver.bodies()] == ["Korrigierter Text."]
    assert team.post(post["id"])["status"] == "published"


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"title": "Neuer Titel"}, id="title"),
        pytest.param({"publish_at": "2027-01-15T10:00:00+01:00"}, id="publish_at"),
    ],
)
def test_any_edit_of_an_approved_post_needs_a_new_approval(
    team: Team, change: dict[str, Any]
) -> None:
    post = team.scheduled([team.channel()["id"]])
    edited = team.planner.patch(f"/posts/{post['id']}", json=change)
    assert edited.status_code == 200, edited.get_json()
    assert edited.get_json()["status"] == "draft"


def test_an_edit_after_a_failed_attempt_leaves_nothing_of_that_attempt(
    team: Team, clock: Clock, dispatch: Any, receiver: Receiver
) -> None:
    receiver.reply = lambda _r: Reply(503)
    post = team.scheduled([webhook(team, receiver)["id"]], at=clock.now - timedelta(seconds=1))
    dispatch()
    [tried] = team.post(post["id"])["deliveries"]
    assert tried["error"] == (
        "attempt 1 failed: receiver answered HTTP 503 Service Unavailable; retrying"
    )

    edited = team.planner.patch(f"/posts/{post['id']}", json={"body": "Korrigierter Text."})
    assert edited.status_code == 200, edited.get_json()
    [afresh] = edited.get_json()["deliveries"]
    assert (afresh["status"], afresh["error"]) == ("scheduled", None)


def test_editing_a_draft_keeps_it_a_draft(team: Team) -> None:
    post = team.draft([team.channel()["id"]])
    edited = team.planner.patch(f"/posts/{post['id']}", json={"title": "Arbeitstitel"})
    assert edited.status_code == 200
    assert edited.get_json()["status"] == "draft"
    assert edited.get_json()["title"] == "Arbeitstitel"


def test_editing_a_published_post_is_a_conflict(team: Team, clock: Clock, dispatch: Any) -> None:
    post = team.scheduled([team.channel()["id"]], at=clock.now - timedelta(seconds=1))
    dispatch()
    assert team.post(post["id"])["status"] == "published"

    response = team.planner.patch(f"/posts/{post['id']}", json={"body": "Nachträglich"})
    assert response.status_code == 409, response.get_json()
    assert response.get_json()["error"] == (
        "this post has already been published on some channels and cannot be edited; create a "
        "new post instead"
    )
    assert team.post(post["id"])["body"] == post["body"]
    assert team.post(post["id"])["status"] == "published"


# --- the list and its filters --------------------------------------------------------------


@pytest.fixture
def planned(team: Team) -> dict[str, Any]:
    """Three posts on two channels, one each on 1, 2 and 3 December 2026 at 09:00 Berlin."""
    press, jobs = team.channel("Presse")["id"], team.channel("Karriere")["id"]
    days = {day: datetime(2026, 12, day, 8, 0, tzinfo=UTC) for day in (1, 2, 3)}
    draft = team.draft([press], at=days[1], body="Erster")
    in_review = team.draft([press, jobs], at=days[2], body="Zweiter")
    assert team.planner.post(f"/posts/{in_review['id']}/submit").status_code == 200
    scheduled = team.scheduled([jobs], at=days[3], body="Dritter")
    return {
        "press": press,
        "jobs": jobs,
        "draft": draft["id"],
        "in_review": in_review["id"],
        "scheduled": scheduled["id"],
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param({}, ["draft", "in_review", "scheduled"], id="everything"),
        pytest.param({"status": "draft"}, ["draft"], id="status draft"),
        pytest.param({"status": "in_review"}, ["in_review"], id="status in_review"),
        pytest.param({"status": "scheduled"}, ["scheduled"], id="status scheduled"),
        pytest.param({"status": "published"}, [], id="status published"),
        pytest.param({"from": "2026-12-02T00:00:00+01:00"}, ["in_review", "scheduled"], id="from"),
        pytest.param({"to": "2026-12-02T00:00:00+01:00"}, ["draft"], id="to"),
        pytest.param(
            {"from": "2026-12-01T12:00:00Z", "to": "2026-12-02T12:00:00Z"},
            ["in_review"],
            id="from and to",
        ),
        pytest.param(
            {"from": "2026-12-02T02:00:00-05:00", "to": "2026-12-02T04:00:00-05:00"},
            ["in_review"],
            id="from and to in another zone",
        ),
        pytest.param({"to": "2026-11-30T00:00:00Z"}, [], id="to before everything"),
        pytest.param(
            {"from": "2026-12-02T04:00:00-05:00", "to": "2026-12-02T05:00:00-05:00"},
            [],
            id="an hour in another zone with nothing in it",
        ),
        pytest.param({"channel": "press"}, ["draft", "in_review"], id="channel press"),
        pytest.param({"channel": "jobs"}, ["in_review", "scheduled"], id="channel jobs"),
        pytest.param({"channel": "press", "status": "in_review"}, ["in_review"], id="combined"),
        pytest.param(
            {"channel": "jobs", "from": "2026-12-03T00:00:00Z"}, ["scheduled"], id="channel+from"
        ),
    ],
)
def test_listing_posts_filters_by_status_time_and_channel(
    team: Team, planned: dict[str, Any], query: dict[str, str], expected: list[str]
) -> None:
    if "channel" in query:
        query = {**query, "channel": str(planned[query["channel"]])}
    response = team.planner.get("/posts", query_string=query)
    assert response.status_code == 200, response.get_json()
    found = {post["id"] for post in response.get_json()["items"]}
    assert found == {planned[name] for name in expected}


def test_a_from_bound_includes_a_post_at_exactly_that_time(
    team: Team, planned: dict[str, Any]
) -> None:
    response = team.planner.get("/posts", query_string={"from": "2026-12-03T09:00:00+01:00"})
    assert {p["id"] for p in response.get_json()["items"]} == {planned["scheduled"]}


# --- the status of a post with several deliveries ------------------------------------------


def test_one_failed_delivery_makes_the_post_failed(
    team: Team, dispatch: Any, clock: Clock, receiver: Receiver
) -> None:
    receiver.reply = lambda _r: Reply(400, body=b'{"error": "unknown account"}')
    hook, outbox = webhook(team, receiver), team.channel("Outbox")
    post = team.scheduled([hook["id"], outbox["id"]], at=clock.now - timedelta(seconds=1))
    dispatch()

    post = team.post(post["id"])
    assert post["status"] == "failed"
    assert statuses(post) == {hook["id"]: "failed", outbox["id"]: "published"}
    failed = next(d for d in post["deliveries"] if d["channel_id"] == hook["id"])
    assert "400" in failed["error"]


def test_a_post_is_published_when_every_delivery_is(
    team: Team, dispatch: Any, clock: Clock, receiver: Receiver
) -> None:
    hook, outbox = webhook(team, receiver), team.channel("Outbox")
    post = team.scheduled([hook["id"], outbox["id"]], at=clock.now - timedelta(seconds=1))
    dispatch()
    post = team.post(post["id"])
    assert statuses(post) == {hook["id"]: "published", outbox["id"]: "published"}
    assert post["status"] == "published"


def test_a_held_delivery_outranks_a_failed_one(
    team: Team, dispatch: Any, clock: Clock, receiver: Receiver
) -> None:
    receiver.reply = lambda _r: Reply(400)
    hook, outbox = webhook(team, receiver), team.channel("Outbox")
    post = team.scheduled([hook["id"], outbox["id"]], at=clock.now + timedelta(minutes=5))
    declared = team.head.post("/crisis", json={"reason": "Shitstorm", "channels": [outbox["id"]]})
    assert declared.status_code == 201
    clock.advance(minutes=6)
    dispatch()

    post = team.post(post["id"])
    assert statuses(post) == {hook["id"]: "failed", outbox["id"]: "held"}
    assert post["status"] == "held"


# --- discarding ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["head", "admin"])
def test_a_discarded_scheduled_post_is_never_sent(
    team: Team, dispatch: Any, clock: Clock, receiver: Receiver, who: str
) -> None:
    hook = webhook(team, receiver)
    post = team.scheduled([hook["id"]], at=clock.now + timedelta(hours=1))
    discarded = getattr(team, who).post(f"/posts/{post['id']}/discard", json={"reason": "veraltet"})
    assert discarded.status_code == 200, discarded.get_json()
    assert discarded.get_json()["status"] == "discarded"

    for _ in range(3):
        clock.advance(hours=1)
        dispatch()
    assert receiver.snapshot() == []
    post = team.post(post["id"])
    assert post["status"] == "discarded"
    assert statuses(post) == {hook["id"]: "discarded"}


# --- the refusals of an edit, word for word --------------------------------------------------


def test_a_discarded_post_cannot_be_edited_and_is_told_why(team: Team) -> None:
    post = team.draft([team.channel()["id"]])
    assert team.planner.post(f"/posts/{post['id']}/discard", json={}).status_code == 200
    refused = team.planner.patch(f"/posts/{post['id']}", json={"body": "Doch noch"})
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"] == "a discarded post cannot be edited"
    assert team.post(post["id"])["body"] == post["body"]


def test_a_post_on_the_wire_cannot_be_edited_until_its_outcome_is_known(
    team: Team, receiver: Receiver, clock: Clock, make_dispatcher: Any
) -> None:
    post = team.scheduled([webhook(team, receiver)["id"]], at=clock.now - timedelta(seconds=1))
    tried: list[Any] = []

    def planner_edits_while_it_is_sent() -> None:
        tried.append(team.planner.patch(f"/posts/{post['id']}", json={"body": "Korrektur"}))

    with interleave.at("send.before", planner_edits_while_it_is_sent):
        make_dispatcher(team.app, clock=clock).run_pass()

    [refused] = tried
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"] == (
        "this post is being sent right now and cannot be edited; wait for the outcome, or "
        "discard it"
    )
    assert [b["body"] for b in receiver.bodies()] == [post["body"]]
    assert team.post(post["id"])["status"] == "published"


def test_a_post_held_or_missed_somewhere_waits_for_a_head_and_an_edit_says_so(
    team: Team, clock: Clock, dispatch: Any
) -> None:
    """Held on the channel the crisis covers, missed on the other (its time passed while no
    scheduler ran): an edit would not take it out of a head's review, so it is refused."""
    covered, other = team.channel("Konzern-X")["id"], team.channel("Blog")["id"]
    post = team.scheduled([covered, other], at=clock.now + timedelta(minutes=1))
    declared = team.head.post("/crisis", json={"reason": "Sturm", "channels": [covered]})
    assert declared.status_code == 201, declared.get_json()
    clock.advance(minutes=32)
    dispatch()
    assert statuses(team.post(post["id"])) == {covered: "held", other: "missed"}

    refused = team.planner.patch(f"/posts/{post['id']}", json={"body": "Neuer Text"})
    assert refused.status_code == 409, refused.get_json()
    assert refused.get_json()["error"] == (
        "this post is held, missed and waits for a head's review: an edit does not take it out "
        "of the review. A head releases it (now or at a new time) or discards it; write a new "
        "post for a new text."
    )


# --- sending a post back to its author (a head's button on the approvals page) -------------


def send_back(team: Team, who: str, post_id: int, comment: str) -> str:
    """Press "send back" as `who` (speaking English) and return the message the page shows."""
    speaks(team, who, "en")
    browser = signed_in(team, who)
    page = browser.post(
        f"/posts/{post_id}/send-back",
        data={"csrf_token": csrf_token(browser, "/approvals"), "comment": comment},
        follow_redirects=True,
    ).get_data(as_text=True)
    [said] = re.findall(r'<p class="flash flash-\w+" role="status">([^<]*)</p>', page)
    return html.unescape(said)


def test_a_head_sends_a_post_back_with_the_comment_for_its_author_and_the_audit_log(
    team: Team,
) -> None:
    post = in_review(team, team.channel())
    said = send_back(team, "head", post["id"], "  Bitte ohne Emoji.  ")
    assert said == "Sent back to the author with your comment."
    assert team.post(post["id"])["status"] == "draft"
    [note] = news(team, "planner")
    assert (note["kind"], note["text"]) == (
        "sent_back",
        "Head (head@example.org) hat „Puppenmuseum“ als Entwurf an Sie zurückgegeben: "
        "Bitte ohne Emoji.",
    )
    with get_db(team.app).transaction() as session:
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "send_back", AuditEntry.subject_id == post["id"]
            )
        ).one()
        assert (entry.actor_id, entry.reason) == (team.ids["head"], "Bitte ohne Emoji.")


@pytest.mark.parametrize(
    ("who", "comment", "refusal"),
    [
        (
            "planner",
            "Bitte kürzer.",
            "only a communications head or an admin may send posts back to their authors",
        ),
        ("head", "   ", "say what should change when sending a post back"),
    ],
    ids=["a-planner", "no-comment"],
)
def test_sending_back_is_for_heads_and_says_what_to_change(
    team: Team, who: str, comment: str, refusal: str
) -> None:
    post = in_review(team, team.channel())
    assert send_back(team, who, post["id"], comment) == refusal
    assert team.post(post["id"])["status"] == "in_review"
    assert news(team, "planner") == []


@pytest.mark.parametrize(("status", "word"), [("draft", "a draft"), ("scheduled", "approved")])
def test_only_a_post_in_review_can_be_sent_back(team: Team, status: str, word: str) -> None:
    channel = team.channel()["id"]
    post = team.draft([channel]) if status == "draft" else team.scheduled([channel])
    said = send_back(team, "head", post["id"], "Bitte kürzer.")
    assert said == f"only a post in review can be sent back; this post is {word}"
    assert team.post(post["id"])["status"] == status
