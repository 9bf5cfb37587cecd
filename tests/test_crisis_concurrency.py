"""Guarantees 1 and 2 under concurrency: dispatch passes run in several threads while a crisis is
declared. After `declare` returns the receiver gets nothing more in scope, and every due delivery
ends in exactly one state."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from calendar_app.extensions import get_db
from calendar_app.models import Delivery
from calendar_app.timeutil import now_utc
from tests.conftest import Team
from tests.support.receiver import Receiver, Reply

DUE = 120
THREADS = 4


@pytest.fixture
def config_overrides() -> dict[str, float]:
    """The suite's two-second timeout is for tests of timeouts. Here a send that timed out on a
    loaded machine (its receiver answers in 10 ms) would be retried and then held, after the
    receiver had it: a request whose answer never came, which is not what these tests are about."""
    return {"WEBHOOK_TIMEOUT_SECONDS": 30.0}


@pytest.mark.parametrize("scope", ["all", "one_channel"])
def test_no_delivery_in_scope_starts_after_declare_returns(
    any_team: Team, receiver: Receiver, make_dispatcher, scope: str
) -> None:
    team = any_team
    receiver.reply = lambda _r: Reply(delay=0.01)  # slow enough that sends overlap the declare
    in_scope = team.channel(
        "Konzern-X", kind="webhook", network="x", config={"url": receiver.url + "/x", "secret": "a"}
    )
    outside = team.channel(
        "Karriere", kind="webhook", config={"url": receiver.url + "/jobs", "secret": "b"}
    )
    due_at = now_utc() - timedelta(seconds=1)
    for i in range(DUE):
        team.scheduled([in_scope["id"], outside["id"]], at=due_at, body=f"Beitrag {i}")
    dispatchers = [make_dispatcher(team.app, worker=f"t{i}") for i in range(THREADS)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def keep_dispatching(dispatcher) -> None:
        try:
            while not stop.is_set():
                dispatcher.run_pass()
                time.sleep(0.001)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [
        threading.Thread(target=keep_dispatching, args=(d,), daemon=True) for d in dispatchers
    ]
    payload: dict = {"reason": "Shitstorm"}
    if scope == "one_channel":
        payload["channels"] = [in_scope["id"]]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while len(receiver.snapshot()) < DUE // 3 and time.monotonic() < deadline:
            time.sleep(0.005)  # wait until the queue is busy
        response = team.head.post("/crisis", json=payload)
        returned_at = time.monotonic()
        time.sleep(0.5)  # the dispatchers keep running; nothing in scope may start now
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not errors, errors
    assert response.status_code == 201, response.get_json()
    in_flight = response.get_json()["in_flight"]
    assert all(d["status"] != "publishing" for d in in_flight), in_flight
    for dispatcher in dispatchers:  # drain what is out of scope
        dispatcher.run_pass()

    received = receiver.snapshot()
    late_in_scope = [r for r in received if r.path.endswith("/x") and r.at > returned_at]
    assert late_in_scope == []
    if scope == "all":
        assert [r for r in received if r.at > returned_at] == []

    keys = receiver.counts_by_key()
    assert max(keys.values()) == 1, "a delivery was sent twice"
    with get_db(team.app).transaction() as session:
        states = dict(
            session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )
        published = set(session.scalars(select(Delivery.id).where(Delivery.status == "published")))
    assert sum(states.values()) == 2 * DUE
    assert set(states) <= {"published", "held"}, states
    assert published == {int(k) for k in keys}, "published must be exactly what was received"
    assert states.get("held", 0) > 0
    if scope == "one_channel":
        outside_received = [r for r in received if r.path.endswith("/jobs")]
        assert len(outside_received) == DUE, "channels outside the scope keep publishing"
