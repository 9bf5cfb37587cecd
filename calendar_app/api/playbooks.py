"""Crisis playbooks: everyone signed in reads them; heads and admins write them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from calendar_app import playbooks
from calendar_app.api.auth import api_user
from calendar_app.api.schemas import ContactIn, PlaybookCreate, PlaybookUpdate, parse
from calendar_app.api.serialize import playbook_json
from calendar_app.errors import InvalidInput
from calendar_app.extensions import db_session

bp = Blueprint("playbooks", __name__)


def _contacts(entries: list[ContactIn]) -> list[playbooks.Contact]:
    return [playbooks.Contact(**entry.model_dump()) for entry in entries]


@bp.get("/playbooks")
def index() -> dict[str, Any]:
    return {"items": [playbook_json(p) for p in playbooks.list_playbooks(db_session())]}


@bp.post("/playbooks")
def create() -> tuple[dict[str, Any], int]:
    data = parse(PlaybookCreate)
    playbook = playbooks.create_playbook(
        db_session(),
        api_user(),
        playbooks.PlaybookData(
            name=data.name,
            description=data.description,
            channel_ids=data.channels,
            topics=data.topics,
            keywords=data.keywords,
            statements=data.statements,
            contacts=_contacts(data.escalation),
        ),
    )
    return playbook_json(playbook), 201


@bp.get("/playbooks/<int:playbook_id>")
def show(playbook_id: int) -> dict[str, Any]:
    return playbook_json(playbooks.get_playbook(db_session(), playbook_id))


@bp.patch("/playbooks/<int:playbook_id>")
def edit(playbook_id: int) -> dict[str, Any]:
    session = db_session()
    playbook = playbooks.get_playbook(session, playbook_id)
    data = parse(PlaybookUpdate)
    given = data.model_fields_set
    nulls = {
        k: "may not be null"
        for k in ("name", "description", "topics", "keywords", "statements", "escalation")
        if k in given and getattr(data, k) is None
    }
    if nulls:
        raise InvalidInput("fields may not be null: " + ", ".join(nulls), nulls)
    changes: dict[str, Any] = {k: getattr(data, k) for k in given if k != "escalation"}
    if "channels" in changes:  # null: all channels
        changes["channel_ids"] = changes.pop("channels")
    if "escalation" in given:
        changes["contacts"] = _contacts(data.escalation or [])
    return playbook_json(playbooks.edit_playbook(session, api_user(), playbook, changes))


@bp.delete("/playbooks/<int:playbook_id>")
def delete(playbook_id: int) -> dict[str, Any]:
    session = db_session()
    playbooks.delete_playbook(session, api_user(), playbooks.get_playbook(session, playbook_id))
    return {"deleted": True}
