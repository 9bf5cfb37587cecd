"""Query-string parameters, read one way by the API and by the pages.

A value that cannot be read is refused with a 4xx that names the parameter, never a 500. The
traps this avoids: `"²".isdigit()` is true but `int("²")` fails; a wall-clock time in year 1 has
no UTC instant before it; a date near year 9999 overflows as soon as a page adds a few weeks.

Every reader records a problem instead of raising, so one answer names every bad parameter:

    query = QueryArgs(request.args)
    channel_id = query.id("channel")
    start = query.aware_time("from")
    query.check()   # InvalidQuery (422 in the API, 400 on a page) if anything was wrong
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from calendar_app.errors import InvalidInput
from calendar_app.models import MAX_ID
from calendar_app.timeutil import parse_aware

# No parameter the app reads is longer (a cursor is about 40 characters, a time 25).
MAX_VALUE_LENGTH = 200
# Dates and wall-clock times the pages take: far enough for any plan, far enough from the ends
# of Python's calendar that adding weeks or months to them cannot overflow.
EARLIEST_YEAR, LATEST_YEAR = 1900, 9000
API_LANGUAGE = "en"


class InvalidQuery(InvalidInput):
    """A query-string parameter cannot be read; `fields` names each one and its problem."""


class QueryArgs:
    """Reads parameters from a query string and collects what is wrong with them.

    `language` is the language of the problems: the API passes the one the request asks for
    (English when it names none: api/errors.answer_locale); the pages pass None and speak the
    reader's language.
    """

    def __init__(self, args: Mapping[str, str], *, language: str | None = API_LANGUAGE) -> None:
        self._args = args
        self._language = language
        self.problems: dict[str, str] = {}

    # --- the readers ---------------------------------------------------------------------------

    def text(self, name: str, *, max_length: int = MAX_VALUE_LENGTH) -> str | None:
        """The value as given, or None when absent or empty."""
        raw = self._args.get(name)
        if raw is None or raw == "":
            return None
        if len(raw) > max_length:
            return self._refuse(name, _l("is longer than %(length)s characters", length=max_length))
        if "\x00" in raw:
            return self._refuse(name, _l("contains a NUL character"))
        return raw

    def id(self, name: str) -> int | None:
        """The id of a row: ASCII digits from 1 to the largest id the database holds."""
        raw = self.text(name)
        if raw is None:
            return None
        if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_ID:
            return self._refuse(
                name, _l("must be an id (a whole number from 1 to %(maximum)s)", maximum=MAX_ID)
            )
        return int(raw)

    def whole_number(self, name: str, *, default: int, minimum: int, maximum: int) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        if not (raw.isascii() and raw.isdigit()) or not minimum <= int(raw) <= maximum:
            self._refuse(
                name,
                _l(
                    "must be a whole number from %(minimum)s to %(maximum)s",
                    minimum=minimum,
                    maximum=maximum,
                ),
            )
            return default
        return int(raw)

    def choice(self, name: str, choices: Iterable[str]) -> str | None:
        raw = self.text(name)
        allowed = list(choices)
        if raw is None or raw in allowed:
            return raw
        return self._refuse(name, _l("must be one of %(choices)s", choices=", ".join(allowed)))

    def flag(self, name: str) -> bool:
        """`1` or `true` is yes; absent, empty, `0` or `false` is no."""
        raw = self.choice(name, ("1", "0", "true", "false"))
        return raw in ("1", "true")

    def aware_time(self, name: str) -> datetime | None:
        """An ISO 8601 time with an offset (the API's times), in UTC."""
        raw = self.text(name)
        if raw is None:
            return None
        try:
            return parse_aware(raw)
        except ValueError as exc:
            self.problems[name] = str(exc)
            return None

    def wall_clock(self, name: str, timezone: str) -> datetime | None:
        """`2026-03-01T00:00` on the team's clock (the calendar widget sends more, e.g.
        `2026-03-01T00:00:00Z` in its UTC mode: the first 16 characters are the wall clock)."""
        raw = self.text(name)
        if raw is None:
            return None
        try:
            if len(raw) < 16 or raw[10] not in "T ":
                raise ValueError(raw)
            value = datetime.fromisoformat(raw[:16]).replace(tzinfo=ZoneInfo(timezone))
        except ValueError:
            return self._refuse(name, _l("must be a time such as 2026-03-01T00:00"))
        if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            return self._out_of_range(name)
        return value

    def date(self, name: str) -> date | None:
        raw = self.text(name)
        if raw is None:
            return None
        try:
            value = date.fromisoformat(raw) if len(raw) == 10 else None
        except ValueError:
            value = None
        if value is None:
            return self._refuse(name, _l("is not a date; expected e.g. 2026-03-01"))
        if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            return self._out_of_range(name)
        return value

    # --- the verdict ---------------------------------------------------------------------------

    def check(self) -> None:
        """Refuse the request if any parameter could not be read, naming every one."""
        if self.problems:
            summary = "; ".join(f"{name} {problem}" for name, problem in self.problems.items())
            raise InvalidQuery(summary, dict(self.problems))

    def _out_of_range(self, name: str) -> None:
        return self._refuse(
            name,
            _l(
                "must fall within the years %(earliest)s to %(latest)s",
                earliest=EARLIEST_YEAR,
                latest=LATEST_YEAR,
            ),
        )

    def refuse(self, name: str, problem: Any) -> None:
        """Record a problem found by a reader outside this class (e.g. a cursor's)."""
        self._refuse(name, problem)

    def _refuse(self, name: str, problem: Any) -> None:
        """Record a problem (a lazily translated text): in English for the API, in the reader's
        language on a page."""
        if self._language is None:
            self.problems[name] = str(problem)
        else:
            with force_locale(self._language):
                self.problems[name] = str(problem)
