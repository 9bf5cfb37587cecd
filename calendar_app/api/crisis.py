from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app

from calendar_app import crisis, escalation, playbooks, timeline
from calendar_app.api.auth import api_user
from calendar_app.api.schemas import CrisisDeclare, CrisisLift, CrisisPreview, parse
from calendar_app.api.serialize import crisis_json, delivery_json, preview_json, timeline_json
from calendar_app.extensions import db_session
from calendar_app.listening import alerts
from calendar_app.models import DeliveryStatus
from calendar_app.permissions import require_may_declare_crisis

bp = Blueprint("crisis", __name__)


@bp.get("/crisis")
def show() -> dict[str, Any]:
    return crisis_json(crisis.current_crisis(db_session()))


@bp.get("/crises/<int:crisis_id>/timeline")
def show_timeline(crisis_id: int) -> dict[str, Any]:
    return timeline_json(timeline.crisis_timeline(db_session(), api_user(), crisis_id))


@bp.post("/crisis")
def declare() -> tuple[dict[str, Any], int]:
    session = db_session()
    data = parse(CrisisDeclare)
    statements: list[int] | None = None
    if data.playbook_id is not None:
        given = data.model_fields_set & {"channels", "topics", "keywords"}
        overrides = {("channel_ids" if k == "channels" else k): getattr(data, k) for k in given}
        from_playbook = playbooks.declare_from_playbook(
            session,
            api_user(),
            playbooks.get_playbook(session, data.playbook_id, field="playbook_id"),
            reason=data.reason,
            overrides=overrides,
            timezone=current_app.config["CALENDAR"].TIMEZONE,
            alert_id=data.alert_id,
        )
        declaration = from_playbook.declaration
        statements = [p.id for p in from_playbook.statements]
    else:
        channel_ids = data.channels
        if data.alert_id is not None and "channels" not in data.model_fields_set:
            # Pre-filled from the alert: its channel (an alert over all channels: all).
            channel_ids = alerts.channels_of(session, data.alert_id)
        declaration = crisis.declare_crisis(
            session,
            api_user(),
            reason=data.reason,
            channel_ids=channel_ids,
            topics=data.topics,
            keywords=data.keywords,
            alert_id=data.alert_id,
        )
    # The declaration must be in force before we wait for what was already being sent.
    session.commit()
    in_flight = crisis.wait_for_in_flight(
        session,
        declaration.in_flight_ids,
        timeout=current_app.config["CALENDAR"].DECLARE_WAIT_SECONDS,
    )
    body = crisis_json(declaration.crisis)
    body["in_flight"] = [delivery_json(d) for d in in_flight]
    # Requests that had not finished when the declaration stopped waiting (their deadline).
    body["still_open"] = [d.id for d in in_flight if d.status == DeliveryStatus.PUBLISHING]
    if statements is not None:
        body["statements"] = statements
    return body, 201


@bp.post("/crisis/acknowledge")
def acknowledge() -> dict[str, Any]:
    """I am on the escalation list and have seen the crisis."""
    session = db_session()
    current = crisis.current_crisis(session)
    escalation.acknowledge(session, api_user(), current)
    return crisis_json(current)


@bp.post("/crisis/preview")
def preview() -> dict[str, Any]:
    """What a declaration with this body would hold in the next hours; changes nothing."""
    require_may_declare_crisis(api_user())
    data = parse(CrisisPreview)
    return preview_json(
        crisis.impact_preview(
            db_session(),
            channel_ids=data.channels,
            topics=data.topics,
            keywords=data.keywords,
            hours=data.hours,
        )
    )


@bp.post("/crisis/lift")
def lift() -> tuple[dict[str, Any], int]:
    session = db_session()
    data = parse(CrisisLift)
    result = crisis.lift_crisis(
        session,
        api_user(),
        note=data.note,
        confirmations_required=current_app.config["CALENDAR"].CRISIS_LIFT_CONFIRMATIONS,
    )
    body = crisis_json(result.crisis)
    if result.lifted:
        return body, 200
    body["pending_confirmation"] = True
    return body, 202


@bp.post("/crisis/lift/confirm")
def confirm_lift() -> dict[str, Any]:
    return crisis_json(crisis.confirm_lift(db_session(), api_user()))
