"""Campaign pages: the list, one campaign with its plan and its delivery record, and the form
heads and admins create and change campaigns with."""

from __future__ import annotations

from decimal import InvalidOperation
from typing import Any

from babel.numbers import NumberFormatError, format_decimal, parse_decimal
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice

from calendar_app import campaigns, departments, paging
from calendar_app.errors import Conflict, RuleError
from calendar_app.evaluation.campaign import evaluate_campaign
from calendar_app.extensions import db_session
from calendar_app.models import Campaign
from calendar_app.permissions import may_manage_campaigns, require_may_manage_campaigns
from calendar_app.web.evaluation import evaluation_charts
from calendar_app.web.forms import KPI_ROWS, CampaignForm
from calendar_app.web.pages import signed_in_user
from calendar_app.web.query import page_query

GOAL_LABELS = {
    "awareness": _l("Awareness"),
    "dialogue": _l("Dialogue"),
    "service": _l("Service"),
    "recruiting": _l("Recruiting"),
    "retention": _l("Retention"),
}

RECORD_LABELS = {
    "planned": _l("Planned"),
    "publishing": _l("Being sent"),
    "published": _l("Published"),
    "held": _l("Held"),
    "missed": _l("Missed: too late to send"),
    "failed": _l("Failed"),
    "unknown": _l("Unclear: please check"),
    "discarded": _l("Discarded"),
}


# The campaign page shows its plan in pages of this many posts (a long campaign has thousands).
PLAN_PAGE_SIZE = 100
# ... and its best posts.
PAGE_RANKED = 20


def goal_label(goal: str) -> str:
    return str(GOAL_LABELS.get(goal, goal))


def _locale() -> str:
    return str(get_locale() or "de")


def kpi_number(value: float) -> str:
    return format_decimal(value, locale=_locale())


def kpi_target(text: str) -> int | float:
    """A KPI target as typed in the page's language: 1.500 or 1500 in German, 1,500 in English."""
    try:
        value = parse_decimal(text.strip(), locale=_locale(), strict=True)
    except (NumberFormatError, InvalidOperation) as exc:
        raise ValueError(text) from exc
    if not value.is_finite():
        raise ValueError(text)
    return int(value) if value == value.to_integral_value() else float(value)


def campaign_list() -> str:
    return render_template(
        "campaigns.html",
        campaigns=campaigns.list_campaigns(db_session()),
        may_manage=may_manage_campaigns(signed_in_user()),
    )


def campaign_page(campaign_id: int) -> str:
    session = db_session()
    query = page_query()
    after = paging.read_cursor(query)
    query.check()
    campaign = campaigns.get_campaign(session, campaign_id)
    plan = paging.page_of_posts(session, limit=PLAN_PAGE_SIZE, after=after, campaign_id=campaign.id)
    record = campaigns.delivery_record(session, campaign).as_dict()
    evaluation = evaluate_campaign(
        session, campaign, current_app.config["CALENDAR"].TIMEZONE, top=PAGE_RANKED
    )
    return render_template(
        "campaign.html",
        evaluation=evaluation,
        **evaluation_charts(evaluation),
        campaign=campaign,
        plan=plan,
        plan_continues=after is not None,
        record=[(RECORD_LABELS[key], key, record[key]) for key in RECORD_LABELS],
        total=record["total"],
        may_manage=may_manage_campaigns(signed_in_user()),
    )


# --- the campaign form ---------------------------------------------------------------------------


def _form(data: dict[str, Any] | None = None) -> CampaignForm:
    form = CampaignForm(data=data)
    form.goal.choices = [SelectChoice(goal, label) for goal, label in GOAL_LABELS.items()]
    form.departments.choices = [
        SelectChoice(d.id, d.name) for d in departments.list_departments(db_session())
    ]
    return form


def _current_values(campaign: Campaign) -> dict[str, Any]:
    """What the form shows before a change, KPI targets written as the reader writes numbers."""
    kpis = [
        {"name": k["name"], "target": kpi_number(k["target"]), "unit": k.get("unit", "")}
        for k in campaign.kpis
    ]
    return {
        "name": campaign.name,
        "goal": campaign.goal,
        "starts_on": campaign.starts_on,
        "ends_on": campaign.ends_on,
        "departments": [d.id for d in campaign.departments],
        "kpis": kpis,
    }


def _add_blank_kpi_rows(form: CampaignForm) -> None:
    """Room for more KPIs: at least two empty rows, and never fewer rows than KPI_ROWS."""
    filled = sum(1 for row in form.kpis if not row.is_blank())
    while len(form.kpis) < max(KPI_ROWS, filled + 2) and len(form.kpis) < form.kpis.max_entries:
        form.kpis.append_entry()


def _add_error(field: Any, message: str) -> None:
    field.errors = [*field.errors, message]


def _kpis(form: CampaignForm) -> tuple[list[dict[str, Any]], list[int]] | None:
    """The filled-in KPI rows (blank ones ignored) and which row each came from."""
    kpis: list[dict[str, Any]] = []
    rows: list[int] = []
    valid = True
    for index, row in enumerate(form.kpis):
        if row.is_blank():
            continue
        name = (row.form.name.data or "").strip()
        if not name:
            _add_error(row.form.name, _("Name the KPI."))
            valid = False
        try:
            target = kpi_target(row.form.target.data or "")
        except ValueError:
            _add_error(row.form.target, _("Enter the target as a number, e.g. 1500."))
            valid = False
            continue
        if target < 0:
            _add_error(row.form.target, _("The target cannot be below zero."))
            valid = False
        kpi: dict[str, Any] = {"name": name, "target": target}
        if (row.form.unit.data or "").strip():
            kpi["unit"] = row.form.unit.data.strip()
        kpis.append(kpi)
        rows.append(index)
    return (kpis, rows) if valid else None


def _values(form: CampaignForm) -> tuple[dict[str, Any], list[int]] | None:
    """The campaign's values from a submitted form, or None when a field needs correcting."""
    valid = form.validate_on_submit()
    kpis = _kpis(form)
    starts_on, ends_on = form.starts_on.data, form.ends_on.data
    if starts_on and ends_on and ends_on < starts_on:
        _add_error(form.ends_on, _("The end cannot be before the start."))
        valid = False
    if not valid or kpis is None:
        return None
    values = {
        "name": form.name.data or "",
        "goal": form.goal.data,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "kpis": kpis[0],
        "department_ids": list(form.departments.data or []),
    }
    return values, kpis[1]


def _show_rule_error(form: CampaignForm, exc: RuleError, kpi_rows: list[int]) -> int:
    """Put what the rules refused next to the fields it concerns; nothing of it is kept."""
    db_session().rollback()
    marked = False
    for name, problem in exc.fields.items():
        if isinstance(exc, Conflict) and name == "name":
            problem = _("A campaign with this name exists already.")
        where = name.split(".")
        field = None
        if where[0] == "kpis" and len(where) == 3 and where[1].isdigit():
            row = int(where[1])
            if row < len(kpi_rows):
                field = getattr(form.kpis[kpi_rows[row]].form, where[2], None)
        else:
            field = getattr(form, where[0], None)
        if field is not None and hasattr(field, "errors"):
            _add_error(field, problem)
            marked = True
    form.form_errors.append(
        _("The campaign was not saved: please correct the marked fields.")
        if marked
        else exc.message
    )
    return exc.status_code


def _render_form(form: CampaignForm, campaign: Campaign | None, status: int) -> tuple[str, int]:
    _add_blank_kpi_rows(form)
    return render_template("campaign_form.html", form=form, campaign=campaign), status


def new_campaign() -> Any:
    me = signed_in_user()
    require_may_manage_campaigns(me)
    form = _form()
    if not form.is_submitted():
        return _render_form(form, None, 200)
    parsed = _values(form)
    if parsed is None:
        return _render_form(form, None, 422)
    values, kpi_rows = parsed
    try:
        campaign = campaigns.create_campaign(db_session(), me, **values)
    except RuleError as exc:
        return _render_form(form, None, _show_rule_error(form, exc, kpi_rows))
    flash(_("Campaign %(name)s created.", name=campaign.name), "success")
    return redirect(url_for("web.campaign", campaign_id=campaign.id))


def edit_campaign(campaign_id: int) -> Any:
    me = signed_in_user()
    require_may_manage_campaigns(me)
    session = db_session()
    campaign = campaigns.get_campaign(session, campaign_id)
    form = _form(None if request.method == "POST" else _current_values(campaign))
    if not form.is_submitted():
        return _render_form(form, campaign, 200)
    parsed = _values(form)
    if parsed is None:
        return _render_form(form, campaign, 422)
    values, kpi_rows = parsed
    try:
        campaigns.edit_campaign(session, me, campaign, values)
    except RuleError as exc:
        return _render_form(form, campaign, _show_rule_error(form, exc, kpi_rows))
    flash(_("Campaign %(name)s saved.", name=campaign.name), "success")
    return redirect(url_for("web.campaign", campaign_id=campaign.id))
