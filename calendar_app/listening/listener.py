"""The listener: the scheduler's job that reads every listening channel from where the last
read stopped: a Mastodon channel's mentions and watched hashtags, a Bluesky channel's firehose.

Safe with several schedulers: the network is read outside any transaction; what was read is
stored in one transaction per source with insert-if-absent (channel, network id) and the cursor
moved forward only (`inbox.advance`), so two listeners reading the same page store it once and
a restarted one goes on where the database says.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from calendar_app.db import Database
from calendar_app.listening import inbox
from calendar_app.listening.bluesky import FIREHOSE, read_firehose
from calendar_app.listening.mastodon import (
    NOTIFICATIONS,
    Page,
    own_account_id,
    read_hashtag,
    read_mentions,
)
from calendar_app.models import Channel, WatchedHashtag
from calendar_app.networks.bluesky import BlueskyPublisher
from calendar_app.networks.mastodon import MastodonPublisher, NetworkError

log = logging.getLogger(__name__)

# Channel kinds whose accounts are listened to. Another network plugs in with its own reader.
LISTENING_KINDS = ("mastodon", "bluesky")


@dataclass
class ListenReport:
    stored: list[int] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)


def _sources(db: Database) -> list[tuple[int, str, dict[str, Any], list[str]]]:
    with db.transaction() as session:
        channels = session.scalars(
            select(Channel)
            .where(Channel.kind.in_(LISTENING_KINDS), Channel.active.is_(True))
            .order_by(Channel.id)
        ).all()
        tags = session.execute(select(WatchedHashtag.channel_id, WatchedHashtag.tag)).all()
        by_channel: dict[int, list[str]] = {}
        for channel_id, tag in tags:
            by_channel.setdefault(channel_id, []).append(tag)
        return [(c.id, c.kind, dict(c.config), sorted(by_channel.get(c.id, []))) for c in channels]


def _position(db: Database, channel_id: int, source: str) -> str | None:
    with db.transaction() as session:
        return inbox.read_position(session, channel_id, source)


def _keep(db: Database, channel_id: int, source: str, page: Page) -> list[int]:
    with db.transaction() as session:
        stored = inbox.store(session, channel_id, page.items)
        if page.position is not None:
            inbox.advance(session, channel_id, source, page.position)
        return stored


def listen_once(db: Database, publishers: Mapping[str, Any]) -> ListenReport:
    """One pass over every listening channel; one channel's failure never stops the others."""
    report = ListenReport()
    for channel_id, kind, config, tags in _sources(db):
        publisher = publishers.get(kind)
        try:
            if isinstance(publisher, MastodonPublisher):
                _listen_mastodon(db, publisher, channel_id, config, tags, report)
            elif isinstance(publisher, BlueskyPublisher):
                page = read_firehose(
                    publisher, config, _position(db, channel_id, FIREHOSE), channel_id=channel_id
                )
                report.stored += _keep(db, channel_id, FIREHOSE, page)
        except NetworkError as exc:
            report.errors[channel_id] = exc.reason
            log.warning("listening to channel %s failed: %s", channel_id, exc.reason)
    if report.stored:
        log.info("inbox: %d new items", len(report.stored))
    return report


def _listen_mastodon(
    db: Database,
    publisher: MastodonPublisher,
    channel_id: int,
    config: dict[str, Any],
    tags: list[str],
    report: ListenReport,
) -> None:
    own_id = own_account_id(publisher, config, _deadline(publisher))
    page = read_mentions(publisher, config, _position(db, channel_id, NOTIFICATIONS), own_id=own_id)
    report.stored += _keep(db, channel_id, NOTIFICATIONS, page)
    for tag in tags:
        source = f"tag:{tag}"
        page = read_hashtag(
            publisher, config, tag, _position(db, channel_id, source), own_id=own_id
        )
        report.stored += _keep(db, channel_id, source, page)


def _deadline(publisher: MastodonPublisher) -> float:
    return time.monotonic() + publisher.timeout
