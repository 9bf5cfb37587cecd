"""A team in the middle of a crisis, served for the browser tests (the `crisis_team` fixture).

People who read German and English, channels on five networks, a week of posts in every status,
and a crisis in force that held one of them: every page of the app has something to show.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import make_url, select, update

from calendar_app import crisis, planning, post_media
from calendar_app.channels import create_channel
from calendar_app.db import Database
from calendar_app.demo import upload_demo_picture
from calendar_app.models import Delivery, Department, Post
from calendar_app.timeutil import now_utc
from tests.support.browser import (
    TEAM,
    LiveSite,
    create_team,
    dispatch_pass,
    site_of,
)

HELD = "Baustellen-Update Hafenstraße"
APPROVED = "Sommerfest im Stadtpark: Programm und Anfahrt mit Bus und Bahn"


@dataclass
class CrisisTeam:
    site: LiveSite
    day: datetime  # the day the plan is on, in the team's time zone
    held_post: int
    approved_post: int


def plan(database_url: str) -> tuple[dict[str, int], datetime, int, int]:
    """People (an admin reading German, one reading English, a head, a planner), channels on
    five networks, a week of posts in every status, and a crisis in force that held one."""
    day = (
        (now_utc() + timedelta(days=3))
        .astimezone(TEAM)
        .replace(hour=9, minute=0, second=0, microsecond=0)
    )
    db = Database(database_url)
    try:
        with db.transaction() as session:
            marketing = session.scalars(select(Department).filter_by(slug="marketing")).one()
            pr = session.scalars(select(Department).filter_by(slug="pr")).one()
            people = create_team(
                session,
                [
                    ("planner", "planner", "Lena Hoffmann"),
                    ("head", "head", "Katrin Albers"),
                    ("admin", "admin", "Jana Petersen"),
                    ("admin-en", "admin", "Sam Whitfield"),
                ],
            )
            people["admin-en"].locale = "en"
            people["planner"].departments.append(marketing)
            admin = people["admin"]
            channels = {
                network: create_channel(
                    session, admin, name=name, kind="outbox", network=network
                ).id
                for network, name in [
                    ("x", "X @StadtwerkeNH"),
                    ("mastodon", "Mastodon @nordhafen@social.example"),
                    ("bluesky", "Bluesky nordhafen.example"),
                    ("linkedin", "LinkedIn Stadtwerke Nordhafen"),
                    ("instagram", "Instagram @stadtwerke.nordhafen"),
                ]
            }
            planner, head = people["planner"], people["head"]

            def post(title: str, networks: list[str], hours: float, **extra: object) -> Post:
                return planning.create_post(
                    session,
                    planner,
                    title=title,
                    body=f"{title}. Mehr dazu auf nordhafen.example.",
                    channel_ids=[channels[n] for n in networks],
                    publish_at=day + timedelta(hours=hours),
                    **extra,  # type: ignore[arg-type]
                )

            held = post(HELD, ["x", "mastodon"], 0)
            planning.submit_post(session, planner, held)
            planning.approve_post(session, head, held, allow_self_approval=False)
            post("Azubi-Tag: Entwurf", ["instagram"], 24 + 2, department_id=pr.id)
            for title, networks, hours in [
                ("Neue Ladesäulen am Hafen", ["linkedin", "bluesky"], 24 + 5),
                ("Wasserhärte im Überblick", ["mastodon"], 48 + 1),
            ]:
                planning.submit_post(session, planner, post(title, networks, hours))
            # Instagram publishes no post without an image: the approved one has its picture.
            picture = upload_demo_picture(
                session,
                planner,
                "#1971c2",
                Path(make_url(database_url).database or ".").parent / "media",
            )
            approved = post(
                APPROVED,
                ["instagram", "x", "bluesky"],
                72 + 3,
                media=[post_media.ImageChoice(picture.id, "Bühne im Stadtpark")],
            )
            planning.submit_post(session, planner, approved)
            planning.approve_post(session, head, approved, allow_self_approval=False)
            # What the scheduler would have made of earlier posts: published, failed, missed.
            for title, networks, hours, status in [
                ("Stromausfall behoben", ["x", "linkedin"], -46, "published"),
                ("Jobmesse Nordhafen", ["linkedin"], -22, "failed"),
                ("Tag der offenen Tür", ["instagram"], -21, "missed"),
            ]:
                done = post(title, networks, hours)
                session.execute(update(Post).where(Post.id == done.id).values(status=status))
                session.execute(
                    update(Delivery).where(Delivery.post_id == done.id).values(status=status)
                )
            crisis.declare_crisis(
                session,
                head,
                reason="Störfall im Heizkraftwerk Nordhafen",
                channel_ids=[channels["x"], channels["mastodon"]],
            )
            return channels, day, held.id, approved.id
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def crisis_team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrisisTeam]:
    with site_of(tmp_path_factory, "layout", plan) as (url, database_url, _env, planned):
        channels, day, held_post, approved_post = planned
        site = LiveSite(url, database_url, channels)
        dispatch_pass(site, day + timedelta(minutes=5))  # the crisis holds the first post
        yield CrisisTeam(site, day, held_post, approved_post)
