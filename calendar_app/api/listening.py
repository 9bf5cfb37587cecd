"""The inbox and the early warning over the API (calendar_app/listening/)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from calendar_app.api.auth import api_user
from calendar_app.api.errors import answer_locale
from calendar_app.api.schemas import (
    AlertDismiss,
    InboundItems,
    InboxAssign,
    InboxClose,
    InboxReply,
    RoutingRuleCreate,
    WatchedHashtagsSet,
    WatchedTermsSet,
    WatchWordsSet,
    parse,
)
from calendar_app.api.serialize import (
    alert_json,
    inbox_item_json,
    post_json,
    routing_rule_json,
)
from calendar_app.channels import get_channel
from calendar_app.extensions import db_session
from calendar_app.listening import alerts, inbox, replies
from calendar_app.listening import inbound as incoming
from calendar_app.listening.answer_times import ANSWERED, answer_reports
from calendar_app.listening.mastodon import Heard
from calendar_app.permissions import require_reviewer
from calendar_app.publishers import channel_secrets
from calendar_app.query_args import QueryArgs
from calendar_app.timeutil import now_utc
from calendar_app.words import _l

bp = Blueprint("listening", __name__)


@bp.get("/inbox")
def index() -> dict[str, Any]:
    query = QueryArgs(request.args, language=answer_locale())
    wanted = inbox.InboxFilter(
        status=query.choice("status", inbox.STATUSES),
        channel_id=query.id("channel"),
        department_id=query.id("department"),
        assignee_id=query.id("assignee"),
    )
    query.check()
    items = inbox.list_items(db_session(), api_user(), wanted)
    return {"items": [inbox_item_json(i) for i in items]}


@bp.get("/inbox/answer-times")
def answer_times() -> dict[str, Any]:
    reports = answer_reports(db_session(), api_user(), now=now_utc())
    return {"definition": ANSWERED, "windows": [r.as_json() for r in reports]}


@bp.post("/channels/<int:channel_id>/inbound")
def inbound(channel_id: int) -> tuple[dict[str, Any], int]:
    """Items fed in by a sender that signs with the webhook channel's secret (no token: the
    signature is the credential)."""
    session = db_session()
    channel = incoming.inbound_channel(session, channel_id)
    raw = request.get_data(cache=True)
    secrets = channel_secrets(current_app.config["CALENDAR"])
    now = now_utc()
    incoming.check_signature(
        channel,
        raw,
        request.headers.get(incoming.TIMESTAMP_HEADER),
        request.headers.get(incoming.SIGNATURE_HEADER),
        secrets,
        now,
    )
    data = parse(InboundItems)
    heard = [
        Heard(
            remote_id=item.id,
            kind=item.kind,
            author_handle=item.author.handle,
            author_name=item.author.name,
            text=item.text,
            url=item.url,
            in_reply_to=None,
            received_at=item.said_at or now,
        )
        for item in data.items
    ]
    stored = incoming.receive(session, channel, heard)
    return {"stored": stored, "received": len({h.remote_id for h in heard})}, 201 if stored else 200


@bp.get("/inbox/<int:item_id>")
def show(item_id: int) -> dict[str, Any]:
    return inbox_item_json(inbox.get_item(db_session(), api_user(), item_id))


@bp.post("/inbox/<int:item_id>/assign")
def assign(item_id: int) -> dict[str, Any]:
    session = db_session()
    data = parse(InboxAssign)
    item = inbox.get_item(session, api_user(), item_id, lock=True)
    inbox.assign(
        session,
        api_user(),
        item,
        department_id=data.department_id,
        assignee_id=data.assignee_id,
        note=data.note,
    )
    return inbox_item_json(item)


@bp.post("/inbox/<int:item_id>/reply")
def reply(item_id: int) -> tuple[dict[str, Any], int]:
    """The reply is a post to the item's channel, answering its status; approved at once when
    the author may approve it, else waiting for a head."""
    session = db_session()
    data = parse(InboxReply)
    item = inbox.get_item(session, api_user(), item_id, lock=True)
    post = replies.reply_to_item(
        session,
        api_user(),
        item,
        body=data.body,
        allow_self_approval=current_app.config["CALENDAR"].ALLOW_SELF_APPROVAL,
    )
    return post_json(post), 201


@bp.post("/inbox/<int:item_id>/close")
def close(item_id: int) -> dict[str, Any]:
    session = db_session()
    data = parse(InboxClose, request.get_json(silent=True) or {})
    item = inbox.get_item(session, api_user(), item_id, lock=True)
    closed = inbox.close(session, api_user(), item, note=data.note, answered=data.answered)
    return inbox_item_json(closed)


@bp.get("/inbox/rules")
def rules() -> dict[str, Any]:
    return {"items": [routing_rule_json(r) for r in inbox.list_rules(db_session())]}


@bp.post("/inbox/rules")
def create_rule() -> tuple[dict[str, Any], int]:
    data = parse(RoutingRuleCreate)
    rule = inbox.create_rule(
        db_session(), api_user(), keyword=data.keyword, department_id=data.department_id
    )
    return routing_rule_json(rule), 201


@bp.delete("/inbox/rules/<int:rule_id>")
def delete_rule(rule_id: int) -> tuple[str, int]:
    inbox.delete_rule(db_session(), api_user(), rule_id)
    return "", 204


@bp.get("/channels/<int:channel_id>/hashtags")
def hashtags(channel_id: int) -> dict[str, Any]:
    session = db_session()
    channel = get_channel(session, channel_id)
    return {"channel_id": channel.id, "tags": inbox.hashtags_of(session, channel.id)}


@bp.put("/channels/<int:channel_id>/hashtags")
def set_hashtags(channel_id: int) -> dict[str, Any]:
    session = db_session()
    channel = get_channel(session, channel_id)
    tags = inbox.set_hashtags(session, api_user(), channel, parse(WatchedHashtagsSet).tags)
    return {"channel_id": channel.id, "tags": tags}


@bp.get("/channels/<int:channel_id>/terms")
def terms(channel_id: int) -> dict[str, Any]:
    session = db_session()
    channel = get_channel(session, channel_id)
    return {"channel_id": channel.id, "terms": inbox.terms_of(session, channel.id)}


@bp.put("/channels/<int:channel_id>/terms")
def set_terms(channel_id: int) -> dict[str, Any]:
    session = db_session()
    channel = get_channel(session, channel_id)
    terms = inbox.set_terms(session, api_user(), channel, parse(WatchedTermsSet).terms)
    return {"channel_id": channel.id, "terms": terms}


@bp.get("/alerts")
def alert_index() -> dict[str, Any]:
    query = QueryArgs(request.args, language=answer_locale())
    status = query.choice("status", ("open", "dismissed", "declared"))
    query.check()
    return {"items": [alert_json(a) for a in alerts.list_alerts(db_session(), status=status)]}


@bp.get("/alerts/<int:alert_id>")
def alert_show(alert_id: int) -> dict[str, Any]:
    return alert_json(alerts.get_alert(db_session(), alert_id))


@bp.post("/alerts/<int:alert_id>/dismiss")
def dismiss(alert_id: int) -> dict[str, Any]:
    session = db_session()
    require_reviewer(api_user(), _l("dismiss an alert"))
    data = parse(AlertDismiss)
    alert = alerts.get_alert(session, alert_id)
    return alert_json(alerts.dismiss_alert(session, api_user(), alert, note=data.note))


@bp.get("/alerts/watch-words")
def watch_words() -> dict[str, Any]:
    return {"words": alerts.watch_words(db_session())}


@bp.put("/alerts/watch-words")
def set_watch_words() -> dict[str, Any]:
    data = parse(WatchWordsSet)
    return {"words": alerts.set_watch_words(db_session(), api_user(), data.words)}
