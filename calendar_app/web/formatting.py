"""How the pages show things: times on the team's wall clock, statuses and actions in German."""

from __future__ import annotations

import re
from datetime import date, datetime

from flask import current_app

from calendar_app.models import Department
from calendar_app.timeutil import local

WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
          "Oktober", "November", "Dezember")  # fmt: skip
NO_DEPARTMENT_COLOUR = "#5b6770"
NOTHING = "\N{EN DASH}"
_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")

STATUS_LABELS = {
    "draft": "Entwurf",
    "in_review": "In Prüfung",
    "scheduled": "Geplant",
    "publishing": "Wird gesendet",
    "held": "Zurückgehalten",
    "unknown": "Unklar: bitte prüfen",
    "published": "Veröffentlicht",
    "failed": "Fehlgeschlagen",
    "discarded": "Verworfen",
}

ROLE_LABELS = {"planner": "Social Media", "head": "Kommunikationsleitung", "admin": "Admin"}

ACTION_LABELS = {
    "submit": "zur Freigabe eingereicht",
    "approve": "freigegeben",
    "send_back_to_draft": "zurück in den Entwurf",
    "declare_crisis": "Krise ausgerufen",
    "request_lift": "Aufhebung der Krise beantragt",
    "lift_crisis": "Krise aufgehoben",
    "release": "freigegeben nach Prüfung",
    "discard": "verworfen",
    "create_channel": "Kanal angelegt",
}


def team_timezone() -> str:
    return str(current_app.config["CALENDAR"].TIMEZONE)


def team_time(value: datetime) -> datetime:
    return local(value, team_timezone())


def date_time(value: datetime | None) -> str:
    """`Di, 03.03.2026, 09:00` on the team's wall clock."""
    if value is None:
        return NOTHING
    shown = team_time(value)
    return f"{WEEKDAYS[shown.weekday()][:2]}, {shown:%d.%m.%Y, %H:%M}"


def clock_time(value: datetime) -> str:
    return f"{team_time(value):%H:%M}"


def day_heading(day: date) -> str:
    """`Dienstag, 3. März 2026`."""
    return f"{WEEKDAYS[day.weekday()]}, {day.day}. {MONTHS[day.month - 1]} {day.year}"


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def department_colour(department: Department | None) -> str:
    """The department's colour, only if it really is one (it ends up in a style attribute)."""
    if department is not None and _HEX_COLOUR.fullmatch(department.color or ""):
        return department.color
    return NO_DEPARTMENT_COLOUR


def excerpt(text: str, length: int = 140) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1].rstrip() + "…"


FILTERS = {
    "date_time": date_time,
    "clock_time": clock_time,
    "day_heading": day_heading,
    "status_label": status_label,
    "role_label": role_label,
    "action_label": action_label,
    "department_colour": department_colour,
    "excerpt": excerpt,
}
