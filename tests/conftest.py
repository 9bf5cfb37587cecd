"""Fixtures: an app per test on a fresh database (SQLite, and PostgreSQL where the behaviour is
database-specific), a small cast of users with tokens, a dispatcher, a real webhook receiver."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from calendar_app import accounts, create_app
from calendar_app.accounts import create_token, create_user
from calendar_app.db import Database
from calendar_app.dispatch import Dispatcher
from calendar_app.extensions import get_db
from calendar_app.migrate import upgrade
from calendar_app.timeutil import iso_utc, now_utc
from config import Config

# The browser tests' shared fixtures: Debian's Chromium and a team in the middle of a crisis.
from tests.support.bluesky import bluesky_server  # noqa: F401
from tests.support.browser import browser, live_site  # noqa: F401
from tests.support.crisis_team import crisis_team  # noqa: F401
from tests.support.mailbox import Mailbox
from tests.support.postgres import DatabasePool, PostgresServer, find_bin_dir
from tests.support.receiver import Receiver
from tests.support.routes import compile_url_builders_when_used
from tests.support.templates import kept_folder, made_once

PASSWORD = "correct horse battery"
ROLES = {
    "planner": "planner",
    "planner2": "planner",
    "head": "head",
    "head2": "head",
    "admin": "admin",
}
_db_numbers = itertools.count()

# The suite makes thousands of people and logins: at the app's Argon2 cost that was minutes of
# it. Hashes keep their parameters, so what the tests store is verified as cheaply, also by a
# served app in another process; test_cli checks that the app itself hashes at the full cost.
accounts.hash_cheaply_for_tests()
compile_url_builders_when_used()


# --- databases ---------------------------------------------------------------------------------
# Each engine gets one template database per session: migrated, with the cast of users and their
# tokens already in it. Every test gets a fresh copy of it (on PostgreSQL, from DatabasePool).


@dataclass(frozen=True)
class Cast:
    tokens: dict[str, str]
    ids: dict[str, int]


def seed_cast(url: str) -> Cast:
    tokens, ids = {}, {}
    db = Database(url)
    try:
        with db.transaction() as session:
            for name, role in ROLES.items():
                user = create_user(
                    session, f"{name}@example.org", role=role, password=PASSWORD, name=name.title()
                )
                tokens[name] = create_token(session, user, "tests")
                ids[name] = user.id
    finally:
        db.dispose()
    return Cast(tokens, ids)


@dataclass(frozen=True)
class SeededDatabase:
    url: str
    cast: Cast


def migrated_and_seeded(url: str) -> dict[str, Any]:
    upgrade(url)
    return asdict(seed_cast(url))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Cast]:
    folder = kept_folder() or tmp_path_factory.mktemp("template")
    path = folder / "template.db"
    return path, Cast(**made_once("sqlite", lambda: migrated_and_seeded(f"sqlite:///{path}")))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[tuple[PostgresServer, Cast]]:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed; .ci/run installs it (make system-deps)")
        pytest.skip("PostgreSQL binaries not found (run `make system-deps`)")
    server = PostgresServer.shared(bin_dir) or PostgresServer(bin_dir).start()
    kept = kept_folder() is not None and not server.owned
    # one per session, unless the run keeps it: a shared server serves many sessions
    server.template = "calendar_template_kept" if kept else f"calendar_template_{os.getpid()}"

    def make() -> dict[str, Any]:
        server.create_database(server.template)
        return migrated_and_seeded(server.url(server.template))

    cast = Cast(**made_once("postgres", make)) if kept else Cast(**make())
    yield server, cast
    if not kept:
        server.drop_database(server.template)
    server.stop()


@pytest.fixture
def sqlite_db(sqlite_template: tuple[Path, Cast], tmp_path: Path) -> SeededDatabase:
    template, cast = sqlite_template
    path = tmp_path / "calendar.db"
    shutil.copy(template, path)
    return SeededDatabase(f"sqlite:///{path}", cast)


@pytest.fixture(scope="session")
def pg_pool(pg_server: tuple[PostgresServer, Cast]) -> Iterator[DatabasePool]:
    server, _cast = pg_server
    pool = DatabasePool(server, server.template)
    yield pool
    pool.close()


@pytest.fixture
def postgres_db(
    pg_server: tuple[PostgresServer, Cast], pg_pool: DatabasePool
) -> Iterator[SeededDatabase]:
    _server, cast = pg_server
    name = f"calendar_test_{os.getpid()}_{next(_db_numbers)}"
    url = pg_pool.take(name)
    yield SeededDatabase(url, cast)
    pg_pool.give_back(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> SeededDatabase:
    """Both engines, for behaviour that depends on the database."""
    return request.getfixturevalue(f"{request.param}_db")


@pytest.fixture
def sqlite_url(sqlite_db: SeededDatabase) -> str:
    return sqlite_db.url


@pytest.fixture
def database_url(database: SeededDatabase) -> str:
    return database.url


# --- the app -----------------------------------------------------------------------------------

# A Fernet key for channel secrets, so configs switched to production in a test still start.
CHANNEL_KEY = "urXUD2hNWA8eafyK6OjBoXzSd3M0YhJWiVE_h0HbkVk="
TEST_SETTINGS: dict[str, Any] = {
    "ENV": "testing",
    "SECRET_KEY": "test-secret-key",
    "CHANNEL_SECRETS_KEY": CHANNEL_KEY,
    "WEBHOOK_TIMEOUT_SECONDS": 2.0,
    "WEBHOOK_BACKOFF_SECONDS": 0.05,
    "DECLARE_WAIT_SECONDS": 10.0,
}


def make_config(database_url: str, instance: Path, **overrides: Any) -> Config:
    settings = {**TEST_SETTINGS, **overrides}
    return replace(Config(), DATABASE_URL=database_url, INSTANCE_PATH=instance, **settings)


@pytest.fixture
def config_overrides() -> dict[str, Any]:
    """Override in a test module to change settings."""
    return {}


def _app(url: str, tmp_path: Path, overrides: dict[str, Any]) -> Iterator[Flask]:
    app = create_app(make_config(url, tmp_path, **overrides))
    yield app
    get_db(app).dispose()


@pytest.fixture
def app(
    sqlite_db: SeededDatabase, tmp_path: Path, config_overrides: dict[str, Any]
) -> Iterator[Flask]:
    """The app on SQLite: for behaviour that does not depend on the database."""
    yield from _app(sqlite_db.url, tmp_path, config_overrides)


@pytest.fixture
def any_app(
    database: SeededDatabase, tmp_path: Path, config_overrides: dict[str, Any]
) -> Iterator[Flask]:
    """The app on SQLite and on PostgreSQL."""
    yield from _app(database.url, tmp_path, config_overrides)


# --- people and the API ------------------------------------------------------------------------


class Api:
    """The JSON API as one user sees it: `api.head.post("/crisis", json=...)`."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open("/api/v1" + path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self._call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self._call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self._call("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self._call("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self._call("DELETE", path, **kwargs)


@dataclass
class Team:
    app: Flask
    client: FlaskClient
    tokens: dict[str, str]
    ids: dict[str, int]

    def __getattr__(self, name: str) -> Api:
        if name == "anonymous":
            return Api(self.client, None)
        if name in self.tokens:
            return Api(self.client, self.tokens[name])
        raise AttributeError(name)

    def email(self, name: str) -> str:
        return f"{name}@example.org"

    # Shortcuts for the workflow, all through the public API.
    def channel(
        self,
        name: str = "Outbox",
        *,
        kind: str = "outbox",
        network: str = "other",
        config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        response = self.admin.post(
            "/channels",
            json={"name": name, "kind": kind, "network": network, "config": config or {}},
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def image(self, who: str = "planner") -> dict[str, Any]:
        """A small uploaded PNG, for a post that needs an image (Instagram)."""
        from io import BytesIO

        from PIL import Image

        png = BytesIO()
        Image.new("RGB", (32, 24), "teal").save(png, "PNG")
        response = getattr(self, who).post(
            "/media", data={"file": (BytesIO(png.getvalue()), "bild.png")}
        )
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def draft(
        self,
        channels: list[int],
        *,
        at: datetime | None = None,
        author: str = "planner",
        **fields: Any,
    ) -> dict[str, Any]:
        payload = {
            "body": "Wir laden ein zum Tag der offenen Tür.",
            "channels": channels,
            "publish_at": iso_utc(at or now_utc() + timedelta(days=1)),
            **fields,
        }
        response = getattr(self, author).post("/posts", json=payload)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    def scheduled(
        self,
        channels: list[int],
        *,
        at: datetime | None = None,
        author: str = "planner",
        approver: str = "head",
        **fields: Any,
    ) -> dict[str, Any]:
        post = self.draft(channels, at=at, author=author, **fields)
        submitted = getattr(self, author).post(f"/posts/{post['id']}/submit")
        assert submitted.status_code == 200, submitted.get_json()
        approved = getattr(self, approver).post(f"/posts/{post['id']}/approve")
        assert approved.status_code == 200, approved.get_json()
        return approved.get_json()

    def crisis_response(
        self, channels: list[int], *, at: datetime | None = None, **fields: Any
    ) -> dict[str, Any]:
        """A response to the crisis in force, written and approved by a head (responses are
        exempt from the four-eyes rule)."""
        return self.scheduled(
            channels, at=at, author="head", approver="head", crisis_response=True, **fields
        )

    def post(self, post_id: int) -> dict[str, Any]:
        response = self.head.get(f"/posts/{post_id}")
        assert response.status_code == 200
        return response.get_json()


@pytest.fixture
def team(app: Flask, sqlite_db: SeededDatabase) -> Team:
    """planner, planner2, head, head2 and admin, each with an API token, on SQLite."""
    return Team(app, app.test_client(), sqlite_db.cast.tokens, sqlite_db.cast.ids)


@pytest.fixture
def any_team(any_app: Flask, database: SeededDatabase) -> Team:
    """The same cast on SQLite and on PostgreSQL."""
    return Team(any_app, any_app.test_client(), database.cast.tokens, database.cast.ids)


# --- the scheduler and the outside world -------------------------------------------------------


class Clock:
    """A dispatcher's clock that a test can move; starts at the real time."""

    def __init__(self) -> None:
        self.now = now_utc()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def make_dispatcher() -> Iterator[Any]:
    made: list[Dispatcher] = []

    def make(app: Flask, **kwargs: Any) -> Dispatcher:
        dispatcher = Dispatcher(get_db(app), app.config["CALENDAR"], **kwargs)
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        dispatcher.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def background() -> Iterator[Callable[..., Future]]:
    """Run a callable in its own thread (one party of a forced interleaving); the test joins it
    with `.result()`."""
    pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="party")
    yield pool.submit
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    """A real SMTP server on loopback."""
    server = Mailbox().start()
    yield server
    server.stop()


# --- the order of the modules ------------------------------------------------------------------
# `make test` hands whole modules to its workers in the order collected. The longest go first,
# so that no worker is left running one of them alone at the end (each takes one to three
# minutes; the rest of the suite is many short modules that fill in around them).
LONGEST_FIRST = (
    "test_ui_accessibility.py",
    "test_scale_out.py",
    "test_delivery_state_machine.py",
    "test_cli.py",
    "test_ui_layout.py",
    "test_early_warning.py",
    "test_crisis_concurrency.py",
    "test_bluesky.py",
    "test_bluesky_listening.py",
    "test_api_roles.py",
    "test_security.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each module keeps its own order
