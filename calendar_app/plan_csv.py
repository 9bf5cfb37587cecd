"""A plan as CSV: one row per post, for spreadsheets and for moving plans between calendars.

Columns: title, body, publish_at (ISO 8601 with the offset of the team's time zone), channels (by
name, separated by `|`), department (name), campaign (name), crisis_response (true/false), status,
overrides (a JSON object: channel name -> that channel's own text; empty when there is none).

A cell that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage
return) is written with a leading apostrophe, which the import removes again.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from calendar_app import audit, holds
from calendar_app.errors import InvalidInput, listed
from calendar_app.models import Campaign, Channel, Department, Post, User
from calendar_app.planning import check_text, create_post
from calendar_app.timeutil import check_aware, local
from calendar_app.words import _l

COLUMNS = (
    "title",
    "body",
    "publish_at",
    "channels",
    "department",
    "campaign",
    "crisis_response",
    "status",
    "overrides",
)
CHANNEL_SEPARATOR = "|"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_GUARD = "'"


def guard_formula(cell: str) -> str:
    return FORMULA_GUARD + cell if cell.startswith(FORMULA_STARTS) else cell


def unguard_formula(cell: str) -> str:
    if cell.startswith(FORMULA_GUARD) and cell[1:].startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def post_row(post: Post, timezone: str) -> list[str]:
    overrides = {d.channel.name: d.body_override for d in post.deliveries if d.body_override}
    return [
        post.title,
        post.body,
        local(post.publish_at, timezone).isoformat(),
        CHANNEL_SEPARATOR.join(d.channel.name for d in post.deliveries),
        post.department.name if post.department else "",
        post.campaign.name if post.campaign else "",
        "true" if post.crisis_response else "false",
        str(post.status),
        json.dumps(overrides, ensure_ascii=False) if overrides else "",
    ]


def rows(posts: Iterable[Post], timezone: str) -> Iterator[Sequence[str]]:
    yield COLUMNS
    for post in posts:
        yield [guard_formula(cell) for cell in post_row(post, timezone)]


def export_csv(posts: Iterable[Post], timezone: str) -> str:
    """The posts as CSV text (RFC 4180: comma, double quotes, CRLF line ends)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows(posts, timezone))
    return buffer.getvalue()


# --- import ------------------------------------------------------------------------------------

REQUIRED_COLUMNS = ("body", "publish_at", "channels")
MAX_ROWS = 5000
# The largest file (or text) an import takes.
MAX_FILE_BYTES = 5 * 1024 * 1024
TRUE_WORDS = ("true", "yes", "1", "ja", "wahr")
FALSE_WORDS = ("false", "no", "0", "nein", "falsch", "")


@dataclass
class PlannedPost:
    """One valid row, ready for planning.create_post."""

    line: int
    title: str
    body: str
    publish_at: datetime
    channels: list[Channel]
    department_id: int | None
    campaign_id: int | None
    crisis_response: bool
    overrides: dict[int, str] = field(default_factory=dict)


@dataclass
class Lookup:
    """Names in the file -> what they name (read once per import)."""

    channels: dict[str, Channel]
    departments: dict[str, Department]
    campaigns: dict[str, Campaign]

    @classmethod
    def load(cls, session: Session) -> Lookup:
        departments: dict[str, Department] = {}
        for department in session.scalars(select(Department)):
            departments[department.slug.casefold()] = department
            departments[department.name.casefold()] = department
        return cls(
            channels={
                c.name.casefold(): c
                for c in session.scalars(select(Channel).where(Channel.active.is_(True)))
            },
            departments=departments,
            campaigns={c.name.casefold(): c for c in session.scalars(select(Campaign))},
        )


def read_time(text: str, timezone: str) -> datetime:
    """ISO 8601; with an offset as given, without one on the team's clock (CALENDAR_TIMEZONE).

    A wall-clock time skipped by a DST change moves forward with the clock; one that exists
    twice means the first of them."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            "is not a time; use e.g. 2026-12-01T09:00 (team time zone) or 2026-12-01T09:00+01:00"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return check_aware(value)


def _channels(cell: str, lookup: Lookup, problems: dict[str, str]) -> list[Channel]:
    names = [n.strip() for n in cell.split(CHANNEL_SEPARATOR) if n.strip()]
    if not names:
        problems["channels"] = _l("names no channel")
        return []
    unknown = [n for n in names if n.casefold() not in lookup.channels]
    if unknown:
        problems["channels"] = "unknown channel(s): " + ", ".join(unknown)
        return []
    return list(
        {lookup.channels[n.casefold()].id: lookup.channels[n.casefold()] for n in names}.values()
    )


def _overrides(cell: str, lookup: Lookup, problems: dict[str, str]) -> dict[int, str]:
    if not cell.strip():
        return {}
    try:
        raw = json.loads(cell)
    except ValueError:
        raw = None
    if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
        problems["overrides"] = _l('must be a JSON object {"channel name": "text", ...}')
        return {}
    unknown = [name for name in raw if name.casefold() not in lookup.channels]
    if unknown:
        problems["overrides"] = "unknown channel(s): " + ", ".join(unknown)
        return {}
    return {lookup.channels[name.casefold()].id: text for name, text in raw.items() if text}


def read_row(line: int, row: dict[str, str], lookup: Lookup, timezone: str) -> PlannedPost:
    """One row checked by the same rules as a new post; InvalidInput names every problem."""
    problems: dict[str, str] = {}
    cell = {name: unguard_formula(value or "") for name, value in row.items()}
    publish_at = None
    try:
        publish_at = read_time(cell["publish_at"], timezone)
    except ValueError as exc:
        problems["publish_at"] = str(exc)
    channels = _channels(cell["channels"], lookup, problems)
    department = campaign = None
    if name := cell.get("department", "").strip():
        department = lookup.departments.get(name.casefold())
        if department is None:
            problems["department"] = _l("unknown department %(name)r", name=name)
    if name := cell.get("campaign", "").strip():
        campaign = lookup.campaigns.get(name.casefold())
        if campaign is None:
            problems["campaign"] = _l("unknown campaign %(name)r", name=name)
    crisis_word = cell.get("crisis_response", "").strip().lower()
    if crisis_word not in TRUE_WORDS + FALSE_WORDS:
        problems["crisis_response"] = _l("must be true or false")
    overrides = _overrides(cell.get("overrides", ""), lookup, problems)
    title, body = cell.get("title", "").strip(), cell["body"]
    try:
        check_text(title, body, channels, overrides if channels else {})
    except InvalidInput as exc:
        problems.update({k: v for k, v in exc.fields.items() if k not in problems})
    if problems or publish_at is None:
        raise InvalidInput(_l("line %(line)s is not valid", line=line), problems)
    return PlannedPost(
        line=line,
        title=title,
        body=body,
        publish_at=publish_at,
        channels=channels,
        department_id=department.id if department else None,
        campaign_id=campaign.id if campaign else None,
        crisis_response=crisis_word in TRUE_WORDS,
        overrides=overrides,
    )


def _summary(problems: dict[str, str]) -> str:
    return "; ".join(f"{name}: {problem}" for name, problem in problems.items())


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line where the record starts, cells); a quoted cell may span lines."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidInput(
                _l("line %(line)s cannot be read as CSV: %(exc)s", line=line, exc=exc),
                {f"line {line}": _l("not CSV: %(exc)s", exc=exc)},
            ) from None
        if any(c.strip() for c in cells):
            yield line, cells


def read_plan(session: Session, text: str, timezone: str) -> list[PlannedPost]:
    """Every row of the file, checked; if any is bad, InvalidInput names each bad line."""
    records = _records(text)
    crisis_in_force = holds.active_crisis_id(session) is not None
    first = next(records, None)
    if first is None:
        raise InvalidInput(_l("the file is empty"), {"line 1": _l("no header row")})
    header_line, header = first
    columns = [c.strip().lower() for c in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    unknown = [c for c in columns if c not in COLUMNS]
    if missing or unknown:
        problem = "; ".join(
            part
            for part in (
                f"missing column(s): {', '.join(missing)}" if missing else "",
                f"unknown column(s): {', '.join(unknown)}" if unknown else "",
            )
            if part
        )
        raise InvalidInput(
            _l(
                "line %(header_line)s: %(problem)s; the columns are %(columns)s",
                header_line=header_line,
                problem=problem,
                columns=", ".join(COLUMNS),
            ),
            {f"line {header_line}": problem},
        )
    lookup = Lookup.load(session)
    planned, bad = [], {}
    for line, cells in records:
        if len(planned) + len(bad) >= MAX_ROWS:
            raise InvalidInput(
                _l("at most %(max_rows)s posts per file", max_rows=MAX_ROWS),
                {f"line {line}": _l("too many rows")},
            )
        if len(cells) > len(columns):
            bad[f"line {line}"] = _l(
                "has %(cells)s cells, the header names %(columns)s",
                cells=len(cells),
                columns=len(columns),
            )
            continue
        row = dict(zip(columns, cells + [""] * (len(columns) - len(cells)), strict=True))
        try:
            read = read_row(line, row, lookup, timezone)
        except InvalidInput as exc:
            bad[f"line {line}"] = _summary(exc.fields)
            continue
        if read.crisis_response and not crisis_in_force:
            bad[f"line {line}"] = _l("crisis_response only while a crisis is in force")
            continue
        planned.append(read)
    if bad:
        raise InvalidInput(
            _l(
                "nothing was imported: %(count)s row(s) are not valid: %(problems)s",
                count=len(bad),
                problems=listed(bad, ": "),
            ),
            bad,
        )
    if not planned:
        raise InvalidInput(
            _l("the file has no posts"), {f"line {header_line}": _l("no rows below it")}
        )
    return planned


def import_plan(session: Session, importer: User, text: str, timezone: str) -> list[Post]:
    """All rows as drafts by `importer`, or none: every row is checked before any is created."""
    posts = []
    for row in read_plan(session, text, timezone):
        post = create_post(
            session,
            importer,
            body=row.body,
            channel_ids=[c.id for c in row.channels],
            publish_at=row.publish_at,
            title=row.title,
            crisis_response=row.crisis_response,
            department_id=row.department_id,
            campaign_id=row.campaign_id,
            overrides=row.overrides,
        )
        audit.record(session, importer, "import", post, line=row.line)
        posts.append(post)
    return posts
