"""The early warning: the detector's arithmetic (no false alarms on an ordinary month, never
below the minimum count, a burst within one window), alerts opened once, the hold of an
undecided alert in the claim's transaction, and the puppet-museum evening end to end against a
real Mastodon server (mastodon_mock from PyPI)."""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from calendar_app import interleave
from calendar_app.dispatch import PassReport
from calendar_app.extensions import get_db
from calendar_app.listening import alerts, inbox
from calendar_app.listening.detector import Settings, assess, detect_once, evaluate
from calendar_app.listening.listener import listen_once
from calendar_app.listening.mastodon import Heard
from calendar_app.models import AuditEntry, Delivery, Notification, OutgoingMessage
from calendar_app.timeutil import iso_utc, now_utc
from tests.conftest import Clock, Team
from tests.support.mastodon import MastodonAccount, MastodonServer
from tests.support.receiver import Receiver, Reply
from tests.support.web import csrf_token, signed_in
from tests.test_crisis_halt import wait_until_blocked

_names = itertools.count(1)
START = datetime(2026, 10, 5, 0, 0, tzinfo=UTC)  # a Monday
WINDOW = timedelta(minutes=15)


# --- an ordinary month, made up ------------------------------------------------------------------


def usual_rate(at: datetime, campaign_day: datetime | None) -> float:
    """Mentions per 15 minutes: quiet nights, busy days, Monday mornings, a campaign day."""
    hour = at.hour + at.minute / 60
    if hour < 6:
        rate = 0.3
    elif hour < 8:
        rate = 2.0
    elif hour < 18:
        rate = 8.0
    else:
        rate = 3.0
    if at.weekday() == 0 and 8 <= hour < 11:
        rate = 22.0  # everyone's bill questions after the weekend
    if at.weekday() >= 5:
        rate *= 0.5
    if campaign_day is not None and at.date() == campaign_day.date() and 10 <= hour < 16:
        rate *= 2.3  # the campaign draws planned attention
    return rate


def history(weeks: int = 4, seed: int = 7) -> list[datetime]:
    """Mention times over `weeks` from START, with a campaign day in the third week."""
    rng = random.Random(seed)
    campaign_day = START + timedelta(weeks=2, days=2)  # a Wednesday
    times = []
    at = START
    while at < START + timedelta(weeks=weeks):
        rate = usual_rate(at, campaign_day)
        count = sum(1 for _ in range(int(rate * 4)) if rng.random() < 0.25)  # about `rate`
        times += sorted(at + timedelta(seconds=rng.uniform(0, 900)) for _ in range(count))
        at += WINDOW
    return sorted(times)


def test_an_ordinary_month_with_monday_mornings_and_a_campaign_day_raises_no_alarm() -> None:
    times = history()
    detector = Settings()
    busiest = 0
    at = START + WINDOW
    while at <= START + timedelta(weeks=4):
        verdict = evaluate(times, at, settings=detector, history_start=START)
        assert not verdict.spike, (at, verdict)
        busiest = max(busiest, verdict.observed)
        at += timedelta(minutes=5)
    assert busiest >= detector.min_count  # the month did reach the minimum count


def test_a_burst_fires_within_one_window() -> None:
    times = history()
    burst_start = START + timedelta(weeks=4, days=1, hours=20)  # a calm Tuesday evening
    burst = [burst_start + timedelta(seconds=7 * i) for i in range(84)]  # 84 in ten minutes
    times = sorted(times + burst)
    at = burst_start
    while not evaluate(times, at, history_start=START).spike:
        at += timedelta(minutes=1)
        assert at <= burst_start + WINDOW, "no alarm within one window"
    verdict = evaluate(times, burst_start + WINDOW, history_start=START)
    assert verdict.spike
    assert verdict.observed == len([t for t in burst if t > burst_start])
    assert verdict.baseline <= 6
    assert at <= burst_start + timedelta(minutes=5)  # the count passed the minimum early on


def test_three_mentions_at_night_are_no_storm() -> None:
    assert not assess(3, [0, 0, 0, 0, 0, 1, 0, 0]).spike
    assert assess(30, [0, 0, 0, 0, 0, 1, 0, 0]).spike


def test_watch_words_lower_the_threshold_but_not_the_minimum_count() -> None:
    usual = [8, 7, 9, 8, 6, 10, 8, 7]
    assert not assess(20, usual).spike
    assert assess(20, usual, watched=True).spike
    assert not assess(19, [0] * 8, watched=True).spike


@settings(max_examples=300, deadline=None)
@given(
    observed=st.integers(min_value=0, max_value=19),
    baseline=st.lists(st.integers(min_value=0, max_value=500), max_size=40),
    watched=st.booleans(),
)
def test_the_detector_never_fires_below_the_minimum_count(
    observed: int, baseline: list[int], watched: bool
) -> None:
    assert not assess(observed, baseline, watched=watched, settings=Settings(min_count=20)).spike


@settings(max_examples=100, deadline=None)
@given(
    offsets=st.lists(st.integers(min_value=0, max_value=5 * 7 * 24 * 3600), max_size=300),
    end=st.integers(min_value=0, max_value=5 * 7 * 24 * 3600),
)
def test_no_history_and_no_window_can_fire_below_the_minimum_count(
    offsets: list[int], end: int
) -> None:
    times = sorted(START + timedelta(seconds=s) for s in offsets)
    detector = Settings(min_count=20)
    verdict = evaluate(times, START + timedelta(seconds=end), settings=detector)
    if verdict.observed < detector.min_count:
        assert not verdict.spike


# --- alerts in the database ----------------------------------------------------------------------


def heard(n: int, at: datetime, text: str = "Frage zur Rechnung") -> Heard:
    return Heard(f"h{n}", "mention", f"@kunde{n}@example", f"Kunde {n}", text, None, None, at)


# What the weeks before a test's real `now` look like: the weeks before a Wednesday evening, so
# that a test does not depend on the hour it runs at (a storm of 30 is no storm on a Monday
# morning, when 88 in a quarter of an hour are usual).
CALM_EVENING = datetime(2026, 11, 4, 20, 0, tzinfo=UTC)  # a Wednesday


def load_history(team: Team, channel_id: int, now: datetime, weeks: int = 4) -> None:
    """Ordinary mentions in the weeks before `now`, with their times; `now` is made to look
    like CALM_EVENING (the usual rates are those of the same moment before CALM_EVENING)."""
    rng = random.Random(3)
    made = []
    shift = CALM_EVENING - now
    at = now - timedelta(weeks=weeks)
    while at < now - WINDOW:
        for _ in range(int(usual_rate(at + shift, None) * 4)):
            if rng.random() < 0.25:
                made.append(at + timedelta(seconds=rng.uniform(0, 900)))
        at += WINDOW
    with get_db(team.app).transaction() as session:
        inbox.store(session, channel_id, [heard(i, t) for i, t in enumerate(made)])


def burst(team: Team, channel_id: int, now: datetime, count: int, first: int = 100000) -> None:
    with get_db(team.app).transaction() as session:
        inbox.store(
            session,
            channel_id,
            [
                heard(first + i, now - timedelta(seconds=5 * i), "Skandal! Boykott!")
                for i in range(count)
            ],
        )


def test_two_detectors_at_once_open_one_alert_and_the_heads_are_told_at_once(
    any_team: Team,
) -> None:
    team = any_team
    channel = team.channel("Mastodon")
    now = now_utc()
    load_history(team, channel["id"], now)
    burst(team, channel["id"], now, 40)
    config = team.app.config["CALENDAR"]
    db = get_db(team.app)
    with ThreadPoolExecutor(max_workers=2) as pool:
        opened = list(pool.map(lambda _: detect_once(db, config, now), range(2), timeout=60))

    assert sorted(len(o) for o in opened) == [0, 1]
    [alert] = team.head.get("/alerts").get_json()["items"]
    assert alert["channel_id"] == channel["id"]
    assert alert["status"] == "open"
    assert alert["kind"] == "spike"
    assert alert["observed"] == 40
    assert alert["window_minutes"] == 15
    assert len(alert["sample"]) == 5
    with db.transaction() as session:
        notes = session.scalars(select(Notification).where(Notification.kind == "alert")).all()
        assert {n.user_id for n in notes} == {team.ids["head"], team.ids["head2"]}
        assert "40 mentions in 15 min on Mastodon" in notes[0].subject
        urgent = session.scalars(
            select(OutgoingMessage).where(OutgoingMessage.urgent.is_(True))
        ).all()
        assert len(urgent) >= 2
    # The same storm a minute later opens nothing new.
    assert detect_once(db, config, now + timedelta(minutes=1)) == []


# --- the hold: in the same transaction as a crisis hold ------------------------------------------


class Paused:
    def __init__(self) -> None:
        self.reached = threading.Event()
        self.go = threading.Event()

    def __call__(self) -> None:
        self.reached.set()
        assert self.go.wait(30), "the test never let go"


def test_an_alert_opened_between_the_claim_and_the_start_holds_what_was_claimed(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, background: Any
) -> None:
    team = any_team
    config = {"url": f"{receiver.url}/storm", "secret": "s3cret"}
    channel = team.channel("Konzern-Mastodon", kind="webhook", network="mastodon", config=config)
    elsewhere = team.channel("Intranet", kind="webhook", network="other", config=config)
    due = now_utc() - timedelta(seconds=1)
    cheerful = team.scheduled([channel["id"]], at=due, body="Wir sponsern das Puppenmuseum!")
    other = team.scheduled([elsewhere["id"]], at=due, body="Kantine: heute Spätzle")
    dispatcher = make_dispatcher(team.app)
    before_start = Paused()
    with interleave.at("start.before", before_start):
        passing = background(dispatcher.run_pass)
        assert before_start.reached.wait(30)
        with get_db(team.app).transaction() as session:
            alert = alerts.open_alert(
                session,
                alerts.Spike(channel["id"], 84, 6.0, 52.0, 15, now_utc() - WINDOW),
                now=now_utc(),
                hold_minutes=30,
            )
            assert alert is not None
            alert_id = alert.id
        before_start.go.set()
        report: PassReport = passing.result(timeout=30)

    # Only the other channel's post went out.
    assert [r.json["post_id"] for r in receiver.snapshot()] == [other["id"]]
    assert report.not_started == [cheerful["deliveries"][0]["id"]]
    assert team.post(cheerful["id"])["status"] == "held"
    assert team.post(other["id"])["status"] == "published"
    with get_db(team.app).transaction() as session:
        held = session.get_one(Delivery, cheerful["deliveries"][0]["id"])
        assert held.held_by_alert_id == alert_id
        assert held.held_by_crisis_id is None
        entry = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "hold", AuditEntry.subject_id == cheerful["id"]
            )
        ).one()
        assert entry.detail["alert"] == alert_id


def test_opening_an_alert_waits_for_a_start_under_way_and_the_next_start_holds(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, background: Any
) -> None:
    """The other order: a start holds the queue lock (its rows publishing, not committed) when
    the detector opens an alert. The opening waits for it (that request was on the wire before
    the storm was seen); every start after the alert committed holds."""
    team = any_team
    config = {"url": f"{receiver.url}/storm", "secret": "s3cret"}
    channel = team.channel("Konzern-Mastodon", kind="webhook", network="mastodon", config=config)
    first = team.scheduled([channel["id"]], at=now_utc() - timedelta(seconds=1), body="Eins")
    dispatcher = make_dispatcher(team.app)
    started = Paused()

    def open_one() -> int | None:
        with get_db(team.app).transaction() as session:
            alert = alerts.open_alert(
                session,
                alerts.Spike(channel["id"], 84, 6.0, 52.0, 15, now_utc() - WINDOW),
                now=now_utc(),
                hold_minutes=30,
            )
            return alert.id if alert else None

    with interleave.at("start.locked", started):
        passing = background(dispatcher.run_pass)
        assert started.reached.wait(30)
        opening = background(open_one)
        wait_until_blocked(team)
        assert not opening.done()
        started.go.set()
        passing.result(timeout=30)
        assert opening.result(timeout=30) is not None

    assert team.post(first["id"])["status"] == "published"
    second = team.scheduled([channel["id"]], at=now_utc() - timedelta(seconds=1), body="Zwei")
    make_dispatcher(team.app).run_pass()
    assert team.post(second["id"])["status"] == "held"
    assert [r.json["post_id"] for r in receiver.snapshot()] == [first["id"]]


def test_no_hold_when_spike_hold_minutes_is_zero_and_none_after_it_ran_out(
    team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock
) -> None:
    config = {"url": f"{receiver.url}/storm", "secret": "s3cret"}
    channel = team.channel("Konzern-Mastodon", kind="webhook", network="mastodon", config=config)
    with get_db(team.app).transaction() as session:
        alerts.open_alert(
            session,
            alerts.Spike(channel["id"], 84, 6.0, 52.0, 15, clock.now - WINDOW),
            now=clock.now,
            hold_minutes=30,
        )
    post = team.scheduled([channel["id"]], at=clock.now + timedelta(minutes=31))
    clock.advance(minutes=31)
    make_dispatcher(team.app, clock=clock).run_pass()
    assert team.post(post["id"])["status"] == "published"


@pytest.mark.parametrize("decided", ["undecided", "dismissed"])
def test_what_fell_due_during_a_hold_while_no_scheduler_ran_is_held_afterwards(
    any_team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock, decided: str
) -> None:
    """No scheduler ran from before the alert opened until after its hold ended (or after it
    was dismissed): what fell due during the hold is held when one runs again, what fell due
    after it goes out, and a hold that ended more than alerts.LOOKBACK ago holds nothing."""
    team = any_team
    config = {"url": f"{receiver.url}/storm", "secret": "s3cret"}
    channel = team.channel("Konzern-Mastodon", kind="webhook", network="mastodon", config=config)
    other = team.channel("Intranet", kind="webhook", config={**config, "url": f"{receiver.url}/i"})
    opened = clock.now
    with get_db(team.app).transaction() as session:
        alert = alerts.open_alert(
            session,
            alerts.Spike(channel["id"], 84, 6.0, 52.0, 15, opened - WINDOW),
            now=opened,
            hold_minutes=30,
        )
        alert_id = alert.id
        if decided == "dismissed":  # decided ten minutes in: the hold ended then
            alert.status = alerts.AlertStatus.DISMISSED
            alert.decided_at = opened + timedelta(minutes=10)
    hold_ended = opened + timedelta(minutes=10 if decided == "dismissed" else 30)
    in_hold = team.scheduled([channel["id"]], at=hold_ended - timedelta(minutes=2), body="Hurra!")
    after = team.scheduled([channel["id"]], at=hold_ended + timedelta(minutes=2), body="Später")
    elsewhere = team.scheduled([other["id"]], at=hold_ended - timedelta(minutes=2), body="Kantine")

    clock.now = hold_ended + timedelta(minutes=5)  # the first pass since before the alert
    make_dispatcher(team.app, clock=clock).run_pass()

    assert team.post(in_hold["id"])["status"] == "held"
    [held] = team.post(in_hold["id"])["deliveries"]
    assert held["status"] == "held"
    assert team.post(after["id"])["status"] == "published"
    assert team.post(elsewhere["id"])["status"] == "published"
    assert sorted(r.json["body"] for r in receiver.snapshot()) == ["Kantine", "Später"]
    with get_db(team.app).transaction() as session:
        held_by = select(Delivery.held_by_alert_id).where(Delivery.id == held["id"])
        assert session.scalar(held_by) == alert_id

    # Past the look-back, a hold that ended long ago holds nothing more: what fell due in it is
    # as late as anything else then (missed, for a person to decide).
    late = team.scheduled([channel["id"]], at=hold_ended - timedelta(minutes=1), body="Spät")
    clock.now = hold_ended + alerts.LOOKBACK + timedelta(minutes=1)
    make_dispatcher(team.app, clock=clock).run_pass()
    assert team.post(late["id"])["status"] == "missed"


# --- the puppet-museum evening, end to end -------------------------------------------------------


@pytest.fixture(scope="session")
def mastodon_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MastodonServer]:
    server = MastodonServer(tmp_path_factory.mktemp("mastodon_storm")).start()
    yield server
    server.stop()


def shout(server: MastodonServer, who: MastodonAccount, text: str) -> None:
    httpx.post(
        f"{server.base_url}/api/v1/statuses",
        json={"status": text, "visibility": "public"},
        headers={"Authorization": f"Bearer {who.access_token}"},
    ).raise_for_status()


@pytest.fixture
def storm(
    team: Team, mastodon_server: MastodonServer, make_dispatcher: Any, clock: Clock
) -> dict[str, Any]:
    """Four ordinary weeks, a calm evening, then 30 angry mentions on the server; the listener
    and the detector run; a cheerful post is due ten minutes later on that channel."""
    ours = mastodon_server.new_account(f"energie{next(_names)}")
    angry = mastodon_server.new_account(f"wuetend{next(_names)}")
    channel = team.channel(
        "Mastodon Konzern",
        kind="mastodon",
        network="mastodon",
        config={"base_url": mastodon_server.base_url, "access_token": ours.access_token},
    )
    load_history(team, channel["id"], clock.now)
    cheerful = team.scheduled(
        [channel["id"]],
        at=clock.now + timedelta(minutes=10),
        title="Puppenmuseum",
        body="Wir sind stolz, das Puppentheatermuseum zu unterstützen! 🎭",
    )
    for i in range(30):
        shout(mastodon_server, angry, f"@{ours.username} Skandal, euer Sicherheitsdienst! ({i})")
    dispatcher = make_dispatcher(team.app, clock=clock)
    stored = listen_once(get_db(team.app), dispatcher.publishers)
    assert len(stored.stored) == 30
    opened = detect_once(get_db(team.app), team.app.config["CALENDAR"], now_utc())
    assert len(opened) == 1
    return {
        "ours": ours,
        "channel": channel,
        "cheerful": cheerful,
        "alert_id": opened[0],
        "dispatcher": dispatcher,
    }


def test_the_puppet_museum_post_is_held_in_the_storm_and_the_head_is_told(
    team: Team, mastodon_server: MastodonServer, storm: dict[str, Any], clock: Clock
) -> None:
    [alert] = team.head.get("/alerts?status=open").get_json()["items"]
    assert alert["id"] == storm["alert_id"]
    assert alert["observed"] == 30
    assert alert["baseline"] <= 6
    sample = [team.head.get(f"/inbox/{i}").get_json()["text"] for i in alert["sample"]]
    assert all("Skandal" in text for text in sample)
    with get_db(team.app).transaction() as session:
        [note] = session.scalars(
            select(Notification).where(
                Notification.kind == "alert", Notification.user_id == team.ids["head"]
            )
        ).all()
    assert note.subject.startswith("Early warning: 30 mentions in 15 min on Mastodon Konzern")
    assert "Skandal, euer Sicherheitsdienst" in note.text
    assert "Puppenmuseum" in note.text  # the post due that would go out into it

    clock.advance(minutes=10)
    storm["dispatcher"].run_pass()

    post = team.post(storm["cheerful"]["id"])
    assert post["status"] == "held"
    assert post["deliveries"][0]["held_by_alert_id"] == storm["alert_id"]
    assert mastodon_server.statuses(storm["ours"]) == []  # nothing went out into the storm


def test_dismissing_keeps_the_held_post_for_review_and_stops_holding_new_ones(
    team: Team, mastodon_server: MastodonServer, storm: dict[str, Any], clock: Clock
) -> None:
    clock.advance(minutes=10)
    storm["dispatcher"].run_pass()
    assert (
        team.planner.post(f"/alerts/{storm['alert_id']}/dismiss", json={"note": "x"}).status_code
        == 403
    )
    assert team.head.post(f"/alerts/{storm['alert_id']}/dismiss", json={}).status_code == 422
    dismissed = team.head.post(
        f"/alerts/{storm['alert_id']}/dismiss", json={"note": "Kein Sturm: ein Bot"}
    )
    assert dismissed.status_code == 200, dismissed.get_json()
    assert dismissed.get_json()["status"] == "dismissed"
    again = team.head2.post(f"/alerts/{storm['alert_id']}/dismiss", json={"note": "auch"})
    assert again.status_code == 409
    assert "head@example.org" in again.get_json()["error"]

    later = team.scheduled(
        [storm["channel"]["id"]], at=clock.now + timedelta(minutes=1), body="Guten Abend!"
    )
    clock.advance(minutes=1)
    storm["dispatcher"].run_pass()

    assert team.post(storm["cheerful"]["id"])["status"] == "held"  # still for review
    assert team.post(later["id"])["status"] == "published"
    [status] = mastodon_server.statuses(storm["ours"])
    assert mastodon_server.source_text(status["id"]) == "Guten Abend!"
    released = team.head.post(f"/posts/{storm['cheerful']['id']}/release")
    assert released.status_code == 200


def test_declaring_from_the_alert_turns_it_into_the_crisis(
    team: Team, storm: dict[str, Any], clock: Clock
) -> None:
    clock.advance(minutes=10)
    storm["dispatcher"].run_pass()
    declared = team.head.post(
        "/crisis",
        json={"reason": "Shitstorm um den Sicherheitsdienst", "alert_id": storm["alert_id"]},
    )
    assert declared.status_code == 201, declared.get_json()
    crisis = declared.get_json()
    assert crisis["channels"] == [storm["channel"]["id"]]
    alert = team.head.get(f"/alerts/{storm['alert_id']}").get_json()
    assert alert["status"] == "declared"
    assert alert["crisis_id"] == crisis["id"]
    delivery = team.post(storm["cheerful"]["id"])["deliveries"][0]
    assert delivery["status"] == "held"
    assert delivery["held_by_crisis_id"] == crisis["id"]
    timeline = team.head.get(f"/crises/{crisis['id']}/timeline").get_json()
    kinds = [e["kind"] for e in timeline["events"]]
    assert kinds[:3] == ["alerted", "declared", "held"], kinds
    assert timeline["events"][0]["detail"]["observed"] == 30
    assert team.head.post("/crisis/lift", json={"note": "vorbei"}).status_code in (200, 202)
    unknown = team.head.post("/crisis", json={"reason": "x", "alert_id": 99999})
    assert unknown.status_code in (409, 422)


def test_alerts_api_is_for_signed_in_people(team: Team) -> None:
    assert team.anonymous.get("/alerts").status_code == 401
    assert team.planner.get("/alerts").get_json() == {"items": []}
    assert team.head.get("/alerts/12345").status_code == 404
    assert team.head.get("/alerts?status=maybe").status_code in (400, 422)
    words = team.head.put(
        "/alerts/watch-words", json={"words": ["Shitstorm", "BOYKOTT", "Skandal"]}
    )
    assert words.get_json() == {"words": ["boykott", "shitstorm", "skandal"]}
    assert team.planner.put("/alerts/watch-words", json={"words": []}).status_code == 403


def test_the_alert_is_on_every_page_and_is_decided_on_the_inbox_page(team: Team) -> None:
    channel = team.channel("Mastodon Konzern")
    post = team.scheduled([channel["id"]], at=now_utc() + timedelta(hours=1), title="Puppenmuseum")
    with get_db(team.app).transaction() as session:
        first = alerts.open_alert(
            session,
            alerts.Spike(channel["id"], 84, 6.0, 52.0, 15, now_utc() - WINDOW),
            now=now_utc(),
            hold_minutes=30,
        )
        assert first is not None
        first_id = first.id
    head = signed_in(team, "head")
    page = head.get("/").get_data(as_text=True)
    assert "84 Erwähnungen in 15 Min. auf Mastodon Konzern, sonst 6." in page  # German: the default
    inbox_page = head.get("/inbox").get_data(as_text=True)
    assert "Puppenmuseum" in inbox_page  # the post at risk
    # A release into the hold would only hold it again: refused, with the reason.
    early = team.head.post(f"/posts/{post['id']}/release")
    assert early.status_code == 409
    token = csrf_token(head, "/inbox")
    declared = head.post(
        f"/alerts/{first_id}/declare", data={"csrf_token": token, "reason": "Shitstorm"}
    )
    assert declared.status_code == 302
    crisis = team.head.get("/crisis").get_json()
    assert crisis["active"]
    assert crisis["channels"] == [channel["id"]]
    assert team.head.get(f"/alerts/{first_id}").get_json()["status"] == "declared"
    assert "84 Erwähnungen" not in head.get("/").get_data(as_text=True)


# --- releasing a held post while an alert holds --------------------------------------------------


def alert_holding(team: Team, channel_id: int | None, minutes: int = 30) -> dict[str, Any]:
    """An undecided alert on the channel (None: on all of them) that holds it for `minutes`
    from now."""
    with get_db(team.app).transaction() as session:
        opened = alerts.open_alert(
            session,
            alerts.Spike(channel_id, 84, 6.0, 52.0, 15, now_utc() - WINDOW),
            now=now_utc(),
            hold_minutes=minutes,
        )
        assert opened is not None
        alert_id = opened.id
    return team.head.get(f"/alerts/{alert_id}").get_json()


@pytest.mark.parametrize(
    ("scope", "holds"), [("channel", "Mastodon Konzern"), ("everywhere", "all channels")]
)
def test_a_release_into_an_early_warnings_hold_is_refused_with_the_reason_but_after_it_is_not(
    team: Team, receiver: Receiver, make_dispatcher: Any, scope: str, holds: str
) -> None:
    stormy = team.channel(
        "Mastodon Konzern", kind="webhook", config={"url": receiver.url + "/m", "secret": "k"}
    )
    post = team.scheduled([stormy["id"]], at=now_utc() - timedelta(seconds=30))
    alert = alert_holding(team, stormy["id"] if scope == "channel" else None)
    make_dispatcher(team.app).run_pass()
    assert team.post(post["id"])["status"] == "held"

    refused = team.head.post(f"/posts/{post['id']}/release", json={})
    assert refused.status_code == 409
    assert refused.get_json()["error"] == (
        f"an early warning holds {holds} until {alert['hold_until']}: dismiss it or "
        "declare a crisis first, or release the post for a later time."
    )
    assert refused.get_json()["fields"] == {"publish_at": "must be after the early warning's hold"}
    assert team.post(post["id"])["status"] == "held"

    at_its_end = team.head.post(
        f"/posts/{post['id']}/release", json={"publish_at": alert["hold_until"]}
    )
    assert at_its_end.status_code == 200, at_its_end.get_json()
    assert at_its_end.get_json()["status"] == "scheduled"
    assert receiver.snapshot() == []


def test_a_response_to_the_crisis_in_force_may_be_released_into_an_alerts_hold_and_a_blackout(
    team: Team, receiver: Receiver, make_dispatcher: Any
) -> None:
    """Neither would hold it (a crisis response goes out), so neither refuses its release."""
    receiver.reply = lambda _r: Reply(400)
    channel = team.channel(
        "Mastodon Konzern", kind="webhook", config={"url": receiver.url + "/m", "secret": "k"}
    )
    assert team.head.post("/crisis", json={"reason": "Shitstorm"}).status_code == 201
    response = team.crisis_response([channel["id"]], at=now_utc() - timedelta(seconds=30))
    make_dispatcher(team.app).run_pass()
    assert team.post(response["id"])["status"] == "failed"
    alert_holding(team, channel["id"])
    blackout = team.head.post(
        "/blackouts",
        json={
            "name": "Trauertag",
            "reason": "Gedenken",
            "starts_at": iso_utc(now_utc() - timedelta(hours=1)),
            "ends_at": iso_utc(now_utc() + timedelta(hours=5)),
        },
    )
    assert blackout.status_code == 201, blackout.get_json()

    receiver.reply = lambda _r: Reply()
    released = team.head.post(f"/posts/{response['id']}/release", json={})
    assert released.status_code == 200, released.get_json()
    make_dispatcher(team.app).run_pass()
    assert team.post(response["id"])["status"] == "published"
