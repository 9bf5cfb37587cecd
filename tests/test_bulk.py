"""Bulk actions (calendar_app/bulk.py): every post goes through the rule it meets alone, and
the answer says for each post what was done and what was refused and why."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from calendar_app.extensions import get_db
from calendar_app.timeutil import now_utc
from tests.conftest import Team
from tests.support.web import csrf_token, signed_in
from tests.test_campaigns import campaign


def bulk(team: Team, who: str = "planner", **payload: Any) -> dict[str, Any]:
    response = getattr(team, who).post("/posts/bulk", json=payload)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def by_id(answer: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {item["id"]: item for item in answer["items"]}


def held(team: Team, post_id: int) -> None:
    """Mark a post held, as a crisis does when it falls due (crisis_rules tests the path)."""
    with get_db(team.app).transaction() as session:
        session.execute(
            text("UPDATE deliveries SET status = 'held' WHERE post_id = :id"), {"id": post_id}
        )
        session.execute(text("UPDATE posts SET status = 'held' WHERE id = :id"), {"id": post_id})


def at(post: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(post["publish_at"])


def test_submit_submits_my_drafts_and_reports_the_rest(any_team: Team) -> None:
    team = any_team
    channel = team.channel()["id"]
    mine = team.draft([channel])
    theirs = team.draft([channel], author="planner2")
    approved = team.scheduled([channel])
    answer = bulk(team, action="submit", posts=[mine["id"], theirs["id"], approved["id"], 999999])
    results = by_id(answer)
    assert results[mine["id"]]["done"] is True
    assert results[mine["id"]]["status"] == "in_review"
    assert results[theirs["id"]]["done"] is False
    assert "only its author" in results[theirs["id"]]["error"]
    assert results[approved["id"]]["done"] is False
    assert "only a draft" in results[approved["id"]]["error"]
    assert results[999999] == {
        "id": 999999,
        "done": False,
        "status": None,
        "error": "post 999999 does not exist",
        "needs_confirmation": False,
    }
    assert (answer["done"], answer["refused"]) == (1, 3)
    # What was refused kept nothing; what was done stays done.
    assert team.post(theirs["id"])["status"] == "draft"
    assert team.post(mine["id"])["status"] == "in_review"


def test_move_needs_confirmation_for_approved_posts_and_never_moves_held_ones(
    any_team: Team,
) -> None:
    team = any_team
    channel = team.channel()["id"]
    draft = team.draft([channel])
    approved = team.scheduled([channel])
    stuck = team.scheduled([channel])
    held(team, stuck["id"])
    ids = [draft["id"], approved["id"], stuck["id"]]

    first = by_id(bulk(team, action="move", posts=ids, days=2))
    assert first[draft["id"]]["done"] is True
    assert at(team.post(draft["id"])) == at(draft) + timedelta(days=2)
    assert first[approved["id"]]["done"] is False
    assert first[approved["id"]]["needs_confirmation"] is True
    assert first[approved["id"]]["error"] == (
        "this post is approved: moving it makes it a draft again, it needs a new approval and "
        "its author is told; confirm to go ahead"
    )
    assert team.post(approved["id"])["status"] == "scheduled"
    assert at(team.post(approved["id"])) == at(approved)
    assert first[stuck["id"]]["done"] is False
    assert first[stuck["id"]]["error"] == (
        "a post that is held cannot be moved: held posts belong to the crisis review, "
        "published and discarded ones stay where they are"
    )

    confirmed = by_id(
        bulk(team, action="move", posts=[approved["id"], stuck["id"]], days=-1, confirm=True)
    )
    assert confirmed[approved["id"]]["done"] is True
    assert confirmed[approved["id"]]["status"] == "draft"  # a new approval is needed
    assert at(team.post(approved["id"])) == at(approved) - timedelta(days=1)
    assert confirmed[stuck["id"]]["done"] is False
    assert team.post(stuck["id"])["status"] == "held"


def test_a_stranger_cannot_move_or_reassign_posts_they_may_not_change(any_team: Team) -> None:
    team = any_team
    channel = team.channel()["id"]
    post = team.draft([channel])
    drive = campaign(team)
    moved = by_id(bulk(team, "planner2", action="move", posts=[post["id"]], days=1))
    assert moved[post["id"]]["done"] is False
    assert "only its author" in moved[post["id"]]["error"]
    assigned = by_id(
        bulk(team, "planner2", action="campaign", posts=[post["id"]], campaign_id=drive["id"])
    )
    assert assigned[post["id"]]["done"] is False
    assert team.post(post["id"])["campaign"] is None
    assert at(team.post(post["id"])) == at(post)


def test_assigning_a_campaign_follows_the_edit_rules(any_team: Team) -> None:
    team = any_team
    channel = team.channel()["id"]
    drive = campaign(team)
    draft = team.draft([channel])
    approved = team.scheduled([channel])
    answer = by_id(
        bulk(team, action="campaign", posts=[draft["id"], approved["id"]], campaign_id=drive["id"])
    )
    assert answer[draft["id"]]["done"] is True
    assert team.post(draft["id"])["campaign"]["id"] == drive["id"]
    assert answer[approved["id"]]["needs_confirmation"] is True
    assert answer[approved["id"]]["error"] == (
        "this post is approved: assigning a campaign makes it a draft again, it needs a new "
        "approval and its author is told; confirm to go ahead"
    )
    again = by_id(
        bulk(team, action="campaign", posts=[approved["id"]], campaign_id=drive["id"], confirm=True)
    )
    assert again[approved["id"]]["done"] is True
    assert team.post(approved["id"])["status"] == "draft"
    cleared = by_id(bulk(team, action="campaign", posts=[draft["id"]], campaign_id=None))
    assert cleared[draft["id"]]["done"] is True
    assert team.post(draft["id"])["campaign"] is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"action": "explode", "posts": [1]}, "action"),
        ({"action": "submit", "posts": []}, "posts"),
        ({"action": "move", "posts": [1]}, "days"),
        ({"action": "move", "posts": [1], "days": 0}, "days"),
        ({"action": "move", "posts": [1], "days": 10_000}, "days"),
        ({"action": "campaign", "posts": [1], "campaign_id": 999999}, "campaign_id"),
        ({"action": "submit", "posts": ["1"]}, "posts.0"),
    ],
)
def test_a_bad_bulk_request_is_refused_by_field(
    team: Team, payload: dict[str, Any], field: str
) -> None:
    response = team.planner.post("/posts/bulk", json=payload)
    assert response.status_code in (404, 422), response.get_json()
    assert field in response.get_json().get("fields", {}), response.get_json()


def test_the_agenda_moves_selected_posts_and_reports_each(team: Team) -> None:
    channel = team.channel()["id"]
    start = now_utc() + timedelta(days=1)
    mine = team.draft([channel], title="Meiner", at=start)
    approved = team.scheduled([channel], title="Freigegeben", at=start)
    browser = signed_in(team, "planner")
    agenda = browser.get("/agenda").get_data(as_text=True)
    assert 'name="post_ids"' in agenda
    response = browser.post(
        "/agenda/bulk",
        data={
            "csrf_token": csrf_token(browser, "/agenda"),
            "post_ids": [str(mine["id"]), str(approved["id"])],
            "action": "move",
            "days": "3",
        },
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert at(team.post(mine["id"])) == at(mine) + timedelta(days=3)
    assert at(team.post(approved["id"])) == at(approved)
    assert "Meiner" in page
    assert "Freigegeben" in page
    assert 'class="bulk-report"' in page
    # The pages speak German by default.
    assert "um 3 Tage verschoben" in page
    assert "neue Freigabe" not in page.split("Meiner")[1].split("</li>")[0]
    confirmed = browser.post(
        "/agenda/bulk",
        data={
            "csrf_token": csrf_token(browser, "/agenda"),
            "post_ids": [str(approved["id"])],
            "action": "move",
            "days": "3",
            "confirm": "1",
        },
    ).get_data(as_text=True)
    assert "um 3 Tage verschoben (er braucht eine neue Freigabe)" in confirmed
    assert team.post(approved["id"])["status"] == "draft"
    nothing = browser.post(
        "/agenda/bulk",
        data={"csrf_token": csrf_token(browser, "/agenda"), "action": "submit"},
    )
    assert nothing.status_code == 422
    assert "Wählen Sie mindestens einen Beitrag aus." in nothing.get_data(as_text=True)


def test_a_move_keeps_the_time_of_day_across_daylight_saving(team: Team) -> None:
    channel = team.channel()["id"]
    berlin = ZoneInfo("Europe/Berlin")
    saturday = datetime(2027, 3, 27, 9, 0, tzinfo=berlin)  # the clocks go forward that night
    post = team.draft([channel], at=saturday)
    assert by_id(bulk(team, action="move", posts=[post["id"]], days=1))[post["id"]]["done"]
    assert at(team.post(post["id"])).astimezone(berlin) == datetime(
        2027, 3, 28, 9, 0, tzinfo=berlin
    )
