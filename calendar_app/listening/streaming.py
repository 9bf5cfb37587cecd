"""Mastodon streaming: what is said to a Mastodon account arrives within a second, not at the
next poll. Polling (listener.py) stays the fallback and the way to catch up.

**The choice: long-lived readers started with the scheduler**, not bounded streaming passes
inside the listen job. A pass that streams for a bounded time would keep one of the scheduler's
few job threads busy for all of it and, with one pass for all channels, make one channel wait
for another; a reader per stream waits on its own socket and costs nothing while it is quiet.
So `Streams` (started with the scheduler, once per `serve` or `scheduler` process, stopped
with it) keeps one reader thread per channel and stream: the user stream (its notifications:
mentions and quotes) and one per watched hashtag (`/api/v1/streaming/hashtag?tag=`), since
each Server-Sent-Events stream is an HTTP response of its own. The scheduler's `streams` job
calls `Streams.sync()` every few seconds: readers start for new channels and hashtags and stop
for deactivated or changed ones.

**Nothing lost, nothing doubled.** A reader stores what arrives at once, through the same
`listener.keep` as a poll: insert-if-absent on (channel, network id), and the source's cursor
(the same one polling keeps: a notification id, a status id) moved forward only. Every time a
stream is (re)connected, once the server has answered (from then on it queues events for us),
the reader first reads the source from its stored cursor like a poll (`catch-up`), then takes
the stream's events. So what was posted while no stream was open (a dropped connection, a
restart, a deploy) comes in by the catch-up, what arrives twice (by catch-up and stream, or by
two processes' readers) is stored once, and the cursor never goes back.

**Several schedulers** each stream on their own; every item is stored once by the
insert-if-absent. **Polling as fallback**: while a source is streamed in this process
(`Streams.live`), the listen job leaves it alone; a server without streaming (no streaming
address in its instance information and no `/api/v1/streaming/health`, or a stream that answers
404) is polled every `LISTEN_INTERVAL_SECONDS`, and asked again about streaming every
`OFF_RETRY_SECONDS`; a broken stream is polled by the job while its reader reconnects with a
growing pause. Search terms have no stream and are always polled.

Every connection goes through the outbound policy (`outbound.make_client`: address checks,
no redirects, no proxies from the environment), with the channel's token. A stream is taken for
broken when nothing (not even the server's heartbeat comment) came for `QUIET_SECONDS`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from httpx_sse import EventSource, SSEError

from calendar_app import outbound
from calendar_app.db import Database
from calendar_app.listening.listener import Source, keep, position, sources
from calendar_app.listening.mastodon import (
    NOTIFICATIONS,
    TAG_PREFIX,
    Page,
    heard_in_event,
    own_account_id,
    read_source,
)
from calendar_app.networks.base import REVOKED, NetworkError
from calendar_app.networks.mastodon import USER_AGENT, MastodonPublisher, base_url
from calendar_app.networks.secrets import SecretUnreadable
from calendar_app.outbound import status_reason

log = logging.getLogger(__name__)

# Mastodon sends a heartbeat comment about every 15 seconds: this long without a byte is a
# broken connection.
QUIET_SECONDS = 60.0
# The pause before reconnecting a broken stream starts here and doubles up to the maximum.
RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 60.0
# A server without streaming is asked again this often (an operator may switch it on).
OFF_RETRY_SECONDS = 300.0
# How often the scheduler's `streams` job starts and stops readers.
SYNC_SECONDS = 5.0


class StreamingOff(Exception):
    """The server offers no stream for this source: poll it."""


def streaming_base(publisher: MastodonPublisher, config: dict[str, Any], deadline: float) -> str:
    """Where the server's streaming API is: the address its instance information names
    (`configuration.urls.streaming`, v1 `urls.streaming_api`; ws(s):// as http(s)://), else the
    server itself if `/api/v1/streaming/health` answers there."""
    for path in ("/api/v2/instance", "/api/v1/instance"):
        answer = publisher._call("GET", config, path, deadline=deadline)
        if answer.status != 200 or not isinstance(answer.body, dict):
            continue
        urls = (answer.body.get("configuration") or {}).get("urls") or answer.body.get("urls")
        named = (urls or {}).get("streaming") or (urls or {}).get("streaming_api")
        if isinstance(named, str) and named.strip():
            parts = urlsplit(named.strip())
            scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
            if scheme in ("http", "https") and parts.netloc:
                return f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        break
    health = publisher._call("GET", config, "/api/v1/streaming/health", deadline=deadline)
    if health.status != 200:
        raise StreamingOff(f"no streaming API (health answered {status_reason(health.status)})")
    return base_url(config)


def stream_request(source: str) -> tuple[str, dict[str, str]]:
    """The streaming path and query of a source."""
    if source == NOTIFICATIONS:
        return "/api/v1/streaming/user", {}
    if source.startswith(TAG_PREFIX):
        return "/api/v1/streaming/hashtag", {"tag": source.removeprefix(TAG_PREFIX)}
    raise StreamingOff(f"{source} has no stream")


def streamable(source: Source) -> list[str]:
    return [s for s in source.mastodon_sources() if s == NOTIFICATIONS or s.startswith(TAG_PREFIX)]


@dataclass
class ReaderState:
    """What a reader did so far (for the logs, the tests and the operator)."""

    connections: int = 0  # streams opened (each followed by a catch-up)
    events: int = 0  # events taken from the stream and dealt with (heartbeats not counted)
    stored: int = 0  # items stored, by catch-ups and the stream
    off: bool = False  # the server offers no stream: the source is polled
    error: str | None = None


class StreamReader(threading.Thread):
    """One channel's stream of one source, kept open until stopped."""

    def __init__(
        self,
        db: Database,
        publisher: MastodonPublisher,
        channel_id: int,
        config: dict[str, Any],
        source: str,
        *,
        retry_seconds: float = RETRY_SECONDS,
        quiet_seconds: float = QUIET_SECONDS,
    ) -> None:
        super().__init__(name=f"stream-{channel_id}-{source}", daemon=True)
        self.db = db
        self.publisher = publisher
        self.channel_id = channel_id
        self.config = config
        self.source = source
        self.retry_seconds = retry_seconds
        self.quiet_seconds = quiet_seconds
        self.state = ReaderState()
        self._live = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None

    @property
    def live(self) -> bool:
        """The stream is open and the catch-up after opening it is done."""
        return self._live.is_set()

    def stop(self) -> None:
        """End the reader: its socket is shut, so a read waiting on it returns at once."""
        self._stopping.set()
        with self._lock:
            sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        pause = self.retry_seconds
        while not self._stopping.is_set():
            try:
                if self._read():
                    pause = self.retry_seconds  # it was open: the next break starts afresh
                wait = pause
                pause = min(pause * 2, MAX_RETRY_SECONDS)
            except StreamingOff as exc:
                self.state.off, self.state.error = True, str(exc)
                wait = OFF_RETRY_SECONDS
                log.info("channel %s %s: polled (%s)", self.channel_id, self.source, exc)
            except NetworkError as exc:
                self.state.error = exc.reason
                wait = OFF_RETRY_SECONDS if exc.final else pause
                pause = min(pause * 2, MAX_RETRY_SECONDS)
                log.warning("stream of channel %s %s: %s", self.channel_id, self.source, exc)
            except Exception as exc:  # the database, a bug: the reader must not die of it
                self.state.error = str(exc) or type(exc).__name__
                wait = pause
                pause = min(pause * 2, MAX_RETRY_SECONDS)
                log.exception("stream of channel %s %s failed", self.channel_id, self.source)
            finally:
                self._live.clear()
                with self._lock:
                    self._socket = None
            if self._stopping.wait(wait):
                break

    # --- one connection ------------------------------------------------------------------------

    def _read(self) -> bool:
        """Open the stream, catch up from the cursor, then store what arrives until the stream
        ends. True when the stream was open (and then broke or was stopped)."""
        path, params = stream_request(self.source)
        deadline = time.monotonic() + self.publisher.timeout
        base = streaming_base(self.publisher, self.config, deadline)
        own_id = own_account_id(self.publisher, self.config, deadline)
        try:
            token = self.publisher._token(self.config)
        except SecretUnreadable as exc:
            raise NetworkError(str(exc), final=True) from None
        timeout = httpx.Timeout(self.publisher.timeout, read=self.quiet_seconds)
        client = outbound.make_client(
            self.publisher.policy, user_agent=USER_AGENT, timeout=self.publisher.timeout
        )
        try:
            with client.stream(
                "GET", base + path, params=params, timeout=timeout,
                headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"},
            ) as response:  # fmt: skip
                self._check(response)
                self._hold_socket(response)
                if self._stopping.is_set():
                    return True
                self.state.off = False
                self.state.connections += 1
                self.state.error = None
                self._catch_up(own_id)
                self._live.set()
                self._take(EventSource(response), own_id)
                return True
        except (httpx.HTTPError, SSEError) as exc:
            if self._stopping.is_set():
                return True
            raise NetworkError(f"the stream broke: {exc or type(exc).__name__}") from None
        finally:
            client.close()

    def _check(self, response: httpx.Response) -> None:
        if response.status_code == 404:
            raise StreamingOff("the server answered 404 to the stream")
        if response.status_code in (401, 403):
            raise NetworkError(REVOKED, final=True, status=response.status_code)
        if response.status_code != 200:
            raise NetworkError(
                f"the stream answered HTTP {status_reason(response.status_code)}",
                status=response.status_code,
            )

    def _hold_socket(self, response: httpx.Response) -> None:
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        with self._lock:
            self._socket = sock if isinstance(sock, socket.socket) else None

    def _catch_up(self, own_id: str) -> None:
        """What came while no stream was open, read from the stored cursor."""
        cursor = position(self.db, self.channel_id, self.source)
        page = read_source(self.publisher, self.config, self.source, cursor, own_id=own_id)
        self.state.stored += len(keep(self.db, self.channel_id, self.source, page))

    def _take(self, events: EventSource, own_id: str) -> None:
        for event in events.iter_sse():
            if self._stopping.is_set():
                return
            try:
                payload = json.loads(event.data) if event.data else None
            except ValueError:
                payload = None
            heard, reached = heard_in_event(
                self.config, self.source, event.event, payload, own_id=own_id
            )
            if heard is not None or reached is not None:
                page = Page([heard] if heard is not None else [], reached)
                self.state.stored += len(keep(self.db, self.channel_id, self.source, page))
            self.state.events += 1


class Streams:
    """The stream readers of one process: started by `sync()`, ended by `stop()`."""

    def __init__(
        self,
        db: Database,
        publishers: Mapping[str, Any],
        *,
        retry_seconds: float = RETRY_SECONDS,
        quiet_seconds: float = QUIET_SECONDS,
    ) -> None:
        self.db = db
        self.publishers = publishers
        self.retry_seconds = retry_seconds
        self.quiet_seconds = quiet_seconds
        self._readers: dict[tuple[int, str], StreamReader] = {}
        self._lock = threading.Lock()
        self._stopped = False

    def sync(self) -> None:
        """Readers for every streamable source of the active Mastodon channels; readers of
        channels gone, deactivated or changed (another server, another token) are stopped."""
        publisher = self.publishers.get("mastodon")
        if not isinstance(publisher, MastodonPublisher):
            return
        wanted = {
            (source.channel_id, name): source.config
            for source in sources(self.db, ("mastodon",))
            for name in streamable(source)
        }
        with self._lock:
            if self._stopped:
                return
            for key, reader in list(self._readers.items()):
                if wanted.get(key) != reader.config or not reader.is_alive():
                    reader.stop()
                    del self._readers[key]
            for key, config in wanted.items():
                if key not in self._readers:
                    reader = StreamReader(
                        self.db, publisher, key[0], config, key[1],
                        retry_seconds=self.retry_seconds, quiet_seconds=self.quiet_seconds,
                    )  # fmt: skip
                    self._readers[key] = reader
                    reader.start()

    def live(self, channel_id: int, source: str) -> bool:
        """Whether this source is streamed now (the listen job leaves it alone)."""
        with self._lock:
            reader = self._readers.get((channel_id, source))
        return reader is not None and reader.live

    def reader(self, channel_id: int, source: str) -> StreamReader | None:
        with self._lock:
            return self._readers.get((channel_id, source))

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._stopped = True
            readers = list(self._readers.values())
            self._readers.clear()
        for reader in readers:
            reader.stop()
        for reader in readers:
            reader.join(timeout)
