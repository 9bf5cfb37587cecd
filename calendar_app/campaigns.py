"""Campaigns: a name, a goal, KPIs with targets, a date range and the departments involved.

Posts link to a campaign; its delivery record counts what became of their deliveries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from calendar_app import audit
from calendar_app.errors import Conflict, InvalidInput, NotFound, listed
from calendar_app.models import (
    MAX_ID,
    Campaign,
    CampaignGoal,
    Delivery,
    DeliveryStatus,
    Department,
    Post,
    User,
)
from calendar_app.permissions import require_may_manage_campaigns
from calendar_app.words import _l

MAX_NAME_LENGTH = 120
MAX_UNIT_LENGTH = 40
MAX_KPIS = 20
EDITABLE = ("name", "goal", "kpis", "starts_on", "ends_on", "department_ids")


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id) if 0 < campaign_id <= MAX_ID else None
    if campaign is None:
        raise NotFound(_l("campaign %(campaign_id)s does not exist", campaign_id=campaign_id))
    return campaign


def find_campaign(session: Session, campaign_id: int | None, *, field: str) -> Campaign | None:
    """The campaign a post names; an unknown id is a mistake in `field`."""
    if campaign_id is None:
        return None
    campaign = session.get(Campaign, campaign_id) if 0 < campaign_id <= MAX_ID else None
    if campaign is None:
        raise InvalidInput(
            _l("unknown campaign id %(campaign_id)s", campaign_id=campaign_id),
            {field: _l("unknown campaign")},
        )
    return campaign


def campaign_named(session: Session, name: str) -> Campaign | None:
    return session.scalar(select(Campaign).where(Campaign.name == name.strip()))


def list_campaigns(session: Session) -> Sequence[Campaign]:
    """Newest first by start date: what runs now and next is on top."""
    return session.scalars(
        select(Campaign)
        .options(selectinload(Campaign.departments))
        .order_by(Campaign.starts_on.desc(), Campaign.name)
    ).all()


def _kpis(raw: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """KPIs as stored: [{"name", "target", "unit"?}], and the problems found."""
    if not isinstance(raw, list):
        return [], {"kpis": "must be a list of {name, target, unit}"}
    if len(raw) > MAX_KPIS:
        return [], {"kpis": f"at most {MAX_KPIS} KPIs"}
    kpis, problems = [], {}
    for index, item in enumerate(raw):
        where = f"kpis.{index}"
        if not isinstance(item, dict):
            problems[where] = _l("must be an object with name and target")
            continue
        name = str(item.get("name") or "").strip()
        target = item.get("target")
        unit = item.get("unit")
        if not name or len(name) > MAX_NAME_LENGTH:
            problems[f"{where}.name"] = _l("must be 1 to %(max)s characters", max=MAX_NAME_LENGTH)
        if isinstance(target, bool) or not isinstance(target, int | float):
            problems[f"{where}.target"] = _l("must be a number")
        elif not math.isfinite(target) or target < 0:
            problems[f"{where}.target"] = _l("must be a finite number, zero or more")
        if unit is not None and (not isinstance(unit, str) or len(unit) > MAX_UNIT_LENGTH):
            problems[f"{where}.unit"] = _l(
                "must be text of at most %(max_unit_length)s characters",
                max_unit_length=MAX_UNIT_LENGTH,
            )
        kpi: dict[str, Any] = {"name": name, "target": target}
        if unit:
            kpi["unit"] = unit.strip()
        kpis.append(kpi)
    return kpis, problems


def _departments(session: Session, ids: Sequence[int]) -> list[Department]:
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    found = {d.id: d for d in session.scalars(select(Department).where(Department.id.in_(wanted)))}
    unknown = [str(i) for i in wanted if i not in found]
    if unknown:
        raise InvalidInput(
            _l("unknown department id(s): %(unknown)s", unknown=", ".join(unknown)),
            {
                "departments": _l(
                    "unknown department id(s): %(unknown)s", unknown=", ".join(unknown)
                )
            },
        )
    return sorted(found.values(), key=lambda d: d.name)


def _check(session: Session, campaign: Campaign | None, values: dict[str, Any]) -> dict[str, Any]:
    """Validate a whole campaign's values; raise InvalidInput naming every bad field."""
    problems: dict[str, str] = {}
    name = str(values.get("name") or "").strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        problems["name"] = _l("must be 1 to %(max)s characters", max=MAX_NAME_LENGTH)
    if values.get("goal") not in set(CampaignGoal):
        problems["goal"] = _l(
            "must be one of %(campaigngoal)s", campaigngoal=", ".join(CampaignGoal)
        )
    kpis, kpi_problems = _kpis(values.get("kpis", []))
    problems.update(kpi_problems)
    starts_on, ends_on = values.get("starts_on"), values.get("ends_on")
    if not isinstance(starts_on, date):
        problems["starts_on"] = _l("must be a date, e.g. 2026-03-01")
    if not isinstance(ends_on, date):
        problems["ends_on"] = _l("must be a date, e.g. 2026-03-31")
    elif isinstance(starts_on, date) and ends_on < starts_on:
        problems["ends_on"] = _l("must not be before starts_on")
    if problems:
        raise InvalidInput(
            _l("the campaign is not valid: %(problems)s", problems=listed(problems)),
            problems,
        )
    taken = session.scalar(select(Campaign.id).where(Campaign.name == name))
    if taken is not None and (campaign is None or taken != campaign.id):
        raise Conflict(
            _l("a campaign named %(name)r exists already", name=name), {"name": _l("is taken")}
        )
    departments = _departments(session, values.get("department_ids") or [])
    return {**values, "name": name, "kpis": kpis, "departments": departments}


def create_campaign(
    session: Session,
    actor: User,
    *,
    name: str,
    goal: str,
    starts_on: date,
    ends_on: date,
    kpis: list[dict[str, Any]] | None = None,
    department_ids: Sequence[int] = (),
) -> Campaign:
    require_may_manage_campaigns(actor)
    values = _check(
        session,
        None,
        {
            "name": name,
            "goal": goal,
            "kpis": kpis or [],
            "starts_on": starts_on,
            "ends_on": ends_on,
            "department_ids": list(department_ids),
        },
    )
    campaign = Campaign(
        name=values["name"],
        goal=values["goal"],
        kpis=values["kpis"],
        starts_on=values["starts_on"],
        ends_on=values["ends_on"],
        departments=values["departments"],
        created_by_id=actor.id,
    )
    session.add(campaign)
    session.flush()
    audit.record(session, actor, "create_campaign", campaign, name=campaign.name, goal=goal)
    return campaign


def edit_campaign(
    session: Session, actor: User, campaign: Campaign, changes: dict[str, Any]
) -> Campaign:
    """Change some of a campaign's values (keys from EDITABLE); the rest stay."""
    require_may_manage_campaigns(actor)
    current = {
        "name": campaign.name,
        "goal": campaign.goal,
        "kpis": campaign.kpis,
        "starts_on": campaign.starts_on,
        "ends_on": campaign.ends_on,
        "department_ids": [d.id for d in campaign.departments],
    }
    changed = {k: v for k, v in changes.items() if k in EDITABLE}
    values = _check(session, campaign, {**current, **changed})
    campaign.name = values["name"]
    campaign.goal = values["goal"]
    campaign.kpis = values["kpis"]
    campaign.starts_on = values["starts_on"]
    campaign.ends_on = values["ends_on"]
    campaign.departments = values["departments"]
    session.flush()
    audit.record(session, actor, "edit_campaign", campaign, changed=sorted(changed))
    return campaign


PLANNED = (DeliveryStatus.SCHEDULED, DeliveryStatus.CLAIMED)


@dataclass
class DeliveryRecord:
    """What became of the deliveries of a campaign's posts, by delivery status.

    `planned` are deliveries not sent yet (status `scheduled`: approved and armed, or still in a
    draft or in review; or `claimed` by a scheduler and waiting for a sender); the others are
    the delivery statuses of the same name.
    """

    counts: dict[str, int] = field(default_factory=dict)

    @property
    def planned(self) -> int:
        return sum(self.counts.get(s, 0) for s in PLANNED)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def as_dict(self) -> dict[str, int]:
        record = {"planned": self.planned}
        for status in DeliveryStatus:
            if status not in PLANNED:
                record[str(status)] = self.counts.get(status, 0)
        record["total"] = self.total
        return record


def delivery_record(session: Session, campaign: Campaign) -> DeliveryRecord:
    rows = session.execute(
        select(Delivery.status, func.count())
        .join(Post, Post.id == Delivery.post_id)
        .where(Post.campaign_id == campaign.id)
        .group_by(Delivery.status)
    )
    return DeliveryRecord({str(status): count for status, count in rows})
