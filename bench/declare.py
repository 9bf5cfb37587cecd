"""How fast it stops: crisis declarations through the API while a scheduler process is at work,
at random moments, with a queue of planned deliveries behind them. Counts every delivery in the
crisis' scope that the receiver saw after the declaration had returned (the goal is none)."""

from __future__ import annotations

import logging
import random
import secrets
import time
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from datetime import timedelta

from bench.world import (
    Databases,
    Receiver,
    Schedulers,
    delivery_counts,
    make_webhooks,
    plan,
    seed_background,
)
from calendar_app import create_app, crisis, planning
from calendar_app.channels import create_channel
from calendar_app.db import Database
from calendar_app.extensions import get_db
from calendar_app.models import User
from calendar_app.scheduler import start_background
from calendar_app.timeutil import now_utc
from config import Config

CHANNELS = 6


@dataclass
class DeclareRun:
    trials: int
    declare_ms: list[float] = field(default_factory=list)
    health_ms: list[float] = field(default_factory=list)
    late: int = 0  # in scope, received after the declaration returned
    caught_mid_queue: int = 0  # trials where one declaration found both sent and held posts
    in_flight: int = 0  # deliveries a declaration waited for


def declare_run(
    dbs: Databases, receiver: Receiver, *, engine: str, queued: int, trials: int, seed: int
) -> DeclareRun:
    """SQLite: the scheduler embedded in the app's process (as `calendar-app serve` runs it; the
    only layout the docs recommend on SQLite). PostgreSQL: two `calendar-app scheduler`
    processes."""
    url, team = dbs.fresh(engine)
    workdir = dbs.tmp / f"declare-{time.monotonic_ns()}"
    workdir.mkdir()
    # Small claims and a fast tick, as in tests/test_scale_out.py: a declaration then falls
    # between two claims as often as during a send.
    settings = {
        "SCHEDULER_INTERVAL_SECONDS": 0.01,
        "DISPATCH_BATCH_SIZE": 2,
        "DISPATCH_CONCURRENCY": 2,
        "WEBHOOK_TIMEOUT_SECONDS": 2.0,
    }
    schedulers = Schedulers(url, workdir, **settings)
    config = dc_replace(
        Config(),
        ENV="testing",
        SECRET_KEY=secrets.token_hex(16),
        DATABASE_URL=url,
        INSTANCE_PATH=workdir,
        CRISIS_LIFT_CONFIRMATIONS=1,  # this run measures declaring, not the two-person lift
        **settings,  # type: ignore[arg-type]
    )
    app = create_app(config)
    logging.getLogger("calendar_app").setLevel(logging.WARNING)  # one line per send otherwise
    embedded = None
    db = get_db(app) if engine == "sqlite" else Database(url)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {team.head_token}"}
    rng = random.Random(seed)
    run = DeclareRun(trials)
    try:
        channels = make_webhooks(db, team, receiver, CHANNELS)
        paths = {channel_id: f"/hook/{i}" for i, channel_id in enumerate(channels)}
        if queued:  # the queue: planned, approved, not yet due
            seed_background(db, team, channels[0], queued, spread_days=60, future_only=True)
        receiver.reset()
        if engine == "sqlite":
            embedded = start_background(app)
        else:
            schedulers.start(2)
        plan(db, team, channels, 1, at=now_utc())
        assert receiver.wait_for(CHANNELS, timeout=60), "scheduler did not start"
        deadline = time.monotonic() + 60 + trials * 2.0
        for trial in range(trials):
            if time.monotonic() > deadline:
                break
            scope = None if rng.random() < 0.5 else rng.sample(channels, 3)
            post_ids = plan(db, team, channels, 2, at=now_utc() - timedelta(seconds=0.001))
            time.sleep(rng.uniform(0, 0.06))
            started = time.perf_counter()
            response = client.post(
                "/api/v1/crisis",
                json={"reason": f"Versuch {trial}", **({"channels": scope} if scope else {})},
                headers=auth,
            )
            returned_at = time.time()
            run.declare_ms.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 201, response.get_json()
            run.in_flight += len(response.get_json()["in_flight"])
            started = time.perf_counter()
            assert client.get("/api/v1/health").status_code == 200
            run.health_ms.append((time.perf_counter() - started) * 1000)
            time.sleep(0.05)  # the scheduler keeps ticking
            in_scope = {paths[c] for c in (scope or channels)}
            run.late += sum(
                1 for at, path in receiver.arrivals() if at > returned_at and path in in_scope
            )
            lifted = client.post("/api/v1/crisis/lift", json={"note": "vorbei"}, headers=auth)
            assert lifted.status_code == 200, lifted.get_json()
            with db.transaction() as session:
                head = session.get(User, team.head_id)
                seen: set[str] = set()
                for post_id in post_ids:  # reviewed: whatever was held is discarded
                    post = planning.get_post(session, post_id)
                    seen |= {d.status for d in post.deliveries}
                    if post.status == "held":
                        crisis.discard_post(session, head, post)
                run.caught_mid_queue += {"published", "held"} <= seen
            receiver.reset()
        run.trials = len(run.declare_ms)
        return run
    finally:
        if embedded is not None:
            scheduler, dispatcher = embedded
            dispatcher.stop()
            scheduler.shutdown(wait=True)
            dispatcher.close()
        schedulers.stop()
        get_db(app).dispose()
        db.dispose()


@dataclass
class SlowDeclareRun:
    """Declarations while every request to the channel takes `delay` seconds."""

    declare_s: list[float] = field(default_factory=list)
    in_flight: list[int] = field(default_factory=list)
    still_open: list[int] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    late: int = 0  # requests that arrived after a declaration had returned


def slow_declare_run(
    dbs: Databases, receiver: Receiver, *, engine: str, due: int, delay: float, reps: int
) -> SlowDeclareRun:
    """`due` deliveries fall due at once on one channel that answers each request after `delay`
    seconds; one `calendar-app scheduler` process with the default settings (8 senders, claims
    of 50, 10 s deadline per request) starts on them. Once the first requests are on the wire a
    head declares a crisis through the API. Measured: how long the declaration takes (it should
    wait for the requests on the wire, about one request's time, never for the queue behind
    them), and whether any request arrived after it returned."""
    run = SlowDeclareRun()
    config = Config()
    senders = min(config.DISPATCH_CONCURRENCY, due)
    for _ in range(reps):
        url, team = dbs.fresh(engine)
        workdir = dbs.tmp / f"slow-declare-{time.monotonic_ns()}"
        workdir.mkdir()
        schedulers = Schedulers(url, workdir, SCHEDULER_INTERVAL_SECONDS=0.2)
        app = create_app(
            dc_replace(
                config,
                ENV="testing",
                SECRET_KEY=secrets.token_hex(16),
                DATABASE_URL=url,
                INSTANCE_PATH=workdir,
            )
        )
        db = get_db(app)
        try:
            with db.transaction() as session:
                channel = create_channel(
                    session,
                    session.get(User, team.admin_id),
                    name="Langsamer Kanal",
                    kind="webhook",
                    config={"url": receiver.url(f"slow/{delay:g}/x"), "secret": "bench"},
                ).id
            receiver.reset()
            plan(db, team, [channel], due, at=now_utc())
            schedulers.start(1)
            assert receiver.wait_for(senders, timeout=60), "the scheduler did not start"
            started = time.perf_counter()
            response = app.test_client().post(
                "/api/v1/crisis",
                json={"reason": "Shitstorm"},
                headers={"Authorization": f"Bearer {team.head_token}"},
            )
            run.declare_s.append(time.perf_counter() - started)
            returned_at = time.time()
            assert response.status_code == 201, response.get_json()
            answer = response.get_json()
            run.in_flight.append(len(answer["in_flight"]))
            run.still_open.append(len(answer["still_open"]))
            time.sleep(3.0)  # a request started after the declaration would have arrived by now
            run.late += sum(1 for at, _path in receiver.arrivals() if at > returned_at)
            run.held.append(delivery_counts(db).get("held", 0))
        finally:
            schedulers.stop()
            get_db(app).dispose()
    return run
