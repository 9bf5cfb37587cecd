"""Users, passwords and API tokens."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from calendar_app.errors import Conflict, InvalidInput
from calendar_app.models import ApiToken, Role, User
from calendar_app.timeutil import now_utc

MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "cal_"  # noqa: S105 (a prefix that makes leaked tokens greppable)

_hasher = PasswordHasher()
# Verifying against this keeps the time of a login for an unknown e-mail like a real one.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    return email.strip().lower()


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def create_user(
    session: Session, email: str, *, role: str, password: str, name: str | None = None
) -> User:
    email = normalise_email(email)
    problems: dict[str, str] = {}
    if "@" not in email or email.startswith("@") or email.endswith("@"):
        problems["email"] = "is not an e-mail address"
    if role not in set(Role):
        problems["role"] = f"must be one of {', '.join(Role)}"
    if len(password) < MIN_PASSWORD_LENGTH:
        problems["password"] = f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if problems:
        raise InvalidInput("the user cannot be created", problems)
    if user_by_email(session, email) is not None:
        raise Conflict(f"a user with e-mail {email} exists already", {"email": "is taken"})
    user = User(
        email=email,
        name=(name or email.split("@")[0]).strip(),
        role=role,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


# The languages the app speaks, with their own names (German is the default).
LANGUAGES = {"de": "Deutsch", "en": "English"}


def set_language(user: User, locale: str) -> None:
    """A personal preference, not a decision: no audit entry."""
    if locale not in LANGUAGES:
        raise InvalidInput(f"language must be one of {', '.join(LANGUAGES)}", {"locale": "unknown"})
    user.locale = locale


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = user_by_email(session, email)
    if user is None:
        password_matches(_DUMMY_HASH, password)
        return None
    if not user.active or not password_matches(user.password_hash, password):
        return None
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, user: User, label: str = "") -> str:
    """Store a new token's digest and return the token itself (shown once, never again)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, label=label, token_hash=_token_digest(token)))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    api_token = session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == _token_digest(token), ApiToken.revoked_at.is_(None)
        )
    )
    if api_token is None or not api_token.user.active:
        return None
    api_token.last_used_at = now_utc()
    return api_token.user


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0
