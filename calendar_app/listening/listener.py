"""The listener: the scheduler's job that reads every listening channel from where the last
read stopped: a Mastodon channel's mentions, watched hashtags and search terms, a Bluesky
channel's firehose (mentions, replies, quotes, and posts with a watched hashtag or term).

Safe with several schedulers: the network is read outside any transaction; what was read is
stored in one transaction per source with insert-if-absent (channel, network id) and the cursor
moved forward only (`inbox.advance`), so two listeners reading the same page store it once and
a restarted one goes on where the database says.

Where a Mastodon source is streamed (streaming.py), the stream's reader stores what arrives and
moves the same cursor; this job then leaves that source alone (`live` says which are streamed
in this process) and polls the rest: servers without streaming, broken streams, search terms.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from calendar_app.db import Database
from calendar_app.listening import inbox
from calendar_app.listening.bluesky import FIREHOSE, read_firehose
from calendar_app.listening.mastodon import (
    NOTIFICATIONS,
    TAG_PREFIX,
    TERM_PREFIX,
    Page,
    own_account_id,
    read_source,
)
from calendar_app.listening.watch import Watch
from calendar_app.models import Channel, WatchedHashtag, WatchedTerm
from calendar_app.networks.bluesky import BlueskyPublisher
from calendar_app.networks.mastodon import MastodonPublisher, NetworkError

log = logging.getLogger(__name__)

# Channel kinds whose accounts are listened to. Another network plugs in with its own reader.
LISTENING_KINDS = ("mastodon", "bluesky")
# Whether a channel's source is streamed in this process (streaming.Streams.live).
Live = Callable[[int, str], bool]


@dataclass
class ListenReport:
    stored: list[int] = field(default_factory=list)
    errors: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    """A listening channel as one pass reads it."""

    channel_id: int
    kind: str
    config: dict[str, Any]
    watch: Watch

    def mastodon_sources(self) -> list[str]:
        """The names (and cursors) of what is read from a Mastodon server."""
        return (
            [NOTIFICATIONS]
            + [f"{TAG_PREFIX}{tag}" for tag in sorted(self.watch.tags)]
            + [f"{TERM_PREFIX}{term}" for term in self.watch.terms]
        )


def sources(db: Database, kinds: tuple[str, ...] = LISTENING_KINDS) -> list[Source]:
    """The active listening channels with what each watches."""
    with db.transaction() as session:
        channels = session.scalars(
            select(Channel)
            .where(Channel.kind.in_(kinds), Channel.active.is_(True))
            .order_by(Channel.id)
        ).all()
        tags: dict[int, set[str]] = {}
        for channel_id, tag in session.execute(
            select(WatchedHashtag.channel_id, WatchedHashtag.tag)
        ):
            tags.setdefault(channel_id, set()).add(tag)
        terms: dict[int, list[str]] = {}
        for channel_id, term in session.execute(
            select(WatchedTerm.channel_id, WatchedTerm.term).order_by(WatchedTerm.term)
        ):
            terms.setdefault(channel_id, []).append(term)
        return [
            Source(
                c.id,
                c.kind,
                dict(c.config),
                Watch(frozenset(tags.get(c.id, ())), tuple(terms.get(c.id, ()))),
            )
            for c in channels
        ]


def position(db: Database, channel_id: int, source: str) -> str | None:
    with db.transaction() as session:
        return inbox.read_position(session, channel_id, source)


def keep(db: Database, channel_id: int, source: str, page: Page) -> list[int]:
    """Store a page's items and move the source's cursor, in one transaction."""
    with db.transaction() as session:
        stored = inbox.store(session, channel_id, page.items)
        if page.position is not None:
            inbox.advance(session, channel_id, source, page.position)
        return stored


def listen_once(
    db: Database, publishers: Mapping[str, Any], *, live: Live | None = None
) -> ListenReport:
    """One pass over every listening channel; one channel's failure never stops the others.
    Sources that `live` says are streamed are left to their stream."""
    report = ListenReport()
    for source in sources(db):
        publisher = publishers.get(source.kind)
        try:
            if isinstance(publisher, MastodonPublisher):
                _listen_mastodon(db, publisher, source, report, live)
            elif isinstance(publisher, BlueskyPublisher):
                cursor = position(db, source.channel_id, FIREHOSE)
                page = read_firehose(
                    publisher, source.config, cursor, channel_id=source.channel_id,
                    watch=source.watch,
                )  # fmt: skip
                report.stored += keep(db, source.channel_id, FIREHOSE, page)
        except NetworkError as exc:
            report.errors[source.channel_id] = exc.reason
            log.warning("listening to channel %s failed: %s", source.channel_id, exc.reason)
    if report.stored:
        log.info("inbox: %d new items", len(report.stored))
    return report


def _listen_mastodon(
    db: Database,
    publisher: MastodonPublisher,
    source: Source,
    report: ListenReport,
    live: Live | None,
) -> None:
    names = [
        name
        for name in source.mastodon_sources()
        if live is None or not live(source.channel_id, name)
    ]
    if not names:
        return
    own_id = own_account_id(publisher, source.config, time.monotonic() + publisher.timeout)
    for name in names:
        page = read_source(
            publisher, source.config, name, position(db, source.channel_id, name), own_id=own_id
        )
        report.stored += keep(db, source.channel_id, name, page)
