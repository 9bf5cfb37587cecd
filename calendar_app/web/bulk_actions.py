"""The agenda's bulk actions: the chosen posts, one action, a report for each post.

The rules are bulk.py's (each post as if handled alone); this view reads the form and words the
outcome in the reader's language. The report is the answer to the POST itself (a redirect would
have to carry a report for up to bulk.MAX_POSTS posts in the session cookie).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import flash, request
from flask_babel import gettext as _
from flask_babel import ngettext

from calendar_app import bulk
from calendar_app.errors import RuleError
from calendar_app.extensions import db_session
from calendar_app.models import MAX_ID
from calendar_app.web import pages
from calendar_app.web.formatting import team_timezone


@dataclass(frozen=True)
class ReportLine:
    post_id: int
    title: str
    done: bool
    text: str


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isascii() and v.isdigit() and 0 < int(v) <= MAX_ID]


def _whole_number(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    sign = -1 if raw.startswith("-") else 1
    digits = raw.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 6:
        return None
    return sign * int(digits)


def _done_text(action: bulk.BulkAction, days: int | None, outcome: bulk.Outcome) -> str:
    if action == bulk.BulkAction.SUBMIT:
        return _("submitted for approval")
    if action == bulk.BulkAction.MOVE:
        text = ngettext("moved by %(num)d day", "moved by %(num)d days", days or 0)
    else:
        text = _("campaign set")
    return text + (_(" (it needs a new approval)") if outcome.approval_undone else "")


def _refused_text(outcome: bulk.Outcome) -> str:
    """Why not, in the reader's words where the kind of refusal says it all."""
    words = {
        "not_found": _("this post does not exist (any more)"),
        "needs_confirmation": _(
            "approved: tick “Also approved posts” to change it; it then goes back to draft "
            "and needs a new approval"
        ),
        "not_movable": _("held, published or discarded posts cannot be moved"),
    }
    if outcome.refusal in words:
        return words[outcome.refusal]
    if outcome.refusal == "not_allowed" and outcome.reason:
        return _("not allowed: %(reason)s", reason=outcome.reason)
    return outcome.reason or ""


def bulk_action() -> tuple[str, int]:
    """Submit, move or assign a campaign to the posts chosen in the agenda."""
    form = request.form
    action = form.get("action", "")
    days = _whole_number(form.get("days"))
    campaign_raw = form.get("campaign_id", "")
    campaign_ids = _ids([campaign_raw])
    try:
        outcomes = bulk.apply(
            db_session(),
            pages.signed_in_user(),
            action,
            _ids(form.getlist("post_ids")),
            days=days,
            campaign_id=campaign_ids[0] if campaign_ids else None,
            confirmed=form.get("confirm") == "1",
            timezone=team_timezone(),
        )
    except RuleError as exc:
        db_session().rollback()
        if "posts" in exc.fields:
            flash(_("Choose at least one post."), "error")
        elif "days" in exc.fields:
            flash(_("Enter by how many days to move the posts (not 0)."), "error")
        else:
            flash(exc.message, "error")
        return pages.agenda(), exc.status_code
    chosen = bulk.BulkAction(action)
    report = [
        ReportLine(
            o.post_id,
            o.title,
            o.done,
            _done_text(chosen, days, o) if o.done else _refused_text(o),
        )
        for o in outcomes
    ]
    done = sum(1 for line in report if line.done)
    flash(
        ngettext("%(num)d post done", "%(num)d posts done", done)
        + ", "
        + ngettext("%(num)d refused", "%(num)d refused", len(report) - done)
        + ".",
        "success" if done == len(report) else "info",
    )
    return pages.agenda(report=report), 200
