"""Time to first answer, per department and channel, over 7 and 30 days: answered means a reply
written in the inbox or closed as answered elsewhere; the clock is controlled."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from calendar_app.extensions import get_db
from calendar_app.listening import inbox, replies
from calendar_app.listening.answer_times import percentile
from calendar_app.listening.mastodon import Heard
from calendar_app.models import InboxItem, User
from calendar_app.web.formatting import wait_label
from tests.conftest import Team
from tests.support.web import csrf_token, signed_in

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def heard(remote_id: str, said: datetime, text: str = "Frage") -> Heard:
    return Heard(remote_id, "mention", "@kundin@x", "Kundin", text, None, None, said)


def department(team: Team, name: str) -> int:
    response = team.admin.post("/departments", json={"name": name})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


@pytest.mark.parametrize(
    ("values", "median", "p90"),
    [([1.0], 1.0, 1.0), ([1.0, 2.0], 1.5, 2.0), ([float(i) for i in range(1, 11)], 5.5, 9.0)],
)
def test_the_90th_percentile_is_one_of_the_values_by_nearest_rank(
    values: list[float], median: float, p90: float
) -> None:
    assert percentile(values, 0.9) == p90
    assert statistics.median(values) == median


@pytest.mark.parametrize(
    ("minutes", "label"),
    [(None, "—"), (0.4, "0 min"), (59, "59 min"), (61, "1 h 1 min"), (60 * 26 + 5, "1 d 2 h")],
)
def test_a_wait_reads_as_people_say_it(app: Any, minutes: float | None, label: str) -> None:
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert wait_label(None if minutes is None else timedelta(minutes=minutes)) == label


def test_time_to_first_answer_per_department_and_channel_over_7_and_30_days(
    any_team: Team,
) -> None:
    service = department(any_team, "Kundenservice")
    phone = any_team.channel("Telefonnotizen")["id"]
    social = any_team.channel("Mastodon Stadtwerke")["id"]
    db = get_db(any_team.app)
    said = {
        "hour": NOW - timedelta(hours=1),  # answered by a reply after 10 min
        "days3": NOW - timedelta(days=3),  # answered by a reply after 30 min
        "days10": NOW - timedelta(days=10),  # answered by a reply after 2 h: only in 30 days
        "phone": NOW - timedelta(hours=2),  # closed as answered elsewhere after 5 min
        "ignored": NOW - timedelta(hours=3),  # closed without an answer: unanswered
        "open": NOW - timedelta(hours=4),  # nobody answered yet
        "old": NOW - timedelta(days=40),  # outside both windows
    }
    with db.transaction() as session:
        ids = dict(
            zip(
                ["hour", "days3", "days10", "old"],
                inbox.store(
                    session, social, [heard(k, said[k]) for k in ("hour", "days3", "days10", "old")]
                ),
                strict=True,
            )
        )
        ids.update(
            zip(
                ["phone", "ignored", "open"],
                inbox.store(
                    session, phone, [heard(k, said[k]) for k in ("phone", "ignored", "open")]
                ),
                strict=True,
            )
        )
        head = session.get(User, any_team.ids["head"])
        for key in ("hour", "days3", "days10"):
            item = session.get(InboxItem, ids[key])
            inbox.assign(session, head, item, department_id=service)

    def reply(key: str, after: timedelta) -> None:
        with time_machine.travel(said[key] + after, tick=False), db.transaction() as session:
            actor = session.get(User, any_team.ids["head"])
            item = session.get(InboxItem, ids[key])
            replies.reply_to_item(session, actor, item, body="Wir kümmern uns.")

    reply("hour", timedelta(minutes=10))
    reply("days3", timedelta(minutes=30))
    reply("days10", timedelta(hours=2))
    reply("hour", timedelta(minutes=40))  # a second reply: the first answer stays
    with time_machine.travel(said["phone"] + timedelta(minutes=5), tick=False):
        closed = any_team.head.post(f"/inbox/{ids['phone']}/close", json={"answered": True})
        assert closed.status_code == 200, closed.get_json()
        assert closed.get_json()["first_answer_at"] == "2026-11-30T10:05:00Z"
    assert any_team.head.post(f"/inbox/{ids['ignored']}/close", json={}).status_code == 200

    with time_machine.travel(NOW, tick=False):
        answer = any_team.head.get("/inbox/answer-times")
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert "closed as answered elsewhere" in body["definition"]
    week, month = body["windows"]
    assert week["days"] == 7
    assert month["days"] == 30
    assert week["overall"] == {
        "answered": 3, "unanswered": 2, "median_minutes": 10.0, "p90_minutes": 30.0
    }  # fmt: skip
    assert month["overall"] == {
        "answered": 4, "unanswered": 2, "median_minutes": 20.0, "p90_minutes": 120.0
    }  # fmt: skip
    by_department = {d["name"]: d for d in week["departments"]}
    assert by_department["Kundenservice"] == {
        "department_id": service, "name": "Kundenservice",
        "answered": 2, "unanswered": 0, "median_minutes": 20.0, "p90_minutes": 30.0,
    }  # fmt: skip
    assert by_department[""]["department_id"] is None
    assert by_department[""]["answered"] == 1
    assert by_department[""]["unanswered"] == 2
    by_channel = {c["channel_id"]: c for c in month["channels"]}
    assert by_channel[social]["median_minutes"] == 30.0
    assert by_channel[social]["p90_minutes"] == 120.0
    assert by_channel[phone] == {
        "channel_id": phone, "name": "Telefonnotizen",
        "answered": 1, "unanswered": 2, "median_minutes": 5.0, "p90_minutes": 5.0,
    }  # fmt: skip

    # A planner sees the figures of the items they may see: here the unrouted ones only.
    with time_machine.travel(NOW, tick=False):
        theirs = any_team.planner.get("/inbox/answer-times").get_json()["windows"][0]
    assert theirs["overall"]["answered"] == 1
    assert [d["department_id"] for d in theirs["departments"]] == [None]

    # The page shows the same figures.
    with time_machine.travel(NOW, tick=False):
        page = signed_in(any_team, "head").get("/inbox").get_data(as_text=True)
    assert "Zeit bis zur ersten Antwort" in page  # the head reads German, the default
    assert "<td>10 Min.</td><td>30 Min.</td><td>3 / 2</td>" in page
    assert "<td>20 Min.</td><td>2 Std. 0 Min.</td><td>4 / 2</td>" in page


def test_closing_as_answered_from_the_page_counts_as_the_first_answer(team: Team) -> None:
    channel_id = team.channel("Mastodon Stadtwerke")["id"]
    with get_db(team.app).transaction() as session:
        [item_id] = inbox.store(session, channel_id, [heard("1", NOW - timedelta(minutes=30))])
    with time_machine.travel(NOW, tick=False):
        browser = signed_in(team, "planner")
        token = csrf_token(browser, "/inbox")
        closed = browser.post(
            f"/inbox/{item_id}/close", data={"csrf_token": token, "answered": "1"}
        )
    assert closed.status_code == 302
    item = team.head.get(f"/inbox/{item_id}").get_json()
    assert item["status"] == "closed"
    assert item["first_answer_at"] == "2026-11-30T12:00:00Z"
