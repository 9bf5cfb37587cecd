"""Campaigns: heads and admins create and change them; everyone signed in reads them."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from calendar_app import campaigns
from calendar_app.api.auth import api_user
from calendar_app.api.schemas import CampaignCreate, CampaignUpdate, parse
from calendar_app.api.serialize import campaign_json
from calendar_app.errors import InvalidInput
from calendar_app.extensions import db_session

bp = Blueprint("campaigns", __name__)


def _kpis(data: CampaignCreate | CampaignUpdate) -> list[dict[str, Any]]:
    return [kpi.model_dump(exclude_none=True) for kpi in data.kpis or []]


@bp.post("/campaigns")
def create() -> tuple[dict[str, Any], int]:
    session = db_session()
    data = parse(CampaignCreate)
    campaign = campaigns.create_campaign(
        session,
        api_user(),
        name=data.name,
        goal=data.goal,
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        kpis=_kpis(data),
        department_ids=data.departments,
    )
    return campaign_json(campaign, campaigns.delivery_record(session, campaign)), 201


@bp.get("/campaigns")
def index() -> dict[str, Any]:
    return {"items": [campaign_json(c) for c in campaigns.list_campaigns(db_session())]}


@bp.get("/campaigns/<int:campaign_id>")
def show(campaign_id: int) -> dict[str, Any]:
    session = db_session()
    campaign = campaigns.get_campaign(session, campaign_id)
    return campaign_json(campaign, campaigns.delivery_record(session, campaign))


@bp.patch("/campaigns/<int:campaign_id>")
def edit(campaign_id: int) -> dict[str, Any]:
    session = db_session()
    campaign = campaigns.get_campaign(session, campaign_id)
    data = parse(CampaignUpdate)
    changes = data.model_dump(exclude_unset=True)
    nulls = {k: "may not be null" for k, v in changes.items() if v is None}
    if nulls:
        raise InvalidInput("fields may not be null: " + ", ".join(nulls), nulls)
    if "kpis" in changes:
        changes["kpis"] = _kpis(data)
    if "departments" in changes:
        changes["department_ids"] = changes.pop("departments")
    campaign = campaigns.edit_campaign(session, api_user(), campaign, changes)
    return campaign_json(campaign, campaigns.delivery_record(session, campaign))
