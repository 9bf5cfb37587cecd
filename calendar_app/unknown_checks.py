"""Unknown deliveries on network channels are looked for on the network, never re-sent blindly.

A delivery whose sender died mid-send is `unknown` (claims.expire_leases): it may or may not
have gone out. On a network channel the network can tell: a scheduler job asks its publisher's
`find` (Mastodon: the account's own statuses, the same text, made after the send started;
Bluesky: the record under the delivery's own key). Found: `published`, with the post's id and
URL. Not found: it stays `unknown` for a head's review, saying so.

Safe with several schedulers: each check is claimed first with a conditional update (the row's
token and a short lease, on a delivery still `unknown` and not checked yet), and its result is
written only by the holder of that token, on a delivery still `unknown`. A head who releases or
discards the delivery meanwhile clears the token, and the result is dropped.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from calendar_app.claims import LEASE_EXPIRED
from calendar_app.db import Database
from calendar_app.dispatch import delivery_messages
from calendar_app.models import Channel, Delivery, DeliveryStatus
from calendar_app.networks.base import FoundPost, Message, NetworkError, NetworkPublisher
from calendar_app.planning import settle_post_status
from calendar_app.publishers import NETWORK_KINDS, Publisher
from calendar_app.timeutil import now_utc
from calendar_app.words import _l

log = logging.getLogger(__name__)

NOT_FOUND = _l("not found on the network: check the account, then release or discard")
# How long one check may hold a delivery; past it another scheduler may check it again.
CHECK_LEASE = timedelta(minutes=2)
BATCH = 20


@dataclass(frozen=True)
class _Check:
    delivery_id: int
    post_id: int
    token: str
    kind: str
    config: dict[str, Any]
    message: Message
    started_at: datetime


@dataclass
class CheckReport:
    published: list[int] = field(default_factory=list)
    not_found: list[int] = field(default_factory=list)
    # The network could not be asked (down, timed out): checked again on a later tick.
    postponed: list[int] = field(default_factory=list)


def _checkable(now: datetime) -> list[Any]:
    return [
        Delivery.status == DeliveryStatus.UNKNOWN,
        # Set by the lease expiry and by nothing else: not checked yet.
        Delivery.error == LEASE_EXPIRED,
        Delivery.started_at.is_not(None),
        or_(Delivery.claim_token.is_(None), Delivery.lease_until < now),
    ]


def _claim(session: Session, now: datetime, limit: int) -> list[_Check]:
    candidates = session.scalars(
        select(Delivery.id)
        .join(Channel, Delivery.channel_id == Channel.id)
        .where(Channel.kind.in_(NETWORK_KINDS), *_checkable(now))
        .order_by(Delivery.id)
        .limit(limit)
    ).all()
    checks = []
    for delivery_id in candidates:
        token = uuid.uuid4().hex
        taken = session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, *_checkable(now))
            .values(claim_token=token, lease_until=now + CHECK_LEASE)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:
            continue  # another scheduler took it, or a person decided meanwhile
        [out] = delivery_messages(session, [delivery_id])
        started_at = session.scalar(select(Delivery.started_at).where(Delivery.id == delivery_id))
        checks.append(
            _Check(
                delivery_id=delivery_id,
                post_id=out.message.post_id,
                token=token,
                kind=out.kind,
                config=out.config,
                message=out.message,
                started_at=started_at,  # type: ignore[arg-type]
            )
        )
    return checks


def _mine(check: _Check) -> list[Any]:
    return [
        Delivery.id == check.delivery_id,
        Delivery.claim_token == check.token,
        Delivery.status == DeliveryStatus.UNKNOWN,
    ]


def _record_found(session: Session, check: _Check, found: FoundPost) -> bool:
    result = session.execute(
        update(Delivery)
        .where(*_mine(check))
        .values(
            status=DeliveryStatus.PUBLISHED,
            published_at=found.published_at or check.started_at,
            remote_id=found.remote_id,
            url=found.url,
            error=None,
            claim_token=None,
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    settle_post_status(session, [check.post_id])
    return True


def _record_not_found(session: Session, check: _Check, reason: str) -> bool:
    result = session.execute(
        update(Delivery)
        .where(*_mine(check))
        .values(**Delivery.error_values(reason), claim_token=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _postpone(session: Session, check: _Check) -> None:
    session.execute(
        update(Delivery)
        .where(*_mine(check))
        .values(claim_token=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )


def check_unknown_deliveries(
    db: Database,
    publishers: dict[str, Publisher],
    *,
    now: datetime | None = None,
    limit: int = BATCH,
) -> CheckReport:
    """Look for unknown deliveries of network channels on their network (one batch)."""
    now = now or now_utc()
    report = CheckReport()
    with db.transaction() as session:
        checks = _claim(session, now, limit)
    for check in checks:
        publisher = publishers.get(check.kind)
        outcome: tuple[str, FoundPost | str | None]
        if publisher is None or not hasattr(publisher, "find"):
            outcome = ("postponed", None)
        else:
            try:
                found = cast(NetworkPublisher, publisher).find(
                    check.config, check.message, check.started_at
                )
            except NetworkError as exc:
                if exc.final:
                    outcome = (
                        "not_found",
                        _l("%(found)s (could not look: %(why)s)", found=NOT_FOUND, why=exc.reason),
                    )
                else:
                    outcome = ("postponed", exc.reason)
            else:
                outcome = ("published", found) if found is not None else ("not_found", NOT_FOUND)
        label, detail = outcome
        with db.transaction() as session:
            if label == "published":
                assert isinstance(detail, FoundPost)
                recorded = _record_found(session, check, detail)
            elif label == "not_found":
                recorded = _record_not_found(session, check, cast(str, detail))
            else:
                _postpone(session, check)
                recorded = True
        if recorded:
            getattr(report, label).append(check.delivery_id)
        log.info(
            "unknown delivery checked on the network: delivery=%s result=%s recorded=%s detail=%s",
            check.delivery_id,
            label,
            recorded,
            detail.remote_id if isinstance(detail, FoundPost) else detail,
        )
    return report
