"""Users, passwords and API tokens."""

from __future__ import annotations

import hashlib
import secrets
import string
from functools import cache
from importlib.resources import files

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from calendar_app.errors import Conflict, InvalidInput, NotFound
from calendar_app.models import MAX_ID, ApiToken, Role, User
from calendar_app.timeutil import now_utc
from calendar_app.words import _l

# OWASP ASVS 4.0 level 2: at least 12 characters; long passphrases welcome.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
TOKEN_PREFIX = "cal_"  # noqa: S105 (a prefix that makes leaked tokens greppable)
# How much of a token is kept in the clear to tell tokens apart: "cal_" and 8 of its 43 random
# characters (48 bits), far too few to guess the rest.
SHOWN_PREFIX_LENGTH = len(TOKEN_PREFIX) + 8

# Argon2id with argon2-cffi's parameters (RFC 9106's second choice: 64 MiB, 3 passes). A hash
# keeps its parameters, so a password is always verified at the cost it was hashed with.
STANDARD_HASHING = PasswordHasher()
_hasher = STANDARD_HASHING


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verifying against this keeps the time of a login for an unknown e-mail like a real one.
    Made on the first such login: every process would otherwise hash once at start."""
    return hasher.hash(secrets.token_hex(16))


def hash_cheaply_for_tests() -> None:
    """For the test suite alone: the same algorithm at the lowest cost, so that its thousands of
    people and logins do not spend minutes of the suite hashing. The app never calls this."""
    global _hasher
    _hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)


@cache
def common_passwords() -> frozenset[str]:
    """The 10,000 most common passwords (calendar_app/data/common-passwords.txt), lower-case."""
    text = files("calendar_app").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line)


def password_problem(password: str) -> str | None:
    """Why a password is refused, in words for the person choosing it; None: fine."""
    if not password.strip():
        return "must not be only spaces"
    if len(password) < MIN_PASSWORD_LENGTH:
        return (
            f"must be at least {MIN_PASSWORD_LENGTH} characters (a passphrase of a few words "
            "is easy to remember)"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters"
    folded = password.strip().lower()
    # "password1234", "iloveyou2024!": a common one with digits or punctuation added at the end.
    core = folded.rstrip(string.digits + string.punctuation + " ")
    common = common_passwords()
    if folded in common or core in common or len(set(folded)) < 3:
        return "is one of the most common passwords (a passphrase of a few words is safer)"
    return None


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
        problems["email"] = _l("is not an e-mail address")
    if role not in set(Role):
        problems["role"] = _l("must be one of %(role)s", role=", ".join(Role))
    if (problem := password_problem(password)) is not None:
        problems["password"] = problem
    if problems:
        raise InvalidInput(_l("the user cannot be created"), problems)
    if user_by_email(session, email) is not None:
        raise Conflict(
            _l("a user with e-mail %(email)s exists already", email=email),
            {"email": _l("is taken")},
        )
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
        raise InvalidInput(
            _l("language must be one of %(languages)s", languages=", ".join(LANGUAGES)),
            {"locale": _l("unknown")},
        )
    user.locale = locale


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = user_by_email(session, email)
    if user is None:
        password_matches(_dummy_hash(_hasher), password)
        return None
    if not user.active or not password_matches(user.password_hash, password):
        return None
    return user


def end_sessions(user: User) -> None:
    """Every browser session of this user ends, including copies of its cookie."""
    user.session_version = (user.session_version or 0) + 1


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(session: Session, user: User, label: str = "") -> str:
    """Store a new token's digest and return the token itself (shown once, never again)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id,
            label=label,
            token_hash=_token_digest(token),
            prefix=token[:SHOWN_PREFIX_LENGTH],
        )
    )
    session.flush()
    return token


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    )


def find_token(session: Session, id_or_prefix: str) -> ApiToken:
    """A token by its id, its shown prefix, or the whole token."""
    text = id_or_prefix.strip()
    if text.isdigit():
        found = session.get(ApiToken, int(text)) if int(text) <= MAX_ID else None
    elif len(text) > SHOWN_PREFIX_LENGTH:
        found = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(text)))
    elif len(text) == SHOWN_PREFIX_LENGTH:
        matches = list(session.scalars(select(ApiToken).where(ApiToken.prefix == text)).all())
        if len(matches) > 1:
            ids = ", ".join(str(t.id) for t in matches)
            raise Conflict(
                _l(
                    "%(count)s tokens start with %(text)s: use the id (%(ids)s)",
                    count=len(matches),
                    text=text,
                    ids=ids,
                )
            )
        found = matches[0] if matches else None
    else:
        raise InvalidInput(
            _l(
                "give a token id or the first %(shown_prefix_length)s characters of the token",
                shown_prefix_length=SHOWN_PREFIX_LENGTH,
            ),
            {"token": _l("neither an id nor a prefix")},
        )
    if found is None:
        raise NotFound(_l("no API token %(text)s", text=text))
    return found


def revoke_token(session: Session, api_token: ApiToken) -> ApiToken:
    """From now on the token is refused (401). Revoking twice keeps the first time."""
    if api_token.revoked_at is None:
        api_token.revoked_at = now_utc()
        session.flush()
    return api_token


def token_for(session: Session, token: str) -> ApiToken | None:
    """The stored token for a bearer token, revoked or not (None: no such token)."""
    return session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(token)))


def user_for_token(api_token: ApiToken | None) -> User | None:
    """The user a stored token (`token_for`) signs in; None when there is no such token, it
    was revoked, or the user is inactive."""
    if api_token is None or api_token.revoked_at is not None or not api_token.user.active:
        return None
    return api_token.user


def record_token_use(session: Session, token_id: int) -> None:
    """Last use, also of a revoked token and of a request that failed: it tells an admin that a
    token is still out there and being tried."""
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now_utc()))


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)) or 0
