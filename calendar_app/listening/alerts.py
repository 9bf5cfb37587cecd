"""Early-warning alerts: opened by the detector, decided by a head (dismissed, or declared a
crisis), and while undecided they hold what falls due on their channels.

The hold is applied by the claim and by the start of a send (claims.py), in their transactions,
through the same statement as the crisis' and the blackouts' holds (holds.hold), so a held
delivery waits in the same review and leaves it only by a head's release or discard.

Opening an alert takes the queue lock exclusively, as a declaration does: once the alert has
committed, every claim and start that follows sees it; one that committed before has its
requests on the wire already (they were due before the storm was seen).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, delete, or_, select, true, update
from sqlalchemy.orm import Session

from calendar_app import audit, holds, notifications
from calendar_app.errors import Conflict, InvalidInput, NotFound
from calendar_app.models import (
    MAX_ID,
    AlertStatus,
    Channel,
    Delivery,
    DeliveryStatus,
    InboxItem,
    Post,
    QueueState,
    Role,
    SpikeAlert,
    User,
    WatchWord,
)
from calendar_app.permissions import require_reviewer
from calendar_app.planning import settle_post_status
from calendar_app.timeutil import now_utc
from calendar_app.words import Text, _l, joined

ALERT_LINK = "/inbox#alerts"
# The posts due this far ahead on an alert's channels are named in its message.
AT_RISK_HOURS = 6
SAMPLE_SIZE = 5


def scope_of(channel_id: int | None) -> str:
    return f"channel:{channel_id}" if channel_id is not None else "all"


def get_alert(session: Session, alert_id: int, *, lock: bool = False) -> SpikeAlert:
    stmt = select(SpikeAlert).where(SpikeAlert.id == alert_id)
    if lock:
        stmt = stmt.with_for_update()
    alert = session.scalar(stmt) if 0 < alert_id <= MAX_ID else None
    if alert is None:
        raise NotFound(_l("alert %(alert_id)s does not exist", alert_id=alert_id))
    return alert


def list_alerts(session: Session, *, status: str | None = None) -> Sequence[SpikeAlert]:
    stmt = select(SpikeAlert)
    if status is not None:
        if status not in tuple(AlertStatus):
            raise InvalidInput(
                _l("unknown alert status %(status)r", status=status),
                {"status": _l("open, dismissed or declared")},
            )
        stmt = stmt.where(SpikeAlert.status == status)
    return session.scalars(stmt.order_by(SpikeAlert.opened_at.desc(), SpikeAlert.id.desc())).all()


def open_alerts(session: Session) -> Sequence[SpikeAlert]:
    return list_alerts(session, status=AlertStatus.OPEN)


# --- the hold ------------------------------------------------------------------------------------


def alerts_holding(session: Session, now: datetime) -> Sequence[SpikeAlert]:
    """Open alerts still inside their hold time."""
    return session.scalars(
        select(SpikeAlert)
        .where(
            SpikeAlert.status == AlertStatus.OPEN,
            SpikeAlert.hold_until.is_not(None),
            SpikeAlert.hold_until > now,
        )
        .order_by(SpikeAlert.id)
    ).all()


# An alert's hold that ended while no scheduler ran (an outage, a long pass) still holds what
# fell due in it, this long after (as blackouts.LOOKBACK).
LOOKBACK = timedelta(days=7)


def hold_end(alert: SpikeAlert) -> datetime:
    """When the alert's hold ended or ends: its hold time, or the decision if that came first."""
    assert alert.hold_until is not None
    if alert.decided_at is not None and alert.decided_at < alert.hold_until:
        return alert.decided_at
    return alert.hold_until


def _holding_now(alert: SpikeAlert, now: datetime) -> bool:
    return (
        alert.status == AlertStatus.OPEN and alert.hold_until is not None and alert.hold_until > now
    )


def alerts_to_hold(session: Session, now: datetime) -> Sequence[SpikeAlert]:
    """Alerts holding now, and those whose hold ended lately: what fell due during a hold is held
    even when no scheduler looked while it lasted."""
    recent = session.scalars(
        select(SpikeAlert)
        .where(
            SpikeAlert.hold_until.is_not(None),
            SpikeAlert.opened_at <= now,
            SpikeAlert.hold_until > now - LOOKBACK,
        )
        .order_by(SpikeAlert.id)
    ).all()
    return [a for a in recent if _holding_now(a, now) or hold_end(a) > now - LOOKBACK]


def _covered(alert: SpikeAlert) -> ColumnElement[bool]:
    return Delivery.channel_id == alert.channel_id if alert.channel_id is not None else true()


def _held_by(alert: SpikeAlert, now: datetime) -> ColumnElement[bool]:
    """Due deliveries an alert holds: while it holds, everything due on its channels; after its
    hold ended, what fell due during the hold."""
    covered = _covered(alert)
    if _holding_now(alert, now):
        return covered
    return covered & (Delivery.due_at >= alert.opened_at) & (Delivery.due_at < hold_end(alert))


def must_hold_for_alerts(
    alerts: Sequence[SpikeAlert], now: datetime, crisis_id: int | None
) -> ColumnElement[bool] | None:
    """Deliveries that may not go out because of these alerts (None: none). Approved responses
    to the crisis in force still go out."""
    if not alerts:
        return None
    return or_(*(_held_by(a, now) for a in alerts)) & holds.not_answering(crisis_id)


def hold_for_alerts(
    session: Session,
    alerts: Sequence[SpikeAlert],
    now: datetime,
    crisis_id: int | None,
    *,
    delivery_ids: Sequence[int] | None = None,
) -> list[int]:
    """Hold every due delivery not on the wire that these alerts hold (`_held_by`); return the
    posts concerned. Each held post gets an audit entry by the system naming the alert."""
    post_ids: set[int] = set()
    for alert in alerts:
        conditions = [Delivery.due_at <= now, _held_by(alert, now), holds.not_answering(crisis_id)]
        if delivery_ids is not None:
            conditions.append(Delivery.id.in_(delivery_ids))
        rows = holds.hold(session, conditions, now, alert_id=alert.id)
        by_post: dict[int, list[int]] = {}
        for delivery_id, post_id in rows:
            by_post.setdefault(post_id, []).append(delivery_id)
        if not by_post:
            continue
        settle_post_status(session, by_post)
        for post in session.scalars(select(Post).where(Post.id.in_(by_post))):
            audit.record(
                session, None, "hold", post, alert=alert.id, deliveries=sorted(by_post[post.id])
            )
        post_ids |= set(by_post)
    return sorted(post_ids)


# --- opening one ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spike:
    """What the detector saw in one scope."""

    channel_id: int | None
    observed: int
    baseline: float
    score: float
    window_minutes: int
    started_at: datetime
    watched_words: tuple[str, ...] = ()


def _serialise_with_claims(session: Session) -> None:
    """The queue lock a claim and a start conflict with (as a declaration takes it)."""
    holds.lock_queue(session, exclusive=True)
    session.execute(select(QueueState.id).where(QueueState.id == 1).with_for_update())


def open_alert(
    session: Session,
    spike: Spike,
    *,
    now: datetime,
    hold_minutes: int,
    zone: str = "Europe/Berlin",
    quiet_after: timedelta = timedelta(minutes=15),
) -> SpikeAlert | None:
    """Open an alert for the spike unless one is open in its scope already, or one there was
    opened or decided less than `quiet_after` ago (the same storm, already seen): None then.
    Holds what is due on its channels at once, and tells the heads."""
    _serialise_with_claims(session)
    scope = scope_of(spike.channel_id)
    recent = now - quiet_after
    already = session.scalar(
        select(SpikeAlert.id).where(
            SpikeAlert.scope == scope,
            or_(
                SpikeAlert.status == AlertStatus.OPEN,
                SpikeAlert.opened_at > recent,
                SpikeAlert.decided_at > recent,
            ),
        )
    )
    if already is not None:
        return None
    sample = _sample(session, spike, now)
    alert = SpikeAlert(
        channel_id=spike.channel_id,
        scope=scope,
        observed=spike.observed,
        baseline=spike.baseline,
        score=round(spike.score, 2),
        window_minutes=spike.window_minutes,
        watched_words=list(spike.watched_words),
        sample=[item.id for item in sample],
        started_at=spike.started_at,
        opened_at=now,
        hold_until=now + timedelta(minutes=hold_minutes) if hold_minutes > 0 else None,
        status=AlertStatus.OPEN,
    )
    session.add(alert)
    session.flush()
    crisis_id = holds.active_crisis_id(session)
    held = hold_for_alerts(session, [alert], now, crisis_id) if alert.hold_until else []
    audit.record(
        session,
        None,
        "open_alert",
        alert,
        channel_id=alert.channel_id,
        observed=alert.observed,
        baseline=alert.baseline,
        window_minutes=alert.window_minutes,
        hold_until=alert.hold_until.isoformat() if alert.hold_until else None,
        held_posts=held,
    )
    _tell_heads(session, alert, sample, now, zone)
    return alert


def _sample(session: Session, spike: Spike, now: datetime) -> Sequence[InboxItem]:
    stmt = select(InboxItem).where(
        InboxItem.received_at > now - timedelta(minutes=spike.window_minutes),
        InboxItem.received_at <= now,
    )
    if spike.channel_id is not None:
        stmt = stmt.where(InboxItem.channel_id == spike.channel_id)
    return session.scalars(
        stmt.order_by(InboxItem.received_at.desc(), InboxItem.id.desc()).limit(SAMPLE_SIZE)
    ).all()


def posts_at_risk(
    session: Session, alert: SpikeAlert, now: datetime, hours: int = AT_RISK_HOURS
) -> Sequence[Delivery]:
    """The approved deliveries due in the next hours on the alert's channels."""
    return session.scalars(
        select(Delivery)
        .where(
            Delivery.status == DeliveryStatus.SCHEDULED,
            Delivery.due_at.is_not(None),
            Delivery.due_at <= now + timedelta(hours=hours),
            _covered(alert),
        )
        .order_by(Delivery.due_at, Delivery.id)
    ).all()


def describe(alert: SpikeAlert, channel_name: str | None) -> Text:
    usually = f"{alert.baseline:.0f}" if alert.baseline >= 1 else f"{alert.baseline:.1g}"
    facts = {"count": alert.observed, "minutes": alert.window_minutes, "usually": usually}
    if channel_name:
        return _l(
            "%(count)s mentions in %(minutes)s min on %(channel)s, usually %(usually)s",
            channel=channel_name,
            **facts,
        )
    return _l(
        "%(count)s mentions in %(minutes)s min on all channels together, usually %(usually)s",
        **facts,
    )


def _tell_heads(
    session: Session, alert: SpikeAlert, sample: Sequence[InboxItem], now: datetime, zone: str
) -> None:
    channel = session.get(Channel, alert.channel_id) if alert.channel_id is not None else None
    headline = describe(alert, channel.name if channel else None)
    lines: list[str] = [joined([headline, "."], "")]
    if alert.watched_words:
        lines.append(_l("Watch words among them: %(words)s.", words=", ".join(alert.watched_words)))
    if alert.hold_until is not None:
        until = alert.hold_until.astimezone(ZoneInfo(zone)).strftime("%H:%M")
        lines.append(
            _l(
                "Until %(until)s (%(zone)s) or until someone decides, nothing planned goes out "
                "there.",
                until=until,
                zone=zone,
            )
        )
    if sample:
        lines += ["", _l("What people write:")]
        lines += [f"- {item.author_handle}: {item.text[:200]}" for item in sample]
    at_risk = posts_at_risk(session, alert, now)
    if at_risk:
        lines += ["", _l("Due in the next %(hours)s hours there:", hours=AT_RISK_HOURS)]
        for delivery in at_risk:
            assert delivery.due_at is not None
            when = delivery.due_at.astimezone(ZoneInfo(zone)).strftime("%H:%M")
            text = delivery.post.title or delivery.text
            lines.append(f"- {when} {delivery.channel.name}: {text[:120]}")
    lines += ["", _l("Dismiss the alert, or declare a crisis from it.")]
    heads = session.scalars(
        select(User).where(User.role == Role.HEAD, User.active.is_(True)).order_by(User.id)
    ).all()
    if not heads:
        heads = session.scalars(
            select(User).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.id)
        ).all()
    subject = _l("Early warning: %(headline)s", headline=headline)
    text = joined(lines, "\n")
    notifications.notify(
        session, heads, kind="alert", subject=subject, text=text, link=ALERT_LINK, urgent=True
    )
    notifications.announce(session, subject=subject, text=text, link=ALERT_LINK, urgent=True)


# --- deciding ------------------------------------------------------------------------------------


def _decided(alert: SpikeAlert) -> str:
    who = alert.decided_by.email if alert.decided_by is not None else "someone"
    when = f" at {alert.decided_at:%H:%M} UTC" if alert.decided_at else ""
    return f"alert {alert.id} was already {alert.status} by {who}{when}"


def dismiss_alert(session: Session, actor: User, alert: SpikeAlert, *, note: str) -> SpikeAlert:
    """No storm: the hold ends; what it held stays held for a head's review."""
    require_reviewer(actor, _l("dismiss an alert"))
    if not note.strip():
        raise InvalidInput(
            _l("dismissing an alert needs a note"), {"note": _l("must not be empty")}
        )
    alert = get_alert(session, alert.id, lock=True)
    session.refresh(alert)
    if alert.status != AlertStatus.OPEN:
        raise Conflict(_decided(alert))
    alert.status = AlertStatus.DISMISSED
    alert.decided_at = now_utc()
    alert.decided_by = actor
    alert.note = note.strip()
    session.flush()
    audit.record(session, actor, "dismiss_alert", alert, reason=alert.note)
    return alert


def alert_for_declaration(session: Session, alert_id: int) -> SpikeAlert:
    """The alert a declaration names, locked; 409 if a crisis was declared from it already."""
    try:
        alert = get_alert(session, alert_id, lock=True)
    except NotFound:
        raise InvalidInput(
            _l("alert %(alert_id)s does not exist", alert_id=alert_id),
            {"alert_id": _l("unknown alert")},
        ) from None
    session.refresh(alert)
    if alert.status == AlertStatus.DECLARED:
        raise Conflict(_decided(alert))
    return alert


def channels_of(session: Session, alert_id: int) -> list[int] | None:
    """The scope a declaration from the alert starts from: its channel, or all (None)."""
    alert = session.get(SpikeAlert, alert_id) if 0 < alert_id <= MAX_ID else None
    if alert is None:
        raise InvalidInput(
            _l("alert %(alert_id)s does not exist", alert_id=alert_id),
            {"alert_id": _l("unknown alert")},
        )
    return [alert.channel_id] if alert.channel_id is not None else None


def turn_into_crisis(session: Session, actor: User, alert: SpikeAlert, crisis_id: int) -> None:
    """The crisis declared from the alert takes over: the alert is decided, and what it held is
    held by the crisis now (the same review, on the crisis' timeline)."""
    alert.status = AlertStatus.DECLARED
    alert.decided_at = now_utc()
    alert.decided_by = actor
    alert.crisis_id = crisis_id
    session.execute(
        update(Delivery)
        .where(Delivery.held_by_alert_id == alert.id, Delivery.status == DeliveryStatus.HELD)
        .values(held_by_crisis_id=crisis_id)
        .execution_options(synchronize_session=False)
    )
    session.flush()
    audit.record(session, actor, "declare_from_alert", alert, crisis=crisis_id)


# --- the watch list ------------------------------------------------------------------------------


def watch_words(session: Session) -> list[str]:
    return list(session.scalars(select(WatchWord.word).order_by(WatchWord.word)))


def set_watch_words(session: Session, actor: User, words: Sequence[str]) -> list[str]:
    """The team's watch list: words that make the early warning more sensitive (heads)."""
    require_reviewer(actor, _l("change the early warning's watch list"))
    wanted = holds.normalise_keywords(words, "words")
    session.execute(delete(WatchWord))
    session.add_all(WatchWord(word=word) for word in wanted)
    session.flush()
    audit.record(session, actor, "set_watch_words", actor, words=wanted)
    return watch_words(session)
