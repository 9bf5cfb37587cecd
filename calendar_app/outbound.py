"""Every HTTP request the app makes to the outside world goes through here.

Two promises, kept where the bytes move rather than where a URL is saved:

- **Where a request may go** (`OutboundPolicy`). In production an admin's webhook URL must not
  reach the app's own network: loopback, link-local, private, unique-local, multicast,
  unspecified, reserved and cloud-metadata addresses are refused, unless the host (or its
  address range) is listed in `WEBHOOK_ALLOWED_HOSTS`. The check runs on the addresses the host
  name resolves to at the moment of sending, and the connection is made to the address that was
  checked, so a name that resolves to a public address when the channel is saved and to
  127.0.0.1 later (DNS rebinding) is still refused. Redirects are never followed.
- **How long a request may take** (`deadline`). Inside `with deadline(at):` every socket
  operation (resolving, connecting, TLS, each write, each read, waiting for a pooled connection)
  gets at most the time left until `at`, so a receiver that trickles its answer one byte at a
  time cannot stretch a request past it. Past the deadline an `httpx.TimeoutException` is raised.

Both live in an httpcore network backend under an ordinary `httpx.Client` (`make_client`), so
connection pooling and keep-alive work as before.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cached_property
from http import HTTPStatus
from typing import Any

import httpcore
import httpx

from config import Config

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_HOSTS_SETTING = "WEBHOOK_ALLOWED_HOSTS"
# Cloud metadata services: refused even where private addresses are allowed (development),
# unless listed; no receiver of ours ever lives there.
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Keep-alive as before the policy existed: the dispatch pass reuses connections to a receiver.
MAX_CONNECTIONS = 64
MAX_KEEPALIVE_CONNECTIONS = 16
KEEPALIVE_EXPIRY_SECONDS = 5.0


class RefusedDestination(httpx.ConnectError):
    """The policy does not let a request go to this address: a final answer, never retried."""


# --- where a request may go --------------------------------------------------------------------


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64), where it carries one."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """An address on the public internet: not loopback, link-local, private, unique-local,
    multicast, unspecified, reserved or metadata, also when wrapped in an IPv6 address."""
    embedded = _embedded_ipv4(address)
    if embedded is not None and not is_public(embedded):
        return False
    return not (
        address in METADATA_ADDRESSES
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or not address.is_global
    )


def literal_address(host: str) -> IPAddress | None:
    """`host` as an IP address when it is one (`[::1]` too), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


@dataclass(frozen=True)
class OutboundPolicy:
    """Where outbound requests may go.

    `allow_private`: private and loopback addresses are fine (development and tests, so a
    receiver on the developer's machine works); metadata addresses still need a listing.
    `allowed_hosts`: host names (any address they resolve to) and IP addresses or networks
    that are allowed even though they are not public.
    """

    allow_private: bool = False
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_config(cls, config: Config) -> OutboundPolicy:
        return cls(allow_private=config.is_development, allowed_hosts=config.WEBHOOK_ALLOWED_HOSTS)

    def allowing(self, host: str) -> OutboundPolicy:
        """The same policy with one more host allowed (one the operator configured)."""
        return OutboundPolicy(self.allow_private, self.allowed_hosts | {host.lower().strip("[]")})

    @cached_property
    def _allowed_networks(self) -> tuple[IPNetwork, ...]:
        networks = []
        for entry in self.allowed_hosts:
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                continue
        return tuple(networks)

    def host_listed(self, host: str) -> bool:
        return host.lower().rstrip(".").strip("[]") in self.allowed_hosts

    def address_allowed(self, address: IPAddress) -> bool:
        embedded = _embedded_ipv4(address)
        candidates = (address,) if embedded is None else (address, embedded)
        if any(a in network for a in candidates for network in self._allowed_networks):
            return True
        if any(a in METADATA_ADDRESSES for a in candidates):
            return False
        return self.allow_private or is_public(address)

    def refusal(self, host: str, address: IPAddress) -> str:
        return (
            f"refused to connect to {host} ({address}): not a public address; list the host in "
            f"{ALLOWED_HOSTS_SETTING} to allow it"
        )

    def check_host(self, host: str, *, timeout: float = 2.0) -> str | None:
        """Why requests to `host` would be refused today (None: allowed, or not known until
        sending). For a clear answer when a URL is saved; sending checks again, every time."""
        if self.host_listed(host):
            return None
        address = literal_address(host)
        if address is not None:
            return None if self.address_allowed(address) else self.refusal(host, address)
        if self.allow_private:
            return None  # only metadata addresses are refused here: checked when sending
        try:
            infos = _resolve(host, 0, timeout)
        except (httpcore.ConnectError, httpcore.ConnectTimeout):
            return None
        for address in _addresses(infos):
            if not self.address_allowed(address):
                return self.refusal(host, address)
        return None


def status_reason(status: int) -> str:
    """`503 Service Unavailable`: the code and its standard phrase, nothing the receiver wrote
    (an answer's body may hold what the app must not show, e.g. an internal service's page)."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# --- how long a request may take ---------------------------------------------------------------

_deadline: ContextVar[float | None] = ContextVar("outbound_deadline", default=None)


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Every request made inside has finished by `at` (a `time.monotonic()` value) or fails
    with an `httpx.TimeoutException`. Nested deadlines keep the earlier one."""
    outer = _deadline.get()
    token = _deadline.set(at if outer is None else min(outer, at))
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining() -> float | None:
    """Seconds left until the current deadline (None: no deadline)."""
    at = _deadline.get()
    return None if at is None else at - time.monotonic()


def _clamp(timeout: float | None, error: type[Exception]) -> float | None:
    left = remaining()
    if left is None:
        return timeout
    if left <= 0:
        raise error("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


# Resolving a name cannot be given a timeout in the standard library; it runs here, and the
# caller waits at most until its deadline.
def _new_resolver() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="resolve")


_resolver = _new_resolver()


def _resolver_after_fork() -> None:
    """A forked process (a forking server with the app loaded first, a test runner) inherits
    the pool but not its threads: the pool would think its idle threads still there, queue
    every name and resolve none, and each send would time out. The child gets its own."""
    global _resolver
    _resolver = _new_resolver()


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere no process forks
    os.register_at_fork(after_in_child=_resolver_after_fork)


def _resolve(host: str, port: int, timeout: float | None) -> list[tuple[Any, ...]]:
    future = _resolver.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        raise httpcore.ConnectTimeout(f"resolving {host} took too long") from None
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc


def _addresses(infos: list[tuple[Any, ...]]) -> list[IPAddress]:
    return [ipaddress.ip_address(sockaddr[0].partition("%")[0]) for *_, sockaddr in infos]


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the deadline of the current request."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            self._sock.settimeout(_clamp(timeout, httpcore.ReadTimeout))
            return self._sock.recv(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc) or "read timed out") from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        view = memoryview(buffer)
        try:
            while view:
                self._sock.settimeout(_clamp(timeout, httpcore.WriteTimeout))
                sent = self._sock.send(view)
                view = view[sent:]
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc) or "write timed out") from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    def close(self) -> None:
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        try:
            self._sock.settimeout(_clamp(timeout, httpcore.ConnectTimeout))
            wrapped = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname)
        except TimeoutError as exc:
            self.close()
            raise httpcore.ConnectTimeout(str(exc) or "TLS handshake timed out") from exc
        except OSError as exc:
            self.close()
            raise httpcore.ConnectError(str(exc)) from exc
        return _DeadlineStream(wrapped)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock._sslobj  # type: ignore[attr-defined]  # as httpcore's own stream
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            return _is_readable(self._sock)
        return None


def _is_readable(sock: socket.socket) -> bool:
    """A pooled connection the server has closed (or sent something on) is not reused."""
    import select

    if sock.fileno() < 0:
        return True
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves, checks every address against the policy, connects to a checked address."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        infos = _resolve(host, port, _clamp(timeout, httpcore.ConnectTimeout))
        if not self.policy.host_listed(host):
            for address in _addresses(infos):
                if not self.policy.address_allowed(address):
                    raise RefusedDestination(self.policy.refusal(host, address))
        last_error: OSError | None = None
        for family, kind, proto, _name, sockaddr in infos:
            sock = socket.socket(family, kind, proto)
            try:
                for option in socket_options or ():
                    sock.setsockopt(*option)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if local_address is not None:
                    sock.bind((local_address, 0))
                sock.settimeout(_clamp(timeout, httpcore.ConnectTimeout))
                sock.connect(sockaddr)
            except TimeoutError as exc:
                sock.close()
                raise httpcore.ConnectTimeout(f"connecting to {host} timed out") from exc
            except OSError as exc:
                sock.close()
                last_error = exc
                continue
            return _DeadlineStream(sock)
        raise httpcore.ConnectError(f"cannot connect to {host}: {last_error}")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("outbound requests go over TCP only")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# --- httpx on top ------------------------------------------------------------------------------

# httpcore's errors as httpx's (most specific first), as httpx's own transport maps them.
_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except RefusedDestination:
        raise
    except Exception as exc:
        for core, mapped in _ERRORS:
            if isinstance(exc, core):
                raise mapped(str(exc)) from exc
        raise


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class GuardedTransport(httpx.BaseTransport):
    """httpx's HTTPTransport without proxies, on the guarded backend."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS,
            keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
            network_backend=_GuardedBackend(policy),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        extensions = dict(request.extensions)
        if remaining() is not None:  # waiting for a pooled connection counts as well
            timeouts = extensions.get("timeout", {})
            extensions["timeout"] = {
                kind: _clamp(value, httpx.PoolTimeout) for kind, value in timeouts.items()
            }
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=extensions,
        )
        with _as_httpx_errors():
            response = self._pool.handle_request(core_request)
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


def make_client(policy: OutboundPolicy, *, user_agent: str, timeout: float) -> httpx.Client:
    """An httpx client whose requests obey `policy` and the current `deadline()`; it never
    follows redirects and ignores proxy settings from the environment (they would bypass the
    address check)."""
    return httpx.Client(
        transport=GuardedTransport(policy),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": user_agent},
    )


__all__ = [
    "ALLOWED_HOSTS_SETTING",
    "OutboundPolicy",
    "RefusedDestination",
    "deadline",
    "is_public",
    "make_client",
    "remaining",
    "retry_after_seconds",
    "status_reason",
]
