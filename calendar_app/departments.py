"""Departments: the six every team starts with, any an admin adds, and who belongs where.

Every post belongs to one department: the one its author chose, else the author's first,
else corporate communications (the department that speaks for the whole company).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from calendar_app import audit
from calendar_app.errors import Conflict, InvalidInput, NotFound
from calendar_app.models import MAX_ID, Department, User
from calendar_app.permissions import require_may_manage_departments, require_may_manage_users
from calendar_app.words import _l

# slug -> (name, colour); migration 0005 creates these in every database.
STANDARD_DEPARTMENTS = {
    "marketing": ("Marketing", "#d9480f"),
    "pr": ("PR", "#1c7ed6"),
    "hr": ("HR", "#2f9e44"),
    "customer-service": ("Customer service", "#ae3ec9"),
    "media": ("Media", "#f08c00"),
    "corporate-communications": ("Corporate communications", "#0b7285"),
}
CORPORATE_COMMUNICATIONS = "corporate-communications"
DEFAULT_COLOUR = "#5b6770"
MAX_NAME_LENGTH = 120
MAX_SLUG_LENGTH = 60
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def list_departments(session: Session) -> Sequence[Department]:
    return session.scalars(select(Department).order_by(Department.name)).all()


def department_by_slug(session: Session, slug: str) -> Department | None:
    return session.scalar(select(Department).where(Department.slug == slug.strip().lower()))


def get_department(
    session: Session, department_id: int, *, field: str = "department_id"
) -> Department:
    department = session.get(Department, department_id) if 0 < department_id <= MAX_ID else None
    if department is None:
        raise InvalidInput(
            _l("unknown department id %(department_id)s", department_id=department_id),
            {field: _l("unknown department")},
        )
    return department


def slug_for(name: str) -> str:
    """`Investor Relations` -> `investor-relations`; umlauts become their base letters."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:MAX_SLUG_LENGTH]


def create_department(
    session: Session, actor: User, *, name: str, slug: str | None = None, color: str | None = None
) -> Department:
    require_may_manage_departments(actor)
    name = name.strip()
    slug = slug_for(slug if slug else name)
    problems: dict[str, str] = {}
    if not name:
        problems["name"] = _l("must not be empty")
    elif len(name) > MAX_NAME_LENGTH:
        problems["name"] = _l("must be at most %(max)s characters", max=MAX_NAME_LENGTH)
    elif not slug:
        problems["slug"] = _l("needs at least one letter or digit (a-z, 0-9)")
    if color and not _COLOUR.fullmatch(color):
        problems["color"] = _l("must be a colour like #1c7ed6")
    if problems:
        raise InvalidInput(_l("the department cannot be created"), problems)
    taken = session.scalar(
        select(Department).where(or_(Department.name == name, Department.slug == slug))
    )
    if taken is not None:
        field = "name" if taken.name == name else "slug"
        raise Conflict(
            _l(
                "a department named %(taken)r (%(slug)s) exists already",
                taken=taken.name,
                slug=taken.slug,
            ),
            {field: _l("is taken")},
        )
    department = Department(name=name, slug=slug, color=color or DEFAULT_COLOUR)
    session.add(department)
    session.flush()
    audit.record(session, actor, "create_department", department, name=name, slug=slug)
    return department


def departments_by_ids(session: Session, ids: Sequence[int]) -> list[Department]:
    found = {d.id: d for d in session.scalars(select(Department).where(Department.id.in_(ids)))}
    unknown = [str(i) for i in ids if i not in found]
    if unknown:
        raise InvalidInput(
            _l("unknown department id(s): %(unknown)s", unknown=", ".join(unknown)),
            {
                "departments": _l(
                    "unknown department id(s): %(unknown)s", unknown=", ".join(unknown)
                )
            },
        )
    return [found[i] for i in dict.fromkeys(ids)]


def departments_by_slugs(session: Session, slugs: Sequence[str]) -> list[Department]:
    wanted = [s.strip().lower() for s in slugs]
    found = {
        d.slug: d for d in session.scalars(select(Department).where(Department.slug.in_(wanted)))
    }
    unknown = [s for s in wanted if s not in found]
    if unknown:
        known = ", ".join(d.slug for d in list_departments(session))
        raise InvalidInput(
            _l(
                "unknown department(s): %(unknown)s (known: %(known)s)",
                unknown=", ".join(unknown),
                known=known,
            ),
            {"department": _l("unknown: %(unknown)s", unknown=", ".join(unknown))},
        )
    return [found[s] for s in dict.fromkeys(wanted)]


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id) if 0 < user_id <= MAX_ID else None
    if user is None:
        raise NotFound(_l("user %(user_id)s does not exist", user_id=user_id))
    return user


def set_user_departments(
    session: Session, actor: User, user: User, departments: Sequence[Department]
) -> User:
    """An admin decides where someone works; the first department is the default for posts."""
    require_may_manage_users(actor)
    before = [d.slug for d in user.departments]
    user.departments = list(departments)
    session.flush()
    audit.record(
        session,
        actor,
        "set_departments",
        user,
        before=before,
        after=[d.slug for d in departments],
    )
    return user


def default_department(session: Session, author: User) -> Department:
    """Where a post goes when its author names no department."""
    if author.departments:
        return author.departments[0]
    fallback = department_by_slug(session, CORPORATE_COMMUNICATIONS)
    if fallback is None:  # an admin renamed the slug away: any department beats none
        fallback = session.scalar(select(Department).order_by(Department.id).limit(1))
    if fallback is None:
        name, color = STANDARD_DEPARTMENTS[CORPORATE_COMMUNICATIONS]
        fallback = Department(name=name, slug=CORPORATE_COMMUNICATIONS, color=color)
        session.add(fallback)
        session.flush()
    return fallback
