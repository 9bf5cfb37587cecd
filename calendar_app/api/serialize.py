"""How the API shows things. Times are UTC with a `Z`; secrets never leave."""

from __future__ import annotations

from typing import Any

from calendar_app.campaigns import DeliveryRecord
from calendar_app.channels import ownership_complete, public_config
from calendar_app.crisis import ImpactPreview
from calendar_app.graveyard import ChannelHealth
from calendar_app.models import (
    Blackout,
    Campaign,
    Channel,
    Comment,
    Crisis,
    Delivery,
    Department,
    InboxItem,
    Media,
    Notification,
    Playbook,
    Post,
    RoutingRule,
    SpikeAlert,
    User,
)
from calendar_app.notifications import words_for
from calendar_app.timeline import Timeline
from calendar_app.timeutil import iso_utc


def department_json(department: Department) -> dict[str, Any]:
    return {"id": department.id, "name": department.name, "slug": department.slug}


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "active": user.active,
        "departments": [department_json(d) for d in user.departments],
    }


def person_json(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "email": user.email, "name": user.name}


def channel_json(channel: Channel) -> dict[str, Any]:
    return {
        "id": channel.id,
        "name": channel.name,
        "kind": channel.kind,
        "network": channel.network,
        "config": public_config(channel),
        "active": channel.active,
        "created_at": iso_utc(channel.created_at),
        "owner": person_json(channel.owner),
        "deputy": person_json(channel.deputy),
        # False: nobody or only one person answers for the channel (it is flagged).
        "ownership_complete": ownership_complete(channel),
        "silent_after_days": channel.silent_after_days,
        "plan_ahead_days": channel.plan_ahead_days,
    }


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "channel_id": delivery.channel_id,
        "status": delivery.status,
        "body_override": delivery.body_override,
        "published_at": iso_utc(delivery.published_at),
        # On a network: where the post can be seen, and its id there.
        "url": delivery.url,
        "remote_id": delivery.remote_id,
        "error": delivery.error,
        "due_at": iso_utc(delivery.due_at),
        "attempts": delivery.attempts,
        "held_by_crisis_id": delivery.held_by_crisis_id,
        "held_by_blackout_id": delivery.held_by_blackout_id,
        "held_by_alert_id": delivery.held_by_alert_id,
        "held_at": iso_utc(delivery.held_at),
        # What is known about the last attempt (for an `unknown` delivery: who was sending it).
        "claimed_by": delivery.claimed_by,
        "claimed_at": iso_utc(delivery.claimed_at),
    }


def media_url(media: Media) -> str:
    """Where a signed-in person sees the image (the web blueprint serves it)."""
    return f"/media/{media.id}"


def media_json(media: Media) -> dict[str, Any]:
    return {
        "id": media.id,
        "mime_type": media.mime_type,
        "width": media.width,
        "height": media.height,
        "bytes": media.bytes,
        "url": media_url(media),
    }


def post_json(post: Post) -> dict[str, Any]:
    return {
        "id": post.id,
        "title": post.title,
        "body": post.body,
        "status": post.status,
        "publish_at": iso_utc(post.publish_at),
        "author": post.author.email,
        "crisis_response": post.crisis_response,
        "department_id": post.department_id,
        "department": department_json(post.department) if post.department else None,
        "campaign": {"id": post.campaign.id, "name": post.campaign.name} if post.campaign else None,
        "channels": [d.channel_id for d in post.deliveries],
        "approved_by": post.approved_by.email if post.approved_by else None,
        "approved_at": iso_utc(post.approved_at),
        "created_at": iso_utc(post.created_at),
        "updated_at": iso_utc(post.updated_at),
        "deliveries": [delivery_json(d) for d in post.deliveries],
        "tags": post.tags,
        "media": [
            {
                "id": row.media.id,
                "alt": row.alt,
                "mime_type": row.media.mime_type,
                "width": row.media.width,
                "height": row.media.height,
                "url": media_url(row.media),
            }
            for row in post.media_rows
        ],
        "alt_text_waived": post.alt_text_waived,
        "alt_text_waiver_reason": post.alt_text_waiver_reason,
    }


def campaign_json(campaign: Campaign, record: DeliveryRecord | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": campaign.id,
        "name": campaign.name,
        "goal": campaign.goal,
        "kpis": campaign.kpis,
        "starts_on": campaign.starts_on.isoformat(),
        "ends_on": campaign.ends_on.isoformat(),
        "departments": [{"id": d.id, "name": d.name} for d in campaign.departments],
        "created_at": iso_utc(campaign.created_at),
        "updated_at": iso_utc(campaign.updated_at),
    }
    if record is not None:
        body["delivery_record"] = record.as_dict()
    return body


def crisis_json(crisis: Crisis | None) -> dict[str, Any]:
    if crisis is None:
        return {"active": False}
    return {
        "active": crisis.lifted_at is None,
        "id": crisis.id,
        "reason": crisis.reason,
        "declared_at": iso_utc(crisis.declared_at),
        "declared_by": crisis.declared_by.email,
        "channels": "all" if crisis.all_channels else [c.id for c in crisis.channels],
        "topics": list(crisis.hold_topics or []),
        "keywords": list(crisis.hold_keywords or []),
        "lift_requested_by": crisis.lift_requested_by.email if crisis.lift_requested_by else None,
        "lift_requested_at": iso_utc(crisis.lift_requested_at),
        "lift_note": crisis.lift_note,
        "lifted_at": iso_utc(crisis.lifted_at),
        "lifted_by": crisis.lifted_by.email if crisis.lifted_by else None,
        "playbook_id": crisis.playbook_id,
        "escalation": [
            {
                "name": ack.name,
                "role": ack.role,
                "email": ack.email,
                "user": ack.user.email if ack.user else None,
                "notified_at": iso_utc(ack.notified_at),
                "acknowledged_at": iso_utc(ack.acknowledged_at),
            }
            for ack in crisis.acknowledgements
        ],
    }


def playbook_json(playbook: Playbook) -> dict[str, Any]:
    return {
        "id": playbook.id,
        "name": playbook.name,
        "description": playbook.description,
        "channels": "all" if playbook.all_channels else [c.id for c in playbook.channels],
        "topics": list(playbook.hold_topics or []),
        "keywords": list(playbook.hold_keywords or []),
        "statements": [{"channel_id": s.channel_id, "text": s.text} for s in playbook.statements],
        "escalation": [
            {"user_id": c.user_id, "name": c.name, "role": c.role, "email": c.email}
            for c in playbook.contacts
        ],
        "created_by": playbook.created_by.email,
        "created_at": iso_utc(playbook.created_at),
        "updated_at": iso_utc(playbook.updated_at),
    }


def preview_json(preview: ImpactPreview) -> dict[str, Any]:
    return {
        "posts": preview.posts,
        "channels": preview.channels,
        "hours": preview.hours,
        "summary": preview.summary,
        "items": [
            {
                "delivery_id": d.id,
                "post_id": d.post_id,
                "channel_id": d.channel_id,
                "channel": d.channel.name,
                "title": d.post.title or d.text[:80],
                "due_at": iso_utc(d.due_at),
            }
            for d in preview.deliveries
        ],
    }


def blackout_json(blackout: Blackout) -> dict[str, Any]:
    return {
        "id": blackout.id,
        "name": blackout.name,
        "reason": blackout.reason,
        "starts_at": iso_utc(blackout.starts_at),
        "ends_at": iso_utc(blackout.ends_at),
        "channels": "all" if blackout.all_channels else [c.id for c in blackout.channels],
        "created_by": blackout.created_by.email,
        "created_at": iso_utc(blackout.created_at),
        "reminded_at": iso_utc(blackout.reminded_at),
    }


def notification_json(note: Notification, locale: str | None, timezone: str) -> dict[str, Any]:
    """In the reader's language, times on the team's clock."""
    subject, text = words_for(note, locale, timezone)
    return {
        "id": note.id,
        "kind": note.kind,
        "subject": subject,
        "text": text,
        "link": note.link,
        "created_at": iso_utc(note.created_at),
        "read_at": iso_utc(note.read_at),
    }


def channel_health_json(health: ChannelHealth) -> dict[str, Any]:
    channel = health.channel
    return {
        "channel_id": channel.id,
        "name": channel.name,
        "owner": person_json(channel.owner),
        "deputy": person_json(channel.deputy),
        "ownership_complete": health.ownership_complete,
        "silent_after_days": channel.silent_after_days,
        "plan_ahead_days": channel.plan_ahead_days,
        "last_published_at": iso_utc(health.last_published_at),
        "next_planned_at": iso_utc(health.next_planned_at),
        "problems": [{"kind": kind, "text": words} for kind, words in health.problems.items()],
    }


def comment_json(comment: Comment) -> dict[str, Any]:
    return {
        "id": comment.id,
        "post_id": comment.post_id,
        "author": person_json(comment.author),
        "body": comment.body,
        "created_at": iso_utc(comment.created_at),
    }


def timeline_json(timeline: Timeline) -> dict[str, Any]:
    return {
        "crisis": crisis_json(timeline.crisis),
        "events": [
            {
                "at": iso_utc(e.at),
                "kind": str(e.moment),
                "actor": e.actor,
                "note": e.note,
                "post_id": e.post_id,
                "post_title": e.post_title,
                "channels": list(e.channels),
                "detail": e.detail,
            }
            for e in timeline.events
        ],
    }


def inbox_item_json(item: InboxItem) -> dict[str, Any]:
    return {
        "id": item.id,
        "channel_id": item.channel_id,
        "kind": item.kind,
        "author": {"handle": item.author_handle, "name": item.author_name},
        "text": item.text,
        "url": item.url,
        "in_reply_to": item.in_reply_to,
        "received_at": iso_utc(item.received_at),
        "status": item.status,
        "department": department_json(item.department) if item.department else None,
        "assignee": person_json(item.assignee),
        "note": item.note,
        "first_answer_at": iso_utc(item.first_answer_at) if item.first_answer_at else None,
    }


def alert_json(alert: SpikeAlert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind,
        "channel_id": alert.channel_id,
        "observed": alert.observed,
        "baseline": alert.baseline,
        "score": alert.score,
        "window_minutes": alert.window_minutes,
        "watched_words": list(alert.watched_words or []),
        "started_at": iso_utc(alert.started_at),
        "opened_at": iso_utc(alert.opened_at),
        "hold_until": iso_utc(alert.hold_until),
        "sample": list(alert.sample or []),
        "status": alert.status,
        "decided_by": person_json(alert.decided_by),
        "decided_at": iso_utc(alert.decided_at),
        "note": alert.note,
        "crisis_id": alert.crisis_id,
    }


def routing_rule_json(rule: RoutingRule) -> dict[str, Any]:
    return {"id": rule.id, "keyword": rule.keyword, "department": department_json(rule.department)}
