"""What people are told about their work, in their own language: one catalogue of notices.

A notification is stored with its kind and its facts (`params`: the post's name, who acted,
when it goes out); its words are made from this catalogue when someone reads it — in the app in
the reader's language, in an e-mail in the recipient's — and times are shown on the team's wall
clock ("Di., 1. Dez., 19:38"), never as an ISO timestamp. Kinds not in the catalogue keep the
words they were stored with.

Each person chooses per kind how they are told (`CHANNELS`): in the app and by e-mail, in the app
only, or not at all. Urgent kinds are always told, and their e-mail goes out at once; the others
wait for the hourly digest (notifications.send_digests).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from calendar_app.words import LANGUAGES, _l, gettext, known_locale, ngettext, translations

__all__ = ["LANGUAGES", "gettext", "ngettext", "translations"]

# How a person is told of a kind of notice.
EMAIL, APP, OFF = "email", "app", "off"
CHANNELS = (EMAIL, APP, OFF)
CHANNEL_LABELS = {
    EMAIL: _l("in the app and by e-mail"),
    APP: _l("in the app only"),
    OFF: _l("not at all"),
}


@dataclass(frozen=True)
class Notice:
    label: str  # what the setting is called
    subject: str
    text: str
    urgent: bool = False  # always told, e-mailed at once
    default: str = EMAIL


CATALOGUE: dict[str, Notice] = {
    "waiting_for_approval": Notice(
        _l("A post waits for my approval"),
        _l("“%(post)s” waits for your approval"),
        _l("%(actor)s submitted “%(post)s” for approval; it is planned for %(when)s."),
    ),
    "approved": Notice(
        _l("My post was approved"),
        _l("Your post “%(post)s” was approved"),
        _l("%(actor)s approved “%(post)s”; it goes out %(when)s."),
    ),
    "sent_back": Notice(
        _l("My post was sent back"),
        _l("Your post “%(post)s” was sent back"),
        _l("%(actor)s sent “%(post)s” back to you as a draft: %(comment)s"),
    ),
    "post_changed": Notice(
        _l("Someone else changed my approved post"),
        _l("Your approved post “%(post)s” was changed"),
        _l(
            "%(actor)s changed your approved post “%(post)s”; it is a draft again and needs a "
            "new approval."
        ),
    ),
    "held": Notice(
        _l("My post was held"),
        _l("Your post “%(post)s” is held"),
        _l(
            "“%(post)s” was not published: a crisis or a blackout date holds it. A "
            "communications head reviews it before it goes out."
        ),
    ),
    "missed": Notice(
        _l("My post missed its time"),
        _l("Your post “%(post)s” missed its time"),
        _l(
            "“%(post)s” was not sent: its time had passed too long ago when the scheduler found "
            "it. A communications head decides whether it goes out now, later or not at all."
        ),
    ),
    "unknown": Notice(
        _l("It is unclear whether my post went out"),
        _l("Did “%(post)s” go out? Nobody can tell yet"),
        _l(
            "The sender of “%(post)s” stopped in the middle of sending. A communications head "
            "checks the channel and decides."
        ),
    ),
    "failed": Notice(
        _l("My post failed"),
        _l("Your post “%(post)s” failed"),
        _l(
            "A channel refused “%(post)s” or could not be reached after several tries. The post "
            "page says why."
        ),
    ),
    "published": Notice(
        _l("My post was published"),
        _l("Your post “%(post)s” is published"),
        _l("“%(post)s” went out on all its channels."),
        default=APP,
    ),
    "released": Notice(
        _l("My held post was released"),
        _l("Your post “%(post)s” was released"),
        _l("%(actor)s released “%(post)s”; it goes out %(when)s."),
    ),
    "discarded": Notice(
        _l("My post was discarded"),
        _l("Your post “%(post)s” was discarded"),
        _l("%(actor)s discarded “%(post)s”. %(reason)s"),
    ),
    "crisis_escalation": Notice(
        _l("A crisis is declared and I am on its escalation list"),
        _l("Crisis declared: %(crisis)s"),
        _l(
            "%(actor)s declared a crisis %(when)s: %(crisis)s. You are on the escalation list. "
            "Please acknowledge that you have seen this."
        ),
        urgent=True,
    ),
    "lift_to_confirm": Notice(
        _l("A crisis lift waits for my confirmation"),
        _l("Lifting the crisis waits for your confirmation"),
        _l(
            "%(actor)s asked to lift the crisis “%(crisis)s”: %(note)s. Another head or an admin "
            "must confirm it before the queue runs again."
        ),
        urgent=True,
    ),
}


def _n(singular: str, plural: str) -> tuple[str, str]:
    """Marks a message with a plural for the catalogue (pybabel's `_n:1,2` keyword)."""
    return singular, plural


DIGEST_SUBJECT = _n("One piece of news about your work", "%(count)s pieces of news about your work")


def wall_clock(value: str | datetime, locale: str | None, timezone: str) -> str:
    """A moment as the team reads it: "Di., 1. Dez., 19:38" / "Tue, Dec 1, 19:38"."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    pattern = "EEE, d. MMM, HH:mm" if known_locale(locale) == "de" else "EEE, MMM d, HH:mm"
    return format_datetime(moment, pattern, tzinfo=ZoneInfo(timezone), locale=known_locale(locale))


def render(
    kind: str,
    params: Mapping[str, Any] | None,
    *,
    locale: str | None,
    timezone: str,
    stored: tuple[str, str] = ("", ""),
) -> tuple[str, str]:
    """(subject, text) of a notice in `locale`; `stored` when the kind is not catalogued."""
    notice = CATALOGUE.get(kind)
    if notice is None or params is None:
        return stored
    values = dict(params)
    if values.get("when"):
        values["when"] = wall_clock(values["when"], locale, timezone)
    if not values.get("reason"):
        values["reason"] = ""
    facts = _Facts(values)
    subject = gettext(notice.subject, locale) % facts
    text = gettext(notice.text, locale) % facts
    return subject, " ".join(text.split())


class _Facts(dict):
    """Missing facts read as empty, never as a KeyError in a message someone must receive."""

    def __missing__(self, key: str) -> str:
        return ""


def how_told(settings: Mapping[str, str] | None, kind: str) -> str:
    """EMAIL, APP or OFF for this kind, as the person chose (the kind's default otherwise)."""
    notice = CATALOGUE.get(kind)
    if notice is None:
        return EMAIL
    if notice.urgent:
        return EMAIL
    chosen = (settings or {}).get(kind)
    return chosen if chosen in CHANNELS else notice.default


def choosable() -> list[tuple[str, Notice]]:
    """The kinds a person may turn down (urgent ones are always told)."""
    return [(kind, notice) for kind, notice in CATALOGUE.items() if not notice.urgent]
