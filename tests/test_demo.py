"""The demo team: a believable month of plans that obeys the same rules as real work."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from calendar_app.accounts import authenticate
from calendar_app.channel_rules import body_problem
from calendar_app.db import Database
from calendar_app.demo import DatabaseNotEmpty, DemoSummary, fill_demo
from calendar_app.migrate import upgrade
from calendar_app.models import Campaign, Channel, Department, Playbook, Post, User

NOW = datetime(2026, 3, 16, 8, 0, tzinfo=UTC)  # a Monday; the month ahead crosses the DST change
BERLIN = "Europe/Berlin"
DEMO_PASSWORD = "demo-passwort"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path}/t.db"
    upgrade(url)
    database = Database(url)
    yield database
    database.dispose()


def load_demo(
    db: Database, *, password: str | None = DEMO_PASSWORD, timezone: str = BERLIN
) -> DemoSummary:
    with db.transaction() as session:
        return fill_demo(
            session, password=password, timezone=timezone, now=NOW, media_dir=media_beside(db)
        )


def media_beside(db: Database) -> Path:
    """The demo's pictures, in the folder of the test's database file."""
    return Path(db.engine.url.database or ".").parent / "media"


def all_of(session: Session, model: type) -> list:  # type: ignore[type-arg]
    return list(session.scalars(select(model)))


def test_demo_fills_an_empty_database(db: Database) -> None:
    summary = load_demo(db)
    with db.transaction() as session:
        departments = all_of(session, Department)
        users = all_of(session, User)
        channels = all_of(session, Channel)
        posts = all_of(session, Post)

        assert len(departments) >= 5
        assert len({d.color for d in departments}) == len(departments)
        assert {u.role for u in users} == {"planner", "head", "admin"}
        assert all(u.email.endswith("@nordhafen.example") for u in users)
        assert all(u.departments for u in users)
        assert {d.slug for d in departments} >= {
            "marketing", "pr", "hr", "customer-service", "media", "corporate-communications"
        }  # fmt: skip
        cared_for = [c for c in channels if c.owner and c.deputy]
        assert len(cared_for) == len(channels) - 1  # the blog shows how a gap is flagged
        assert {c.kind for c in channels} == {"outbox"}
        assert {"x", "linkedin", "instagram", "facebook", "mastodon", "blog"} <= {
            c.network for c in channels
        }

        statuses = Counter(p.status for p in posts)
        assert 40 <= len(posts) <= 60
        assert {"scheduled", "in_review", "draft"} <= set(statuses)
        assert statuses["scheduled"] > len(posts) / 2
        assert all(p.department is not None for p in posts)
        assert len({p.department_id for p in posts}) == len(departments)

        # Crisis responses answer a crisis in force: the demo has none (its playbook has them).
        assert [p for p in posts if p.crisis_response] == []

    assert summary.channel_count == len(channels)
    assert summary.post_counts.total() == len(posts)


def test_every_demo_post_fits_its_channels(db: Database) -> None:
    load_demo(db)
    with db.transaction() as session:
        for post in all_of(session, Post):
            for delivery in post.deliveries:
                channel = delivery.channel
                assert body_problem(post.body, channel.network, channel.name) is None, post.title


def test_approved_demo_posts_follow_the_four_eyes_rule(db: Database) -> None:
    load_demo(db)
    with db.transaction() as session:
        approved = [p for p in all_of(session, Post) if p.status == "scheduled"]
        assert approved
        for post in approved:
            assert post.approved_by is not None
            assert post.approved_by.role == "head"
            assert post.approved_by_id != post.author_id
            assert all(d.due_at == post.publish_at for d in post.deliveries)


@pytest.mark.parametrize("timezone", [BERLIN, "America/New_York"])
def test_demo_posts_are_planned_for_the_month_ahead_at_office_hours(
    db: Database, timezone: str
) -> None:
    load_demo(db, timezone=timezone)
    with db.transaction() as session:
        posts = all_of(session, Post)
    for post in posts:
        assert NOW < post.publish_at <= NOW + timedelta(days=32)
        wall_clock = post.publish_at.astimezone(ZoneInfo(timezone))
        assert 7 <= wall_clock.hour <= 18, (post.title, wall_clock)
        assert wall_clock.minute in (0, 15, 30, 45)


def test_demo_has_the_puppet_museum_post_a_couple_of_weeks_ahead(db: Database) -> None:
    load_demo(db)
    with db.transaction() as session:
        museum = [p for p in all_of(session, Post) if "Puppentheater-Museum" in p.body]
    assert len(museum) == 1
    assert museum[0].status == "scheduled"
    assert timedelta(days=10) <= museum[0].publish_at - NOW <= timedelta(days=18)


def test_every_demo_user_logs_in_with_the_given_password(db: Database) -> None:
    summary = load_demo(db, password="x12345678-demo")
    with db.transaction() as session:
        for _name, email, _role in summary.people:
            assert authenticate(session, email, "x12345678-demo") is not None
    described = summary.describe()
    assert "x12345678-demo" in described
    assert all(email in described for _name, email, _role in summary.people)


def test_demo_makes_up_a_password_when_none_is_given(db: Database) -> None:
    summary = load_demo(db, password=None)
    assert len(summary.password) >= 12
    assert summary.password in summary.describe()
    with db.transaction() as session:
        assert authenticate(session, summary.people[0][1], summary.password) is not None


def test_demo_refuses_a_database_that_has_data(db: Database) -> None:
    load_demo(db)
    with pytest.raises(DatabaseNotEmpty):
        load_demo(db)


def test_demo_command_after_db_upgrade(tmp_path: Path) -> None:
    command = str(Path(sys.executable).parent / "calendar-app")
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path}/cli.db",
        "CALENDAR_ENV": "development",
        "CALENDAR_INSTANCE_PATH": str(tmp_path / "instance"),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [command, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    assert run("db", "upgrade").returncode == 0
    first = run("demo", "--password", "x12345678-demo")
    assert first.returncode == 0, first.stderr
    assert "x12345678-demo" in first.stdout
    assert "@nordhafen.example" in first.stdout

    again = run("demo", "--password", "x12345678-demo")
    assert again.returncode != 0
    assert "empty" in again.stderr
    assert run("demo", "--if-empty").returncode == 0


def test_demo_campaigns_have_goals_kpis_and_posts_of_their_departments(db: Database) -> None:
    load_demo(db)
    with db.transaction() as session:
        found = session.scalars(select(Campaign).order_by(Campaign.name)).all()
        assert len(found) >= 3
        for campaign in found:
            posts = session.scalars(select(Post).where(Post.campaign_id == campaign.id)).all()
            assert len(posts) >= 3, campaign.name
            assert campaign.kpis
            assert all(k["target"] > 0 for k in campaign.kpis)
            assert campaign.starts_on <= campaign.ends_on
            involved = {d.id for d in campaign.departments}
            assert {p.department_id for p in posts} <= involved, campaign.name


def test_demo_has_a_playbook_ready_for_the_crisis_dialog(db: Database) -> None:
    load_demo(db)
    with db.transaction() as session:
        [playbook] = all_of(session, Playbook)
        assert playbook.name == "Störfall im Heizkraftwerk"
        assert playbook.all_channels
        assert "gewinnspiel" in playbook.hold_keywords
        assert {s.channel.network for s in playbook.statements} == {"x", "linkedin"}
        roles = {c.role for c in playbook.contacts if c.user_id is None}
        assert roles == {"legal", "works_council"}
        assert len([c for c in playbook.contacts if c.user_id is not None]) == 2
