"""How the pages show things: times on the team's wall clock in the user's locale, labels in the
user's language."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton, format_time
from flask import current_app, g, url_for
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l

from calendar_app import audit
from calendar_app.models import AuditEntry, Department
from calendar_app.plain_text import one_line, shortened
from calendar_app.query_args import EARLIEST_YEAR, LATEST_YEAR
from calendar_app.timeutil import local

NO_DEPARTMENT_COLOUR = "#5b6770"
NOTHING = "\N{EN DASH}"
_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
# What <input type="datetime-local"> sends and shows: a wall-clock time without an offset.
LOCAL_INPUT_FORMAT = "%Y-%m-%dT%H:%M"

STATUS_LABELS = {
    "draft": _l("Draft"),
    "in_review": _l("In review"),
    "scheduled": _l("Scheduled"),
    "claimed": _l("Waiting to be sent"),
    "publishing": _l("Being sent"),
    "held": _l("Held"),
    "missed": _l("Missed: too late to send"),
    "unknown": _l("Unclear: please check"),
    "published": _l("Published"),
    "failed": _l("Failed"),
    "discarded": _l("Discarded"),
}

# The same, as short as a badge in a calendar cell can hold.
STATUS_BADGES = {
    "draft": _l("Draft"),
    "in_review": _l("In review"),
    "scheduled": _l("Approved"),
    "claimed": _l("Sending"),
    "publishing": _l("Sending"),
    "held": _l("Held"),
    "missed": _l("Missed"),
    "unknown": _l("Unclear"),
    "published": _l("Published"),
    "failed": _l("Failed"),
    "discarded": _l("Discarded"),
}

ROLE_LABELS = {
    "planner": _l("Social media"),
    "head": _l("Communications head"),
    "admin": _l("Admin"),
}

# The roles of people on an escalation list (playbooks.CONTACT_ROLES), in the users' words.
CONTACT_ROLE_LABELS = {
    "management": _l("Management"),
    "legal": _l("Legal"),
    "hr": _l("HR"),
    "customer_service": _l("Customer service"),
    "works_council": _l("Works council"),
    "other": _l("Other"),
}

MOMENT_LABELS = {
    "alerted": _l("Early warning"),
    "declared": _l("Crisis declared"),
    "playbook": _l("Playbook used"),
    "held": _l("Held"),
    "statement": _l("Statement published"),
    "missed": _l("Missed: too late to send"),
    "acknowledged": _l("Acknowledged"),
    "lift_requested": _l("Lifting requested"),
    "lifted": _l("Crisis lifted"),
    "released": _l("Released after review"),
    "discarded": _l("Discarded"),
}


def team_timezone() -> str:
    return str(current_app.config["CALENDAR"].TIMEZONE)


def team_time(value: datetime) -> datetime:
    return local(value, team_timezone())


def team_wall_clock(text: str) -> datetime:
    """`2026-03-03T09:00` typed on the team's wall clock, as an aware time.

    A time that does not exist on that clock (skipped by a DST change) moves forward with the
    clock; one that exists twice means the first of them (zoneinfo's fold=0)."""
    text = text.strip()
    if len(text) < 16 or text[10] not in "T ":
        raise ValueError(f"not a wall-clock time: {text!r}")
    wall = datetime.fromisoformat(text[:16])
    # Far from the ends of the calendar, so that no UTC instant or later arithmetic overflows.
    if not EARLIEST_YEAR <= wall.year <= LATEST_YEAR:
        raise ValueError(f"not a time within the years {EARLIEST_YEAR} to {LATEST_YEAR}")
    return wall.replace(tzinfo=ZoneInfo(team_timezone()))


def _locale() -> str:
    return str(get_locale() or "de")


def date_time(value: datetime | None) -> str:
    """`So., 29. März 2026, 00:30` (German) or `Sun, Mar 29, 2026, 12:30 AM` on the team clock."""
    if value is None:
        return NOTHING
    shown = team_time(value)
    locale = _locale()
    day = format_skeleton("yMMMEd", shown, locale=locale)
    return f"{day}, {format_time(shown.timetz(), 'short', locale=locale)}"


def clock_time(value: datetime) -> str:
    """`09:30` / `9:30 AM` on the team's clock."""
    shown = team_time(value)
    return _clock_label(_locale(), shown.hour, shown.minute)


@lru_cache(maxsize=4096)
def _clock_label(locale: str, hour: int, minute: int) -> str:
    """Each time of day is formatted once per language (a month of posts has many)."""
    return format_time(time(hour, minute), "short", locale=locale)


def day_heading(day: date) -> str:
    """`Sonntag, 29. März 2026`."""
    return format_date(day, "full", locale=_locale())


def input_value(value: datetime | None) -> str:
    """The value of a datetime-local input: the team's wall clock."""
    return team_time(value).strftime(LOCAL_INPUT_FORMAT) if value is not None else ""


def status_label(status: str) -> str:
    known = g.setdefault("status_labels", {})  # translated once per request
    if status not in known:
        known[status] = str(STATUS_LABELS.get(status, status))
    return known[status]


def status_badge(status: str) -> str:
    known = g.setdefault("status_badges", {})
    if status not in known:
        known[status] = str(STATUS_BADGES.get(status, status))
    return known[status]


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def contact_role_label(role: str) -> str:
    return str(CONTACT_ROLE_LABELS.get(role, role))


def action_label(action: str) -> str:
    return audit.action_label(action, _locale())


def audit_subject(entry: AuditEntry) -> str:
    return audit.subject_label(entry.subject_type, entry.subject_id, _locale())


def audit_reason(reason: str | None) -> str:
    return audit.reason_text(reason, _locale())


def department_colour(department: Department | None) -> str:
    """The department's colour, only if it really is one (it ends up in a style attribute)."""
    return colour_or_default(department.color if department is not None else None)


def post_path_prefix() -> str:
    """`/posts/`: a page listing many posts adds each id to it instead of routing each link."""
    return url_for("web.post", post_id=0).removesuffix("0")


def colour_or_default(color: str | None) -> str:
    if color and _HEX_COLOUR.fullmatch(color):
        return color
    return NO_DEPARTMENT_COLOUR


def moment_label(moment: str) -> str:
    return str(MOMENT_LABELS.get(moment, moment))


def excerpt(text: str, length: int = 140) -> str:
    return shortened(one_line(text), length)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=ZoneInfo(team_timezone()))


INBOX_STATUS_LABELS = {
    "new": _l("new"),
    "assigned": _l("assigned"),
    "answered": _l("answered"),
    "closed": _l("closed"),
}
INBOX_KIND_LABELS = {
    "mention": _l("mention"),
    "reply": _l("reply"),
    "quote": _l("quote"),
    "hashtag": _l("watched hashtag"),
    "term": _l("search term"),
}


def inbox_status_label(status: str) -> str:
    return str(INBOX_STATUS_LABELS.get(status, status))


def inbox_kind_label(kind: str) -> str:
    return str(INBOX_KIND_LABELS.get(kind, kind))


def wait_label(wait: timedelta | None) -> str:
    """A wait as people say it: 40 min, 3 h 5 min, 2 d 4 h; a dash for none."""
    if wait is None:
        return "—"
    minutes = round(wait.total_seconds() / 60)
    if minutes < 60:
        return gettext("%(minutes)d min", minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return gettext("%(hours)d h %(minutes)d min", hours=hours, minutes=minutes)
    days, hours = divmod(hours, 24)
    return gettext("%(days)d d %(hours)d h", days=days, hours=hours)


FILTERS = {
    "date_time": date_time,
    "clock_time": clock_time,
    "day_heading": day_heading,
    "input_value": input_value,
    "status_label": status_label,
    "status_badge": status_badge,
    "role_label": role_label,
    "contact_role_label": contact_role_label,
    "action_label": action_label,
    "audit_reason": audit_reason,
    "audit_subject": audit_subject,
    "department_colour": department_colour,
    "colour_or_default": colour_or_default,
    "excerpt": excerpt,
    "moment_label": moment_label,
    "inbox_status_label": inbox_status_label,
    "inbox_kind_label": inbox_kind_label,
    "wait_label": wait_label,
}
