"""Results sent by webhook channels: a receiver that knows the platform's numbers posts them.

`POST /api/v1/results/inbound/<channel id>` with JSON
`{"delivery_id": int, "measured_at"?: time, "likes"?, "shares"?, "replies"?, "quotes"?, "reach"?,
"clicks"?: int}` and the headers of our outbound webhooks, plus a time:
`X-Signature-Timestamp: <unix seconds>` and `X-Signature-SHA256: <hex HMAC-SHA256 with the
channel's secret over "<timestamp>." followed by the raw body>`. The time is signed, so a
recorded request cannot be replayed later than `MAX_SKEW`.
"""

from __future__ import annotations

import hmac
import json
import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from calendar_app.errors import InvalidInput, listed
from calendar_app.evaluation.series import METRICS
from calendar_app.listening.inbound import MAX_SKEW, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from calendar_app.models import MAX_ID, Channel, Delivery, DeliveryStatus, ResultPoint
from calendar_app.networks.secrets import ChannelSecrets, SecretUnreadable, is_sealed
from calendar_app.timeutil import parse_aware
from calendar_app.words import _l

MAX_COUNT = 2**31 - 1


class BadSignature(Exception):
    """The request is not signed with the channel's secret (or its time is too far off)."""


def _secret(channel: Channel, secrets: ChannelSecrets | None) -> str:
    secret = str((channel.config or {}).get("secret") or "")
    if not secret:
        raise BadSignature("the channel has no secret")
    if secrets is not None:
        try:
            return secrets.reveal(secret)
        except SecretUnreadable:
            raise BadSignature("the channel's secret cannot be read") from None
    if is_sealed(secret):
        raise BadSignature("the channel's secret cannot be read")
    return secret


def verify(
    channel: Channel,
    secrets: ChannelSecrets | None,
    raw_body: bytes,
    timestamp: str | None,
    signature: str | None,
    now: datetime,
) -> None:
    if not timestamp or not signature:
        raise BadSignature(f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER}")
    try:
        sent = datetime.fromtimestamp(int(timestamp.strip()), UTC)
    except (ValueError, OverflowError, OSError):
        raise BadSignature(f"{TIMESTAMP_HEADER} must be unix seconds") from None
    if abs(now - sent) > MAX_SKEW:
        raise BadSignature(f"{TIMESTAMP_HEADER} is more than 5 minutes off")
    expected = sign(_secret(channel, secrets), timestamp.strip(), raw_body)
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise BadSignature("the signature does not match the body and time")


def webhook_channel(session: Session, channel_id: int) -> Channel:
    channel = session.get(Channel, channel_id) if 0 < channel_id <= MAX_ID else None
    if channel is None or channel.kind != "webhook":
        raise BadSignature("no webhook channel with a secret has this id")
    return channel


def _body(raw_body: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw_body)
    except ValueError:
        raise InvalidInput(_l("the body must be JSON"), {"body": _l("is not JSON")}) from None
    if not isinstance(body, dict):
        raise InvalidInput(_l("the body must be a JSON object"), {"body": _l("must be an object")})
    return body


def record_inbound(
    session: Session, channel: Channel, raw_body: bytes, now: datetime
) -> ResultPoint:
    """Store what a verified request says (call `verify` first)."""
    body = _body(raw_body)
    problems: dict[str, str] = {}
    delivery_id = body.get("delivery_id")
    if isinstance(delivery_id, bool) or not isinstance(delivery_id, int):
        problems["delivery_id"] = _l("must be the id of a delivery of this channel")
    values: dict[str, int | None] = {}
    for metric in METRICS:
        value = body.get(metric)
        if value is None:
            values[metric] = None
        elif (
            (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
            )
            or value < 0
            or value != int(value)
            or value > MAX_COUNT
        ):
            problems[metric] = _l("must be a whole number, zero or more")
        else:
            values[metric] = int(value)
    if not problems and all(v is None for v in values.values()):
        problems["body"] = _l("names none of %(metrics)s", metrics=", ".join(METRICS))
    measured_at = now
    if body.get("measured_at") is not None:
        try:
            measured_at = parse_aware(str(body["measured_at"]))
        except ValueError as exc:
            problems["measured_at"] = str(exc)
        else:
            if measured_at > now + MAX_SKEW:
                problems["measured_at"] = _l("lies in the future")
    unknown = set(body) - {"delivery_id", "measured_at", *METRICS}
    if unknown:
        problems["body"] = _l("unknown field(s): %(items)s", items=", ".join(sorted(unknown)))
    if problems:
        raise InvalidInput(
            _l("the results are not valid: %(problems)s", problems=listed(problems)),
            problems,
        )
    delivery = session.get(Delivery, delivery_id) if 0 < delivery_id <= MAX_ID else None
    if delivery is None or delivery.channel_id != channel.id:
        raise InvalidInput(
            _l(
                "delivery %(delivery_id)s is not one of this channel's",
                delivery_id=delivery_id,
            ),
            {"delivery_id": _l("is not a delivery of this channel")},
        )
    if delivery.status != DeliveryStatus.PUBLISHED:
        raise InvalidInput(
            _l("delivery %(delivery_id)s is not published", delivery_id=delivery_id),
            {"delivery_id": _l("is not published")},
        )
    point = ResultPoint(
        delivery_id=delivery.id,
        channel_id=channel.id,
        measured_at=measured_at,
        source="webhook",
        state="ok",
        **values,
    )
    session.add(point)
    session.flush()
    return point
