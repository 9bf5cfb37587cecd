"""Failed logins: a budget per account and per client address, with a growing delay, never a lock.

Each account (the e-mail address typed, known or not) and each client address gets a few failed
logins for free (`LOGIN_LIMIT_PER_ACCOUNT`, `LOGIN_LIMIT_PER_ADDRESS`, e.g. `10 per 15 minutes`:
ten failures, forgotten 15 minutes after the last one). From then on every failure delays the
next try: LOGIN_DELAY_SECONDS, doubled with each further failure, at most LOGIN_MAX_DELAY_SECONDS.
While a delay runs, a login for that account or from that address is answered 429 with
Retry-After, without looking at the password: the answer must not tell a guesser whether the
guess was right, and a refused try does not count, so an attacker who keeps hammering only keeps
their own address waiting. Once the delay is over, the right password works.

A successful login clears its account's budget; `calendar-app users unlock EMAIL` does the same
for an admin (a head locked out by someone else's guessing during a crisis). The budgets live in
the database, so every web process counts together.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from limits import parse
from sqlalchemy import case, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from calendar_app.accounts import normalise_email
from calendar_app.models import LoginBudget
from config import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Allowance:
    """Failures that cost nothing, and how long after the last failure they are forgotten."""

    free: int
    forget_after: timedelta

    @classmethod
    def parse(cls, rate: str) -> Allowance:
        item = parse(rate)
        return cls(free=item.amount, forget_after=timedelta(seconds=item.get_expiry()))


@dataclass(frozen=True)
class LoginBudgets:
    per_account: Allowance
    per_address: Allowance
    first_delay: timedelta
    max_delay: timedelta

    @classmethod
    def from_config(cls, config: Config) -> LoginBudgets:
        return cls(
            per_account=Allowance.parse(config.LOGIN_LIMIT_PER_ACCOUNT),
            per_address=Allowance.parse(config.LOGIN_LIMIT_PER_ADDRESS),
            first_delay=timedelta(seconds=config.LOGIN_DELAY_SECONDS),
            max_delay=timedelta(seconds=config.LOGIN_MAX_DELAY_SECONDS),
        )

    def delay(self, failures: int, allowance: Allowance) -> timedelta:
        """The wait after the `failures`-th failure in a row: none within the allowance."""
        if failures < allowance.free:
            return timedelta(0)
        doublings = min(failures - allowance.free, 32)  # 2**32 first delays: far past any cap
        return min(self.max_delay, self.first_delay * 2**doublings)


def account_key(email: str) -> str:
    return "account:" + normalise_email(email)[:254]


def address_key(address: str | None) -> str:
    """One budget per IPv4 address, and per /64 for IPv6 (what one client usually holds)."""
    try:
        parsed = ipaddress.ip_address(address or "")
    except ValueError:
        return "address:" + (address or "unknown")[:100]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return "address:" + str(parsed.ipv4_mapped)
        return "address:" + str(ipaddress.IPv6Network(f"{parsed}/64", strict=False))
    return "address:" + str(parsed)


def seconds_to_wait(session: Session, keys: Sequence[str], now: datetime) -> int:
    """How long before a login may be tried for these budgets (0: now)."""
    delays = session.scalars(
        select(LoginBudget.delayed_until).where(
            LoginBudget.key.in_(keys), LoginBudget.delayed_until > now
        )
    ).all()
    if not delays:
        return 0
    return max(1, math.ceil((max(delays) - now).total_seconds()))


def record_failure(
    session: Session, budgets: LoginBudgets, *, email: str, address: str | None, now: datetime
) -> int:
    """Count a failed login against the account and the address; the seconds the next try
    has to wait (0: none yet)."""
    keys = (account_key(email), address_key(address))
    waits = [
        _count(session, budgets, keys[0], budgets.per_account, now),
        _count(session, budgets, keys[1], budgets.per_address, now),
    ]
    session.flush()
    if max(waits):  # worth an operator's eye: someone may be guessing passwords
        log.warning(
            "failed logins: %s waits %ds, %s waits %ds", keys[0], waits[0], keys[1], waits[1]
        )
    return max(waits)


def forget_account(session: Session, email: str) -> bool:
    """Clear an account's budget (a successful login, an admin's unlock). True if it had one."""
    result = session.execute(delete(LoginBudget).where(LoginBudget.key == account_key(email)))
    session.flush()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _count(
    session: Session, budgets: LoginBudgets, key: str, allowance: Allowance, now: datetime
) -> int:
    # Insert-if-missing, then one conditional increment: correct with several processes at once.
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(LoginBudget)
        .values(key=key, failures=0, last_failure_at=now, delayed_until=None)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    # A delay must never outlast the memory of what caused it, or waiting out the longest
    # delay would buy a fresh allowance.
    forget_after = max(allowance.forget_after, budgets.max_delay * 4)
    forgotten = LoginBudget.last_failure_at < now - forget_after
    session.execute(
        update(LoginBudget)
        .where(LoginBudget.key == key)
        .values(
            failures=case((forgotten, 1), else_=LoginBudget.failures + 1),
            last_failure_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    failures = session.scalar(select(LoginBudget.failures).where(LoginBudget.key == key)) or 1
    delay = budgets.delay(failures, allowance)
    session.execute(
        update(LoginBudget)
        .where(LoginBudget.key == key)
        .values(delayed_until=now + delay if delay else None)
        .execution_options(synchronize_session=False)
    )
    return math.ceil(delay.total_seconds())
