"""A campaign with targets and a month of results, made through the real paths: posts planned
and approved through the API, published by the dispatcher to a real webhook receiver, their
numbers sent to the signed inbound endpoint, a crisis declared and lifted through the API."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from calendar_app.evaluation import inbound
from calendar_app.extensions import get_db
from calendar_app.models import InboxItem, InboxStatus
from calendar_app.timeutil import local, now_utc
from tests.conftest import Clock, Team
from tests.support.receiver import Receiver

SECRET = "blog-receiver-secret"
KPIS = [
    {"name": "Reichweite", "target": 20000, "unit": "Kontakte"},
    {"name": "Interaktionen", "target": 500},
    {"name": "Bewerbungen", "target": 40},
    {"name": "Antworten im Kundenservice < 2 h", "target": 90, "unit": "%"},
]
POSTS = 12


@dataclass
class Month:
    campaign: dict[str, Any]
    channels: dict[str, dict[str, Any]]
    posts: list[dict[str, Any]]
    first: date
    last: date
    reach: int = 0
    interactions: int = 0
    best_title: str = ""
    crisis_reason: str = ""
    held_post: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Inbox:
    """What `inbox_of_month` put on the blog's inbox, and the figures it makes."""

    answered_within_2h: float  # percent of the items that count
    median_minutes: float
    answered: int
    unanswered: int


def send_results(team: Team, channel_id: int, secret: str, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    answer = team.client.post(
        f"/api/v1/results/inbound/{channel_id}",
        data=raw,
        headers={
            "Content-Type": "application/json",
            inbound.TIMESTAMP_HEADER: stamp,
            inbound.SIGNATURE_HEADER: inbound.sign(secret, stamp, raw),
        },
    )
    assert answer.status_code == 201, answer.get_json()


def month_of_results(team: Team, receiver: Receiver, make_dispatcher: Any) -> Month:
    timezone = team.app.config["CALENDAR"].TIMEZONE
    department = team.admin.post("/departments", json={"name": "Personal"}).get_json()
    blog = team.channel("Blog", kind="webhook", config={"url": receiver.url, "secret": SECRET})
    career = team.channel(
        "Karriere-Seite", kind="webhook", config={"url": receiver.url, "secret": SECRET}
    )
    clock = Clock()
    # The plan starts at the team's midnight 31 days ago, whatever the hour now: the posts then
    # fall on the same side of a period's middle on every run.
    first = local(now_utc() - timedelta(days=31), timezone).date()
    start = datetime.combine(first, datetime.min.time(), ZoneInfo(timezone)).astimezone(UTC)
    campaign = team.head.post(
        "/campaigns",
        json={
            "name": "Ausbildung 2027",
            "goal": "recruiting",
            "starts_on": first.isoformat(),
            "ends_on": (first + timedelta(days=34)).isoformat(),
            "kpis": KPIS,
            "departments": [department["id"]],
        },
    )
    assert campaign.status_code == 201, campaign.get_json()
    campaign_json = campaign.get_json()
    month = Month(campaign_json, {"Blog": blog, "Karriere-Seite": career}, [], first,
                  local(now_utc(), timezone).date())  # fmt: skip
    dispatcher = make_dispatcher(team.app, clock=clock)
    best = -1
    for number in range(POSTS):
        at = start + timedelta(days=number * 2.5, hours=9)
        title = f"Azubi-Porträt {number + 1}"
        post = team.scheduled(
            [blog["id"], career["id"]],
            at=at,
            title=title,
            body=f"Unsere Auszubildenden erzählen: Folge {number + 1}.",
            campaign_id=campaign_json["id"],
            department_id=department["id"],
        )
        clock.now = at
        assert len(dispatcher.run_pass().published) == 2
        month.posts.append(post)
        post_total = 0
        for delivery in team.post(post["id"])["deliveries"]:
            published = datetime.fromisoformat(delivery["published_at"])
            # The career page's posts reach fewer people in the second half of the month.
            falling = delivery["channel_id"] == career["id"] and number >= POSTS // 2
            likes = 4 if falling else 20 + 3 * number
            values = {
                "likes": likes,
                "shares": likes // 4,
                "replies": 2,
                "reach": 900 + 40 * number,
            }
            send_results(team, delivery["channel_id"], SECRET, {
                "delivery_id": delivery["id"],
                "measured_at": (published + timedelta(hours=1)).isoformat(),
                **{k: v // 2 for k, v in values.items()},
            })  # fmt: skip
            send_results(team, delivery["channel_id"], SECRET, {
                "delivery_id": delivery["id"],
                "measured_at": (published + timedelta(hours=24)).isoformat(),
                **values,
            })  # fmt: skip
            month.reach += values["reach"]
            total = values["likes"] + values["shares"] + values["replies"]
            month.interactions += total
            post_total += total
        if post_total > best:
            best, month.best_title = post_total, title
    # A crisis: a post due while it is in force is held, then the crisis is lifted.
    month.crisis_reason = "Störung im Kundenportal"
    assert team.head.post("/crisis", json={"reason": month.crisis_reason}).status_code == 201
    held = team.scheduled([blog["id"]], at=now_utc() - timedelta(minutes=1), title="Gewinnspiel")
    assert make_dispatcher(team.app).run_pass().held_posts
    month.held_post = held
    lifted = team.head.post("/crisis/lift", json={"note": "Portal läuft wieder"})
    assert lifted.status_code in (200, 202), lifted.get_json()
    if lifted.status_code == 202:
        assert team.head2.post("/crisis/lift/confirm", json={}).status_code == 200
    return month


def inbox_of_month(team: Team, month: Month) -> Inbox:
    """Items said during the campaign on its channels: on the blog, answered after 30 min, 90
    min and 3 h, one never answered (said two days ago), one said ten minutes ago and not
    answered yet; on the career page one closed without an answer."""
    now = now_utc()
    said = now - timedelta(days=5)
    items = [
        (said, timedelta(minutes=30), InboxStatus.ANSWERED),
        (said + timedelta(hours=1), timedelta(minutes=90), InboxStatus.ANSWERED),
        # Answered by phone after three hours, then closed as answered.
        (said + timedelta(hours=2), timedelta(hours=3), InboxStatus.CLOSED),
        (now - timedelta(days=2), None, InboxStatus.NEW),
        (now - timedelta(minutes=10), None, InboxStatus.NEW),
    ]
    with get_db(team.app).transaction() as session:
        for number, (received_at, wait, status) in enumerate(items):
            session.add(
                InboxItem(
                    channel_id=month.channels["Blog"]["id"], remote_id=f"said-{number}",
                    kind="mention", text=f"Frage {number} zur Ausbildung",
                    received_at=received_at, status=status,
                    first_answer_at=None if wait is None else received_at + wait,
                )
            )  # fmt: skip
        # Closed without an answer: no answer, like an open item.
        session.add(
            InboxItem(
                channel_id=month.channels["Karriere-Seite"]["id"], remote_id="spam", kind="mention",
                text="Werbung", received_at=said, status=InboxStatus.CLOSED,
            )
        )  # fmt: skip
    # Of the five items that count for "< 2 h" (answered, or unanswered for over 2 h), two were
    # answered in time; the item said ten minutes ago is not late yet.
    return Inbox(answered_within_2h=40.0, median_minutes=90.0, answered=3, unanswered=3)
