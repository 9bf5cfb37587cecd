"""A property-based test of the delivery state machine: no sequence of approve, edit, declare,
lift, release, discard and dispatch breaks the guarantees, also when a person acts while a pass
is under way (between the claim and the start of a send, or with a request on the wire).

Hypothesis drives the rules modules on a fresh SQLite database per example, with a real
dispatcher sending to a real loopback receiver, and checks after every step:
- never twice: no delivery is received more than once, and what was received is exactly what is
  recorded as published;
- crisis halt: nothing in a crisis' scope goes out while it is in force, except crisis responses;
- lifting never publishes: a held delivery stays held until a head releases it;
- nothing lost: after a pass, every approved delivery that is due is in a visible end state;
- a discarded post never leaves the app again: what was not on the wire when it was discarded
  is never received;
- a post shows the status its deliveries call for.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from collections.abc import Collection
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)
from sqlalchemy import func, select

from calendar_app import crisis, interleave, planning
from calendar_app.channels import create_channel
from calendar_app.db import Database
from calendar_app.dispatch import Dispatcher
from calendar_app.errors import RuleError
from calendar_app.models import Delivery, Post, QueueState, User
from config import Config
from tests.conftest import TEST_SETTINGS, Cast, Clock
from tests.support.receiver import Receiver

WAITING = ("draft", "in_review")


@pytest.fixture(scope="module")
def shared_receiver() -> Receiver:
    server = Receiver().start()
    yield server
    server.stop()


def test_no_sequence_of_actions_breaks_the_guarantees(
    sqlite_template: tuple[Path, Cast], shared_receiver: Receiver
) -> None:
    template, _cast = sqlite_template
    seen = {"sent": 0, "sent_during_crisis": 0, "held": 0, "released_and_sent": 0}

    class DeliveryStateMachine(RuleBasedStateMachine):
        posts = Bundle("posts")

        @initialize()
        def open_the_calendar(self) -> None:
            self.folder = Path(tempfile.mkdtemp(prefix="calendar-sm-"))
            shutil.copy(template, self.folder / "calendar.db")
            self.db = Database(f"sqlite:///{self.folder / 'calendar.db'}")
            config = replace(Config(), INSTANCE_PATH=self.folder, **TEST_SETTINGS)
            self.clock = Clock()
            self.dispatcher = Dispatcher(self.db, config, clock=self.clock)
            self.receiver = shared_receiver
            with self.receiver.lock:
                self.receiver.received.clear()
            with self.db.transaction() as session:
                admin = self.user(session, "admin")
                self.channels = [
                    create_channel(
                        session,
                        admin,
                        name=name,
                        kind="webhook",
                        config={"url": f"{self.receiver.url}/{name}", "secret": "k"},
                    ).id
                    for name in ("presse", "karriere")
                ]
            names = ("presse", "karriere")
            self.paths = {f"/hook/{n}": c for n, c in zip(names, self.channels, strict=True)}
            self.crisis_scope: set[int] | None = None  # channels under a crisis in force
            self.ever_held: set[int] = set()
            self.never_to_send: set[int] = set()  # deliveries of discarded posts, not on the wire

        def teardown(self) -> None:
            self.dispatcher.close()
            self.db.dispose()
            shutil.rmtree(self.folder, ignore_errors=True)

        def user(self, session, name: str) -> User:
            return session.scalars(select(User).where(User.email == f"{name}@example.org")).one()

        def attempt(self, action) -> None:
            """Run one action in its own transaction; a refusal by the rules changes nothing."""
            session = self.db.session()
            try:
                action(session)
                session.commit()
            except RuleError:
                session.rollback()
            finally:
                session.close()

        # --- what people do ----------------------------------------------------------------

        @rule(
            target=posts,
            channels=st.sampled_from([[0], [1], [0, 1]]),
            minutes=st.integers(-5, 30),
            crisis_response=st.booleans(),
            approve=st.booleans(),
        )
        def plan_and_submit(self, channels, minutes, crisis_response, approve) -> int:
            # A crisis response answers a crisis in force; outside one the flag is refused.
            crisis_response = crisis_response and self.crisis_scope is not None
            with self.db.transaction() as session:
                planner = self.user(session, "planner")
                post = planning.create_post(
                    session,
                    planner,
                    body="Neuigkeiten vom Hafen",
                    channel_ids=[self.channels[i] for i in channels],
                    publish_at=self.clock.now + timedelta(minutes=minutes),
                    crisis_response=crisis_response,
                )
                planning.submit_post(session, planner, post)
                if approve:
                    planning.approve_post(
                        session, self.user(session, "head"), post, allow_self_approval=False
                    )
                return post.id

        @rule(post_id=posts)
        def approve(self, post_id) -> None:
            self.attempt(
                lambda s: planning.approve_post(
                    s,
                    self.user(s, "head"),
                    planning.get_post(s, post_id),
                    allow_self_approval=False,
                )
            )

        @rule(post_id=posts, minutes=st.integers(-5, 30))
        def edit(self, post_id, minutes) -> None:
            def change(s) -> None:
                post = planning.get_post(s, post_id)
                planner = self.user(s, "planner")
                planning.edit_post(
                    s, planner, post, {"publish_at": self.clock.now + timedelta(minutes=minutes)}
                )
                if post.status == "draft":
                    planning.submit_post(s, planner, post)

            self.attempt(change)

        @rule(everywhere=st.booleans())
        def declare(self, everywhere) -> None:
            scope = None if everywhere else [self.channels[0]]

            def declare_now(s) -> None:
                crisis.declare_crisis(s, self.user(s, "head"), reason="Sturm", channel_ids=scope)
                self.crisis_scope = set(scope or self.channels)

            self.attempt(declare_now)

        @rule()
        def lift(self) -> None:
            def lift_now(s) -> None:
                crisis.lift_crisis(s, self.user(s, "head"), note="ruhig", confirmations_required=1)
                self.crisis_scope = None

            self.attempt(lift_now)
            self.check_no_sends_without_a_pass()

        @rule(post_id=posts, later=st.sampled_from([None, 1, 10]))
        def release(self, post_id, later) -> None:
            at = self.clock.now + timedelta(minutes=later) if later else None
            self.attempt(
                lambda s: crisis.release_post(
                    s, self.user(s, "head"), planning.get_post(s, post_id), publish_at=at
                )
            )

        @rule(post_id=posts)
        def discard(self, post_id) -> None:
            def discard_now(s) -> None:
                post = crisis.discard_post(s, self.user(s, "head"), planning.get_post(s, post_id))
                self.never_to_send |= {
                    d.id for d in post.deliveries if d.status not in ("publishing", "published")
                }

            self.attempt(discard_now)

        @rule(
            minutes=st.integers(0, 20),
            post_id=posts,
            action=st.sampled_from(["discard", "release", "edit", "declare"]),
            point=st.sampled_from(["start.before", "send.before"]),
        )
        def a_person_acts_while_the_pass_is_under_way(self, minutes, post_id, action, point):
            """The pass has claimed deliveries and is about to start them (`start.before`), or
            has a request on the wire (`send.before`), when a person acts."""
            done: list[bool] = []

            def act() -> None:
                if done:
                    return
                done.append(True)
                if action == "discard":
                    self.discard(post_id)
                elif action == "release":
                    self.release(post_id, None)
                elif action == "edit":
                    self.edit(post_id, 0)
                else:
                    self.declare(everywhere=True)

            with interleave.at(point, act):
                self.time_passes_and_the_scheduler_runs(minutes, person_acted=action)

        @rule(minutes=st.integers(0, 20))
        def time_passes_and_the_scheduler_runs(
            self, minutes, person_acted: str | None = None
        ) -> None:
            self.clock.advance(minutes=minutes)
            held_before = self.delivery_ids("held")
            # What a head releases while the pass is under way falls due after the pass claimed:
            # the next pass takes it (the scheduler ticks every second), not this one.
            reviewed = self.delivery_ids(*crisis.REVIEWABLE) if person_acted == "release" else set()
            seen_before = len(self.receiver.snapshot())
            in_force_before = self.crisis_scope
            report = self.dispatcher.run_pass()
            sent = self.receiver.snapshot()[seen_before:]
            # A crisis declared during the pass lets through only what was already on the wire.
            scope = in_force_before if person_acted == "declare" else self.crisis_scope
            if scope:
                responses = self.crisis_response_posts()
                for request in sent:
                    if self.paths[request.path] in scope:
                        assert request.json["post_id"] in responses, "sent during a crisis"
            if person_acted is None:  # a person's release or discard may take a held one
                assert held_before <= self.delivery_ids("held"), "a pass never releases held"
            seen["sent"] += len(sent)
            seen["sent_during_crisis"] += len(sent) if self.crisis_scope else 0
            seen["released_and_sent"] += sum(
                1 for r in sent if int(r.idempotency_key) in self.ever_held
            )
            # A started send that could not leave in time went back unsent: the next pass's.
            self.check_nothing_due_is_left_behind(except_for={*reviewed, *report.released})

        @rule(post_id=posts)
        def a_crisis_catches_a_planned_post(self, post_id) -> None:
            """The puppet-museum path as one step, so every run goes where the guarantees are at
            stake: the post approved (if the rules allow), a crisis everywhere (unless one is in
            force), then the post falls due."""
            self.approve(post_id)
            if self.crisis_scope is None:
                self.declare(everywhere=True)
            with self.db.transaction() as session:
                due = session.scalar(
                    select(func.max(Delivery.due_at)).where(Delivery.post_id == post_id)
                )
            wait = 0 if due is None else max(0, (due - self.clock.now).total_seconds())
            self.time_passes_and_the_scheduler_runs(math.ceil(wait / 60))

        # --- what must always hold ------------------------------------------------------------

        def check_no_sends_without_a_pass(self) -> None:
            assert self.delivery_ids("publishing") == set()
            assert self.delivery_ids("claimed") == set()

        def check_nothing_due_is_left_behind(self, except_for: Collection[int] = ()) -> None:
            """Nothing lost: after a pass, every approved delivery that is due is in a visible
            end state, except what a person put back into the queue during the pass, after its
            claim (`except_for`): that is the next pass's, and its check covers it."""
            with self.db.transaction() as session:
                stuck = session.scalars(
                    select(Delivery.id)
                    .join(Post)
                    .where(
                        Post.status.not_in(WAITING),
                        Delivery.status.in_(["scheduled", "claimed", "publishing"]),
                        Delivery.due_at <= self.clock.now,
                    )
                ).all()
            assert [d for d in stuck if d not in except_for] == []

        def delivery_ids(self, *statuses: str) -> set[int]:
            with self.db.transaction() as session:
                return set(
                    session.scalars(select(Delivery.id).where(Delivery.status.in_(statuses)))
                )

        def crisis_response_posts(self) -> set[int]:
            """Responses to the crisis in force: the only posts it lets through."""
            with self.db.transaction() as session:
                active = select(QueueState.active_crisis_id).scalar_subquery()
                return set(
                    session.scalars(
                        select(Post.id).where(
                            Post.crisis_response.is_(True), Post.crisis_id == active
                        )
                    )
                )

        @invariant()
        def never_twice_and_exactly_what_is_published(self) -> None:
            if not hasattr(self, "db"):
                return
            newly_held = self.delivery_ids("held") - self.ever_held
            seen["held"] += len(newly_held)
            self.ever_held |= newly_held
            counts = self.receiver.counts_by_key()
            assert all(n == 1 for n in counts.values()), counts
            assert {int(k) for k in counts} == self.delivery_ids("published")
            assert self.never_to_send.isdisjoint(int(k) for k in counts), "sent after discard"

        @invariant()
        def each_post_shows_what_its_deliveries_call_for(self) -> None:
            if not hasattr(self, "db"):
                return
            with self.db.transaction() as session:
                for post in session.scalars(select(Post)):
                    if post.status in WAITING:
                        continue
                    expected = planning.derived_status(d.status for d in post.deliveries)
                    assert post.status == expected, (post.id, post.status, expected)

    DeliveryStateMachine.TestCase.settings = settings(
        max_examples=int(os.environ.get("STATE_MACHINE_EXAMPLES", "100")),
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    # The runs must go where the guarantees are at stake (holds, sends in a crisis), not only
    # through the happy path. The search is random: a round that happened not to get there is
    # followed by another, up to three.
    for _round in range(3):
        DeliveryStateMachine.TestCase().runTest()
        if seen["held"] and seen["sent_during_crisis"]:
            break
    print("state machine coverage:", seen)
    assert seen["sent"] > 0, seen
    assert seen["held"] > 0, seen
    assert seen["sent_during_crisis"] > 0, seen
