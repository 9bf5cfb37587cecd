"""Results per published delivery, read from real servers (mastodon_mock, the reference PDS)
and received at the signed inbound endpoint; stored as a time series, never overwritten."""

from __future__ import annotations

import csv
import io
import itertools
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from calendar_app.evaluation import inbound
from calendar_app.evaluation.measure import SCHEDULE, measure_results, next_step
from calendar_app.evaluation.reading import NO_APPVIEW, UNAUTHORIZED
from calendar_app.extensions import get_db
from calendar_app.models import ResultPoint
from tests.conftest import Clock, Team
from tests.support.bluesky import BlueskyServer
from tests.support.mastodon import MastodonAccount, MastodonServer
from tests.support.receiver import Receiver

_names = itertools.count(1)
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)


@pytest.fixture(scope="module")
def mastodon_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MastodonServer]:
    server = MastodonServer(tmp_path_factory.mktemp("mastodon")).start()
    yield server
    server.stop()


@pytest.fixture
def mastodon(mastodon_server: MastodonServer) -> Iterator[MastodonServer]:
    yield mastodon_server
    mastodon_server.clear_faults()


def _account(server: MastodonServer, prefix: str) -> MastodonAccount:
    return server.new_account(f"{prefix}{next(_names)}_{int(time.time() * 1000) % 10**8}")


def _publish_on_mastodon(
    team: Team, server: MastodonServer, make_dispatcher: Any, clock: Clock
) -> tuple[MastodonAccount, dict[str, Any], Any]:
    ours = _account(server, "werke")
    channel = team.channel(
        "Mastodon",
        kind="mastodon",
        network="mastodon",
        config={"base_url": server.base_url, "access_token": ours.access_token},
    )
    post = team.scheduled([channel["id"]], at=clock.now, body="Tag der offenen Tür am Samstag")
    dispatcher = make_dispatcher(team.app, clock=clock)
    assert dispatcher.run_pass().published
    [delivery] = team.post(post["id"])["deliveries"]
    assert delivery["remote_id"]
    return ours, {**delivery, "post_id": post["id"]}, dispatcher


def _act(server: MastodonServer, who: MastodonAccount, path: str, **body: Any) -> None:
    answer = httpx.post(
        f"{server.base_url}{path}",
        json=body or None,
        headers={"Authorization": f"Bearer {who.access_token}"},
    )
    answer.raise_for_status()


def _points(team: Team, delivery_id: int) -> list[ResultPoint]:
    with get_db(team.app).transaction() as session:
        points = session.scalars(
            select(ResultPoint)
            .where(ResultPoint.delivery_id == delivery_id)
            .order_by(ResultPoint.id)
        ).all()
        session.expunge_all()
    return list(points)


# --- the schedule ------------------------------------------------------------------------------


def test_the_schedule_thins_out_with_age_and_skips_points_whose_moment_passed() -> None:
    published = datetime.fromisoformat("2026-11-02T09:00:00+00:00")
    assert [s.total_seconds() / 3600 for s in SCHEDULE] == [1, 24, 7 * 24, 30 * 24]
    assert next_step(published, published, 0) == (0, published + HOUR)
    assert next_step(published, published + HOUR, 1) == (1, published + timedelta(hours=24))
    # Measured three days late for the 1 h point: the 24 h point is gone too, next is 7 days.
    assert next_step(published, published + timedelta(days=3), 1) == (
        2,
        published + timedelta(days=7),
    )
    assert next_step(published, published + timedelta(days=30), 4) == (4, None)
    assert next_step(published, published + timedelta(days=40), 3) == (4, None)


def test_the_scheduler_measures_results_every_minute(team: Team) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from calendar_app.scheduler import RESULTS_INTERVAL_SECONDS, _configure, build_dispatcher

    dispatcher = build_dispatcher(team.app)
    try:
        scheduler = BackgroundScheduler(timezone="UTC")
        _configure(scheduler, dispatcher, 1.0)
        job = scheduler.get_job("results")
        assert job is not None
        assert job.trigger.interval == timedelta(seconds=RESULTS_INTERVAL_SECONDS) == 60 * SECOND
    finally:
        dispatcher.close()


# --- Mastodon ----------------------------------------------------------------------------------


def test_favourites_boosts_and_replies_by_other_accounts_show_up_at_their_measurements(
    team: Team, mastodon: MastodonServer, make_dispatcher: Any, clock: Clock
) -> None:
    _ours, delivery, dispatcher = _publish_on_mastodon(team, mastodon, make_dispatcher, clock)
    published = datetime.fromisoformat(delivery["published_at"])
    status = f"/api/v1/statuses/{delivery['remote_id']}"
    db, publishers = get_db(team.app), dispatcher.publishers
    fans = [_account(mastodon, "fan") for _ in range(3)]
    _act(mastodon, fans[0], f"{status}/favourite")
    _act(mastodon, fans[1], f"{status}/favourite")
    _act(mastodon, fans[2], f"{status}/reblog")

    # Not due before an hour has passed.
    assert measure_results(db, publishers, now=published + 30 * timedelta(minutes=1)).measured == []
    first = measure_results(db, publishers, now=published + HOUR)
    assert first.measured == [delivery["id"]]

    _act(mastodon, fans[2], f"{status}/favourite")
    _act(mastodon, fans[0], "/api/v1/statuses", status="Kommen wir!",
         in_reply_to_id=delivery["remote_id"])  # fmt: skip
    assert measure_results(db, publishers, now=published + 2 * HOUR).measured == []
    assert measure_results(db, publishers, now=published + 24 * HOUR).measured == [delivery["id"]]
    # Forty days on: the 7-day and the 30-day point are one measurement, then nothing more.
    assert measure_results(db, publishers, now=published + timedelta(days=40)).measured
    assert measure_results(db, publishers, now=published + timedelta(days=90)).measured == []

    points = _points(team, delivery["id"])
    assert [(p.measured_at - published) for p in points] == [
        HOUR, 24 * HOUR, timedelta(days=40),
    ]  # fmt: skip
    assert [(p.likes, p.shares, p.replies) for p in points] == [(2, 1, 0), (3, 1, 1), (3, 1, 1)]
    assert {p.state for p in points} == {"ok"}

    answer = team.planner.get(f"/deliveries/{delivery['id']}/results").get_json()
    assert answer["state"] == "ok"
    assert answer["latest"]["interactions"] == 5
    assert [p["likes"] for p in answer["points"]] == [2, 3, 3]
    assert answer["next_measurement_at"] is None
    totals = team.planner.get(f"/posts/{delivery['post_id']}/results").get_json()["totals"]
    assert totals["likes"] == 3
    assert totals["shares"] == 1
    assert totals["reach"] is None


def test_a_revoked_token_reports_that_it_lacks_the_read_scope_never_zeros(
    team: Team, mastodon: MastodonServer, make_dispatcher: Any, clock: Clock
) -> None:
    ours, delivery, dispatcher = _publish_on_mastodon(team, mastodon, make_dispatcher, clock)
    published = datetime.fromisoformat(delivery["published_at"])
    mastodon.revoke(ours.access_token)
    assert measure_results(get_db(team.app), dispatcher.publishers, now=published + HOUR).measured

    [point] = _points(team, delivery["id"])
    assert point.state == "unauthorized"
    assert (point.likes, point.shares, point.replies) == (None, None, None)
    answer = team.planner.get(f"/deliveries/{delivery['id']}/results").get_json()
    assert answer["state"] == "unauthorized"
    assert answer["message"] == UNAUTHORIZED
    assert answer["latest"]["interactions"] is None
    totals = team.planner.get(f"/posts/{delivery['post_id']}/results").get_json()["totals"]
    assert totals["likes"] is None


def test_a_token_without_the_read_scope_is_reported(
    team: Team, mastodon: MastodonServer, make_dispatcher: Any, clock: Clock
) -> None:
    _, delivery, dispatcher = _publish_on_mastodon(team, mastodon, make_dispatcher, clock)
    published = datetime.fromisoformat(delivery["published_at"])
    # What Mastodon answers a token whose scopes do not include read:statuses.
    mastodon.fault(
        status=403,
        method="GET",
        path=f"/api/v1/statuses/{delivery['remote_id']}",
        body={"error": "This action is outside the authorized scopes"},
    )
    measure_results(get_db(team.app), dispatcher.publishers, now=published + HOUR)
    [point] = _points(team, delivery["id"])
    assert point.state == "unauthorized"
    assert point.likes is None


def test_a_server_that_cannot_answer_is_asked_again_later_without_a_point(
    team: Team, mastodon: MastodonServer, make_dispatcher: Any, clock: Clock
) -> None:
    _, delivery, dispatcher = _publish_on_mastodon(team, mastodon, make_dispatcher, clock)
    published = datetime.fromisoformat(delivery["published_at"])
    mastodon.fault(status=503, method="GET", path=f"/api/v1/statuses/{delivery['remote_id']}")
    db = get_db(team.app)
    report = measure_results(db, dispatcher.publishers, now=published + HOUR)
    assert report.postponed == [delivery["id"]]
    assert _points(team, delivery["id"]) == []
    later = published + HOUR + timedelta(minutes=11)
    assert measure_results(db, dispatcher.publishers, now=later).measured == [delivery["id"]]


@pytest.mark.slow
def test_two_jobs_at_once_measure_each_point_once(
    any_team: Team, mastodon: MastodonServer, make_dispatcher: Any, clock: Clock
) -> None:
    team = any_team
    _, delivery, dispatcher = _publish_on_mastodon(team, mastodon, make_dispatcher, clock)
    other = make_dispatcher(team.app, clock=clock)
    published = datetime.fromisoformat(delivery["published_at"])
    # A slow server: both jobs are on the wire at the same time.
    mastodon.fault(
        status=200, effect="latency", method="GET", count=None, delay_ms=300,
        path=f"/api/v1/statuses/{delivery['remote_id']}",
    )  # fmt: skip
    start = threading.Barrier(2)
    reports: list[Any] = []

    def job(publishers: dict[str, Any]) -> None:
        start.wait()
        reports.append(measure_results(get_db(team.app), publishers, now=published + HOUR))

    threads = [threading.Thread(target=job, args=(d.publishers,)) for d in (dispatcher, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(len(r.measured) for r in reports) == [0, 1]
    assert len(_points(team, delivery["id"])) == 1


# --- Bluesky -----------------------------------------------------------------------------------


def test_bluesky_without_an_appview_says_so_instead_of_zeros(
    team: Team, bluesky_server: BlueskyServer, make_dispatcher: Any, clock: Clock
) -> None:
    account = bluesky_server.new_account(f"results{next(_names)}")
    channel = team.channel(
        "Bluesky",
        kind="bluesky",
        network="bluesky",
        config={
            "service": bluesky_server.url,
            "handle": account.handle,
            "app_password": account.app_password,
        },
    )
    post = team.scheduled([channel["id"]], at=clock.now, body="Tag der offenen Tür")
    dispatcher = make_dispatcher(team.app, clock=clock)
    assert dispatcher.run_pass().published
    [delivery] = team.post(post["id"])["deliveries"]
    published = datetime.fromisoformat(delivery["published_at"])
    assert measure_results(get_db(team.app), dispatcher.publishers, now=published + HOUR).measured

    [point] = _points(team, delivery["id"])
    assert point.state == "no_appview"
    assert (point.likes, point.shares, point.replies, point.quotes) == (None,) * 4
    answer = team.planner.get(f"/deliveries/{delivery['id']}/results").get_json()
    assert answer["message"] == NO_APPVIEW


# --- webhook channels send their numbers -------------------------------------------------------


def _signed(secret: str, body: dict[str, Any], *, at: float | None = None) -> tuple[bytes, dict]:
    raw = json.dumps(body).encode()
    stamp = str(int(at if at is not None else time.time()))
    return raw, {
        "Content-Type": "application/json",
        inbound.TIMESTAMP_HEADER: stamp,
        inbound.SIGNATURE_HEADER: inbound.sign(secret, stamp, raw),
    }


def test_webhook_results_are_accepted_signed_and_refused_otherwise(
    team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock
) -> None:
    secret = "s3cret-of-the-blog"
    channel = team.channel("Blog", kind="webhook", config={"url": receiver.url, "secret": secret})
    other = team.channel("Intranet", kind="webhook", config={"url": receiver.url, "secret": "x"})
    post = team.scheduled([channel["id"], other["id"]], at=clock.now)
    assert len(make_dispatcher(team.app, clock=clock).run_pass().published) == 2
    ours, theirs = team.post(post["id"])["deliveries"]
    url = f"/api/v1/results/inbound/{channel['id']}"
    client = team.client

    raw, headers = _signed(secret, {"delivery_id": ours["id"], "likes": 12, "reach": 3400})
    answer = client.post(url, data=raw, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["reach"] == 3400

    refused = [
        _signed("wrong secret", {"delivery_id": ours["id"], "likes": 13}),
        _signed(secret, {"delivery_id": ours["id"], "likes": 13}, at=time.time() - 3600),
    ]
    raw2, tampered = _signed(secret, {"delivery_id": ours["id"], "likes": 13})
    refused.append((raw2.replace(b"13", b"99"), tampered))
    refused.append((raw2, {"Content-Type": "application/json"}))
    for body, bad_headers in refused:
        assert client.post(url, data=body, headers=bad_headers).status_code == 401
    # Another kind of channel, or none: the same answer, ids are not told to strangers.
    raw, headers = _signed(secret, {"delivery_id": ours["id"], "likes": 13})
    for elsewhere in ("/api/v1/results/inbound/999", "/api/v1/results/inbound/0"):
        assert client.post(elsewhere, data=raw, headers=headers).status_code == 401

    raw, headers = _signed(secret, {"delivery_id": theirs["id"], "likes": 1})
    foreign = client.post(url, data=raw, headers=headers)
    assert foreign.status_code == 422
    assert "delivery_id" in foreign.get_json()["fields"]
    raw, headers = _signed(secret, {"delivery_id": ours["id"], "likes": -1})
    assert client.post(url, data=raw, headers=headers).get_json()["fields"] == {
        "likes": "must be a whole number, zero or more"
    }

    later = {"delivery_id": ours["id"], "likes": 20, "reach": 5100}
    raw, headers = _signed(secret, later)
    assert client.post(url, data=raw, headers=headers).status_code == 201
    series = team.planner.get(f"/deliveries/{ours['id']}/results").get_json()["points"]
    assert [(p["likes"], p["reach"], p["source"]) for p in series] == [
        (12, 3400, "webhook"), (20, 5100, "webhook"),
    ]  # fmt: skip

    exported = team.planner.get(f"/results.csv?channel={channel['id']}")
    assert exported.status_code == 200
    assert exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [(r["likes"], r["reach"], r["channel"]) for r in rows] == [
        ("12", "3400", "Blog"), ("20", "5100", "Blog"),
    ]  # fmt: skip
    assert team.anonymous.get(f"/deliveries/{ours['id']}/results").status_code == 401
    assert team.planner.get("/results.csv?from=yesterday").status_code in (400, 422)


# --- Bluesky through a PDS that has an AppView ---------------------------------------------------


class _AppViewPds:
    """A PDS on loopback whose app.bsky.* requests reach an AppView: it answers createSession
    and getPosts as the reference PDS does when it proxies to one (the test network has none)."""

    def __init__(self, answer: tuple[int, dict[str, Any]]) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.answer = answer
        self.asked: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._send(200, {"did": "did:plc:werke", "handle": "werke.test",
                                 "accessJwt": "a", "refreshJwt": "r"})  # fmt: skip

            def do_GET(self) -> None:
                server.asked.append(self.path)
                self._send(*server.answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()


URI = "at://did:plc:werke/app.bsky.feed.post/3kabc"


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            (
                200,
                {
                    "posts": [
                        {
                            "uri": URI,
                            "likeCount": 7,
                            "repostCount": 2,
                            "replyCount": 1,
                            "quoteCount": 3,
                        }
                    ]
                },
            ),
            ("ok", 7, 2, 1, 3),
        ),
        ((200, {"posts": []}), ("gone", None, None, None, None)),
        ((403, {"error": "InsufficientScope"}), ("unauthorized", None, None, None, None)),
        ((501, {"error": "MethodNotImplemented"}), ("no_appview", None, None, None, None)),
    ],
)
def test_bluesky_counts_come_from_the_appview_behind_the_pds(
    team: Team, answer: tuple[int, dict[str, Any]], expected: tuple[Any, ...]
) -> None:
    from calendar_app.evaluation.reading import read_bluesky
    from calendar_app.networks.bluesky import BlueskyPublisher
    from calendar_app.outbound import OutboundPolicy
    from calendar_app.publishers import channel_secrets

    pds = _AppViewPds(answer)
    settings = team.app.config["CALENDAR"]
    publisher = BlueskyPublisher(
        timeout=5, policy=OutboundPolicy.from_config(settings), secrets=channel_secrets(settings)
    )
    try:
        config = {"service": pds.url, "handle": "werke.test", "app_password": "app-pass"}
        reading = read_bluesky(publisher, config, URI, 1)
    finally:
        publisher.close()
        pds.stop()
    assert (
        reading.state,
        reading.likes,
        reading.shares,
        reading.replies,
        reading.quotes,
    ) == expected
    assert pds.asked[0].startswith("/xrpc/app.bsky.feed.getPosts?uris=at%3A%2F%2F")
