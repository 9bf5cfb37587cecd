"""An AT Protocol account over XRPC: requests through calendar_app/outbound.py (address policy,
total deadline), and its session kept between requests.

Signing in (`com.atproto.server.createSession`) is rate-limited per account (30 in 5 minutes
on Bluesky's PDSes), so a login per request would be refused. A session is kept per channel in
this process, keyed by channel, service, handle and a hash of the password (a changed password
signs in again), renewed with `refreshSession` when the PDS says the access token expired, and
made anew only when there is none or the refresh is refused. One lock per account, so senders
working at once sign in once between them.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from calendar_app import outbound
from calendar_app.networks.base import (
    REVOKED,
    Answer,
    NetworkError,
    answered_http,
    ask,
    rate_limited,
    refused_with_words,
)
from calendar_app.networks.mastodon import parse_time
from calendar_app.outbound import OutboundPolicy, retry_after_seconds
from calendar_app.words import Text, _l

# What the PDS calls an access token that must be renewed (refreshSession, else createSession).
STALE_TOKEN = frozenset({"ExpiredToken", "InvalidToken"})
# What it calls credentials that only a person can fix.
REFUSED_ACCOUNT = frozenset(
    {"AuthenticationRequired", "AccountTakedown", "AccountDeactivated", "InvalidPassword"}
)


def rate_limit_wait(headers: httpx.Headers, now: datetime | None = None) -> float | None:
    """Seconds until the rate limit resets (`ratelimit-reset`, epoch seconds), else
    Retry-After, else None."""
    reset = parse_time(headers.get("ratelimit-reset"))
    if reset is not None:
        return max(0.0, (reset - (now or datetime.now(UTC))).total_seconds())
    return retry_after_seconds(headers.get("Retry-After"))


@dataclass(frozen=True)
class Account:
    """Who a channel signs in as, and the key its session is kept under."""

    service: str
    handle: str
    password: str

    def key(self, channel_id: int | None) -> tuple[Any, ...]:
        digest = hashlib.sha256(self.password.encode()).hexdigest()
        return (channel_id, self.service, self.handle, digest)


@dataclass(frozen=True)
class Session:
    did: str
    handle: str
    access: str
    refresh: str


class AtprotoClient:
    """XRPC requests of any number of accounts, with their sessions kept (thread-safe)."""

    def __init__(self, *, timeout: float, policy: OutboundPolicy, user_agent: str) -> None:
        self.timeout = timeout
        self.policy = policy
        self.user_agent = user_agent
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._sessions: dict[tuple[Any, ...], Session] = {}
        self._account_locks: dict[tuple[Any, ...], threading.Lock] = {}

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = outbound.make_client(
                    self.policy, user_agent=self.user_agent, timeout=self.timeout
                )
            return self._client

    def request(
        self,
        method: str,
        service: str,
        nsid: str,
        *,
        deadline: float,
        token: str | None = None,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> Answer:
        """One XRPC request, finished by `deadline` (networks/base.ask)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if content_type:
            headers["Content-Type"] = content_type
        return ask(
            self.client, method, f"{service}/xrpc/{nsid}", deadline=deadline,
            params=params, json=json_body, content=content, headers=headers,
        )  # fmt: skip

    def refusal(self, answer: Answer, doing: Text) -> NetworkError:
        """What an answer other than 200 means for a request that needed the account."""
        reason = answered_http("Bluesky", answer.status)
        if answer.status == 429:
            return NetworkError(
                rate_limited(reason),
                status=429,
                retry_after=rate_limit_wait(answer.headers),
            )
        if answer.status >= 500:
            return NetworkError(
                reason,
                status=answer.status,
                retry_after=retry_after_seconds(answer.headers.get("Retry-After")),
            )
        if answer.status in (401, 403) or answer.error in REFUSED_ACCOUNT:
            return NetworkError(REVOKED, final=True, status=answer.status, tell_owners=True)
        own = answer.message or answer.error
        return NetworkError(
            refused_with_words("Bluesky", doing, own) if own else reason,
            final=True,
            status=answer.status,
        )

    # --- the session ---------------------------------------------------------------------------

    def _account_lock(self, key: tuple[Any, ...]) -> threading.Lock:
        with self._lock:
            return self._account_locks.setdefault(key, threading.Lock())

    def _locked(self, key: tuple[Any, ...], deadline: float) -> threading.Lock:
        lock = self._account_lock(key)
        if not lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise NetworkError(_l("not started: the channel's sign-in took until the deadline"))
        return lock

    def session(self, account: Account, key: tuple[Any, ...], deadline: float) -> Session:
        """The kept session, or a new one (createSession) when there is none."""
        session = self._sessions.get(key)
        if session is not None:
            return session
        lock = self._locked(key, deadline)
        try:
            session = self._sessions.get(key)
            if session is None:
                session = self.sign_in(account, deadline)
                self._sessions[key] = session
            return session
        finally:
            lock.release()

    def renew(
        self, account: Account, key: tuple[Any, ...], stale: Session, deadline: float
    ) -> Session:
        """A session after `stale` was refused: another sender's renewal, else refreshSession,
        else createSession."""
        lock = self._locked(key, deadline)
        try:
            current = self._sessions.get(key)
            if current is not None and current != stale:
                return current
            self._sessions.pop(key, None)
            answer = self.request(
                "POST", account.service, "com.atproto.server.refreshSession",
                deadline=deadline, token=stale.refresh,
            )  # fmt: skip
            if answer.status == 200 and isinstance(answer.body, dict):
                session = self.session_from(answer.body, stale)
            elif answer.status == 429 or answer.status >= 500:
                raise self.refusal(answer, _l("the sign-in"))
            else:  # the refresh token expired or was revoked: sign in again
                session = self.sign_in(account, deadline)
            self._sessions[key] = session
            return session
        finally:
            lock.release()

    def sign_in(self, account: Account, deadline: float) -> Session:
        answer = self.request(
            "POST", account.service, "com.atproto.server.createSession",
            deadline=deadline,
            json_body={"identifier": account.handle, "password": account.password},
        )  # fmt: skip
        if answer.status != 200 or not isinstance(answer.body, dict):
            raise self.refusal(answer, _l("the sign-in"))
        return self.session_from(answer.body)

    @staticmethod
    def session_from(body: dict[str, Any], before: Session | None = None) -> Session:
        try:
            return Session(
                did=str(body["did"]),
                handle=str(body.get("handle") or (before.handle if before else "")),
                access=str(body["accessJwt"]),
                refresh=str(body["refreshJwt"]),
            )
        except KeyError:
            raise NetworkError(
                _l("Bluesky's sign-in answer lacks the session"), final=True
            ) from None

    def call(
        self,
        account: Account,
        key: tuple[Any, ...],
        method: str,
        nsid: str,
        *,
        deadline: float,
        **kwargs: Any,
    ) -> tuple[Answer, Session]:
        """A request as the account, renewing the session once if the PDS refuses its token."""
        session = self.session(account, key, deadline)
        answer = self.request(
            method, account.service, nsid, deadline=deadline, token=session.access, **kwargs
        )
        if answer.error in STALE_TOKEN or answer.status == 401:
            session = self.renew(account, key, session, deadline)
            answer = self.request(
                method, account.service, nsid, deadline=deadline, token=session.access, **kwargs
            )
        return answer, session

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
