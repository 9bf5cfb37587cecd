"""The early warning: is the volume of mentions in the last window a storm, or a busy Monday?

Pure functions first. The baseline of a window is what the same window held in the last weeks
at the same time of week (and a little either side, to have enough of them): a Monday morning
is compared with Monday mornings, a Sunday night with Sunday nights. Robustly, as error-tracking
tools do: the median and the median absolute deviation (MAD), and the modified z-score
0.6745 * (x - median) / MAD (Iglewicz and Hoaglin; 3.5 is their threshold for an outlier).

A window is a spike only when all of these hold:
- at least `min_count` mentions (three mentions at night are no storm, whatever the score);
- a modified z-score of at least `threshold`, with the MAD never below the square root of the
  median (counts of independent mentions scatter about that much: Poisson) nor below
  `mad_floor` (a baseline that is always 6 would otherwise call 7 a storm);
- at least `min_ratio` times the median: a storm multiplies the usual volume ("84 in 15
  minutes, usually 6"), while a campaign day that doubles or triples it is planned attention.
Words on the team's watch list ("Shitstorm", "Boykott") among the window's mentions lower the
threshold and the ratio, never the minimum count. Without any history at that time of week (a
new channel, the first week) a window must reach `no_history_factor` times the minimum count.

Then the job: every minute or so it counts per listening channel and over all of them, and
opens an alert (alerts.open_alert) where it finds a spike and none is open.
"""

from __future__ import annotations

import bisect
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from calendar_app.db import Database
from calendar_app.holds import fold
from calendar_app.listening.alerts import Spike, open_alert
from calendar_app.models import InboxItem, SpikeAlert, WatchWord
from config import Config

Z_FACTOR = 0.6745


@dataclass(frozen=True)
class Settings:
    window: timedelta = timedelta(minutes=15)
    min_count: int = 20
    threshold: float = 3.5
    min_ratio: float = 4.0
    # With watch words in the window:
    watched_threshold: float = 2.0
    watched_ratio: float = 2.0
    # Watch words count when at least this many of the window's mentions carry one.
    watched_mentions: int = 3
    mad_floor: float = 1.0
    no_history_factor: int = 3
    weeks: int = 4
    # Neighbouring windows of the same time of week that join the baseline (each side).
    neighbours: int = 2
    neighbour_step: timedelta = timedelta(minutes=15)

    @classmethod
    def from_config(cls, config: Config) -> Settings:
        return cls(
            window=timedelta(minutes=config.SPIKE_WINDOW_MINUTES),
            min_count=config.SPIKE_MIN_MENTIONS,
        )


@dataclass(frozen=True)
class Verdict:
    spike: bool
    observed: int
    baseline: float  # the median of the baseline windows
    mad: float
    score: float


def modified_z(observed: float, median: float, mad: float, floor: float) -> float:
    return Z_FACTOR * (observed - median) / max(mad, floor)


def assess(
    observed: int,
    baseline: Sequence[int],
    *,
    watched: bool = False,
    settings: Settings = Settings(),
) -> Verdict:
    """Is `observed` (mentions in a window) a spike against the `baseline` windows' counts?"""
    median = float(statistics.median(baseline)) if baseline else 0.0
    mad = float(statistics.median([abs(x - median) for x in baseline])) if baseline else 0.0
    score = modified_z(observed, median, mad, max(settings.mad_floor, math.sqrt(median)))
    threshold = settings.watched_threshold if watched else settings.threshold
    ratio = settings.watched_ratio if watched else settings.min_ratio
    if not baseline:
        spike = observed >= settings.no_history_factor * settings.min_count
    else:
        spike = observed >= settings.min_count and score >= threshold and observed >= ratio * median
    return Verdict(spike, observed, median, mad, score)


def baseline_windows(
    end: datetime, settings: Settings, history_start: datetime | None
) -> list[tuple[datetime, datetime]]:
    """The windows (start, end) of the last weeks at the same time of week, with neighbours;
    those before `history_start` are left out (no data is not zero mentions)."""
    windows = []
    for week in range(1, settings.weeks + 1):
        for shift in range(-settings.neighbours, settings.neighbours + 1):
            stop = end - timedelta(weeks=week) + shift * settings.neighbour_step
            start = stop - settings.window
            if history_start is None or start >= history_start:
                windows.append((start, stop))
    return windows


def count_between(times: Sequence[datetime], start: datetime, end: datetime) -> int:
    """Mentions in (start, end] among sorted `times`."""
    return bisect.bisect_right(times, end) - bisect.bisect_right(times, start)


def evaluate(
    times: Sequence[datetime],
    end: datetime,
    *,
    settings: Settings = Settings(),
    history_start: datetime | None = None,
    watched: bool = False,
) -> Verdict:
    """The window ending at `end` against its baseline, from sorted mention times."""
    observed = count_between(times, end - settings.window, end)
    baseline = [
        count_between(times, s, e) for s, e in baseline_windows(end, settings, history_start)
    ]
    return assess(observed, baseline, watched=watched, settings=settings)


def watch_words_in(texts: Sequence[str], words: Sequence[str], settings: Settings) -> list[str]:
    """The watch words that enough of the window's mentions carry."""
    folded = [fold(t) for t in texts]
    found = []
    for word in words:
        if sum(1 for text in folded if word in text) >= settings.watched_mentions:
            found.append(word)
    return found


# --- the job -------------------------------------------------------------------------------------


def _times(
    session: Session, channel_id: int | None, windows: Sequence[tuple[datetime, datetime]]
) -> list[datetime]:
    stmt = select(InboxItem.received_at)
    if channel_id is not None:
        stmt = stmt.where(InboxItem.channel_id == channel_id)
    times: list[datetime] = []
    for start, end in _merged(windows):
        times += session.scalars(
            stmt.where(InboxItem.received_at > start, InboxItem.received_at <= end)
        ).all()
    return sorted(times)


def _merged(windows: Sequence[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def check_scope(
    session: Session, channel_id: int | None, now: datetime, settings: Settings
) -> tuple[Verdict, list[str]]:
    """The verdict on the window ending now for one channel (None: all channels together)."""
    first = select(InboxItem.received_at).order_by(InboxItem.received_at).limit(1)
    if channel_id is not None:
        first = first.where(InboxItem.channel_id == channel_id)
    history_start = session.scalar(first)
    windows = [(now - settings.window, now), *baseline_windows(now, settings, history_start)]
    times = _times(session, channel_id, windows)
    texts_stmt = select(InboxItem.text).where(
        InboxItem.received_at > now - settings.window, InboxItem.received_at <= now
    )
    if channel_id is not None:
        texts_stmt = texts_stmt.where(InboxItem.channel_id == channel_id)
    words = list(session.scalars(select(WatchWord.word).order_by(WatchWord.word)))
    watched = watch_words_in(list(session.scalars(texts_stmt)), words, settings) if words else []
    verdict = evaluate(
        times, now, settings=settings, history_start=history_start, watched=bool(watched)
    )
    return verdict, watched


def detect_once(db: Database, config: Config, now: datetime) -> list[int]:
    """Look at every channel with mentions in the window, then at all together; open alerts
    where a spike is found. Returns the ids of the alerts opened."""
    settings = Settings.from_config(config)
    with db.transaction() as session:
        channel_ids = sorted(
            session.scalars(
                select(InboxItem.channel_id)
                .where(InboxItem.received_at > now - settings.window)
                .distinct()
            )
        )
        any_open = session.scalar(select(SpikeAlert.id).where(SpikeAlert.status == "open"))
    opened: list[int] = []
    for channel_id in [*channel_ids, None]:
        if channel_id is None and (opened or any_open is not None or len(channel_ids) < 2):
            break  # a storm on one channel is that channel's alert, not a second one
        with db.transaction() as session:
            verdict, watched = check_scope(session, channel_id, now, settings)
            if not verdict.spike:
                continue
            alert = open_alert(
                session,
                Spike(
                    channel_id=channel_id,
                    observed=verdict.observed,
                    baseline=verdict.baseline,
                    score=verdict.score,
                    window_minutes=int(settings.window.total_seconds() // 60),
                    started_at=now - settings.window,
                    watched_words=tuple(watched),
                ),
                now=now,
                hold_minutes=config.SPIKE_HOLD_MINUTES,
                zone=config.TIMEZONE,
                quiet_after=settings.window,
            )
            if alert is not None:
                opened.append(alert.id)
    return opened
