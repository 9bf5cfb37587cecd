"""The `calendar-app` command, driven as a user or a script would: real processes, real HTTP."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from calendar_app.timeutil import iso_utc, now_utc
from tests.conftest import CHANNEL_KEY
from tests.support.postgres import free_port
from tests.support.receiver import Receiver

CLI = shutil.which("calendar-app") or str(Path(sys.executable).parent / "calendar-app")


def run_cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [CLI, *args], input=stdin, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def cli_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALENDAR_", "DATABASE_"))}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="cli-test-secret-of-at-least-32-bytes",
        CHANNEL_SECRETS_KEY=CHANNEL_KEY,
        CALENDAR_INSTANCE_PATH=str(tmp_path / "instance"),
        SCHEDULER_INTERVAL_SECONDS="0.2",
        # Production mode with the test's receiver on loopback: listed, as an operator would.
        WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
    )
    return env


@pytest.fixture
def fresh_env(tmp_path: Path) -> dict[str, str]:
    """A database that does not exist yet, as on a newcomer's machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALENDAR_", "DATABASE_"))}
    env.update(
        SECRET_KEY="cli-test-secret-of-at-least-32-bytes",
        CHANNEL_SECRETS_KEY=CHANNEL_KEY,
        CALENDAR_INSTANCE_PATH=str(tmp_path / "instance"),
        SCHEDULER_INTERVAL_SECONDS="0.2",
        # Production mode with the test's receiver on loopback: listed, as an operator would.
        WEBHOOK_ALLOWED_HOSTS="127.0.0.1",
    )
    return env


def make_users(env: dict[str, str]) -> dict[str, str]:
    tokens = {}
    for name, role in (
        ("planner", "planner"),
        ("head", "head"),
        ("head2", "head"),
        ("admin", "admin"),
    ):
        email = f"{name}@example.org"
        created = run_cli(
            env,
            "users",
            "create",
            email,
            "--role",
            role,
            "--password-stdin",
            stdin="a long enough password\n",
        )
        assert created.returncode == 0, created.stderr
        token = run_cli(env, "tokens", "create", email, "--label", "acceptance")
        assert token.returncode == 0, token.stderr
        assert len(token.stdout.splitlines()) == 1, "one line, nothing else on stdout"
        tokens[name] = token.stdout.strip()
    return tokens


@pytest.fixture
def server(fresh_env: dict[str, str]) -> Iterator[tuple[str, dict[str, str], dict[str, str]]]:
    assert run_cli(fresh_env, "db", "upgrade").returncode == 0
    tokens = make_users(fresh_env)
    port = free_port()
    process = subprocess.Popen(
        [CLI, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=fresh_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.1)
    yield base, tokens, fresh_env
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
        if process.stderr:
            process.stderr.close()


def wait_for(check, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.1)


def test_served_app_publishes_on_time_and_stops_in_a_crisis(server, receiver: Receiver) -> None:
    base, tokens, _env = server

    def client(name: str) -> httpx.Client:
        return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {tokens[name]}"})

    admin, planner, head, head2 = (client(n) for n in ("admin", "planner", "head", "head2"))
    assert httpx.get(base + "/health").json() == {"status": "ok"}
    assert planner.get("/crisis").json() == {"active": False}
    channel = admin.post(
        "/channels",
        json={
            "name": "Presse-Webhook",
            "kind": "webhook",
            "network": "mastodon",
            "config": {"url": receiver.url, "secret": "k"},
        },
    )
    assert channel.status_code == 201, channel.text
    assert "secret" not in channel.json().get("config", {})
    channel_id = channel.json()["id"]

    def plan(body: str, seconds: float, **extra) -> dict:
        at = iso_utc(now_utc() + timedelta(seconds=seconds))
        post = planner.post(
            "/posts", json={"body": body, "channels": [channel_id], "publish_at": at, **extra}
        )
        assert post.status_code == 201, post.text
        assert planner.post(f"/posts/{post.json()['id']}/submit").status_code == 200
        approved = head.post(f"/posts/{post.json()['id']}/approve")
        assert approved.status_code == 200, approved.text
        return approved.json()

    first = plan("Heute eröffnen wir die neue Ladesäule am Hafen.", 1)
    assert wait_for(lambda: planner.get(f"/posts/{first['id']}").json()["status"] == "published")
    assert [b["post_id"] for b in receiver.bodies()] == [first["id"]]

    declared = head.post("/crisis", json={"reason": "Störfall im Heizkraftwerk"})
    assert declared.status_code == 201, declared.text
    assert head2.post("/crisis", json={"reason": "noch einer"}).status_code == 409
    cheerful = plan("Gewinnspiel: Puppentheater-Karten zu gewinnen!", 0.5)
    assert wait_for(lambda: planner.get(f"/posts/{cheerful['id']}").json()["status"] == "held")
    time.sleep(0.5)
    assert len(receiver.snapshot()) == 1

    requested = head.post("/crisis/lift", json={"note": "Entwarnung"})
    assert requested.status_code == 202, requested.text  # two people lift a crisis
    lifted = head2.post("/crisis/lift/confirm")
    assert lifted.status_code == 200, lifted.text
    time.sleep(0.6)  # several scheduler ticks: lifting alone publishes nothing
    assert planner.get(f"/posts/{cheerful['id']}").json()["status"] == "held"
    assert len(receiver.snapshot()) == 1

    released = head2.post(f"/posts/{cheerful['id']}/release", json={})
    assert released.status_code == 200, released.text
    assert wait_for(lambda: planner.get(f"/posts/{cheerful['id']}").json()["status"] == "published")
    assert receiver.counts_by_key() == {
        str(first["deliveries"][0]["id"]): 1,
        str(cheerful["deliveries"][0]["id"]): 1,
    }
    for c in (admin, planner, head, head2):
        c.close()


def test_scheduler_once_does_one_pass_and_exits(cli_env, receiver: Receiver) -> None:
    assert run_cli(cli_env, "db", "upgrade").returncode == 0
    assert run_cli(cli_env, "db", "upgrade").returncode == 0, "upgrading twice is harmless"
    assert run_cli(cli_env, "scheduler", "--once").returncode == 0, "an empty queue is fine"


def test_users_create_refuses_bad_input_with_a_message(fresh_env) -> None:
    assert run_cli(fresh_env, "db", "upgrade").returncode == 0
    short = run_cli(
        fresh_env,
        "users",
        "create",
        "a@example.org",
        "--role",
        "head",
        "--password-stdin",
        stdin="short\n",
    )
    assert short.returncode != 0
    assert "password" in short.stderr
    ok = run_cli(
        fresh_env,
        "users",
        "create",
        "a@example.org",
        "--role",
        "head",
        "--password-stdin",
        stdin="long enough password\n",
    )
    assert ok.returncode == 0
    # The app hashes at Argon2's full cost (the suite itself hashes cheaply: conftest.py).
    database = Path(fresh_env["CALENDAR_INSTANCE_PATH"]) / "calendar.db"
    with closing(sqlite3.connect(database)) as connection:
        [(stored,)] = connection.execute("SELECT password_hash FROM users").fetchall()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    again = run_cli(
        fresh_env,
        "users",
        "create",
        "A@example.org",
        "--role",
        "head",
        "--password-stdin",
        stdin="long enough password\n",
    )
    assert again.returncode != 0
    assert "exists" in again.stderr
    unknown = run_cli(fresh_env, "tokens", "create", "nobody@example.org")
    assert unknown.returncode != 0
    assert unknown.stdout == ""


def test_serve_refuses_to_start_in_production_without_secret_key(fresh_env) -> None:
    env = {k: v for k, v in fresh_env.items() if k != "SECRET_KEY"}
    env["CALENDAR_ENV"] = "production"
    result = run_cli(env, "serve", "--port", str(free_port()))
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_bad_configuration_value_is_named(fresh_env) -> None:
    env = {**fresh_env, "SCHEDULER_INTERVAL_SECONDS": "soon"}
    result = run_cli(env, "scheduler", "--once")
    assert result.returncode != 0
    assert "SCHEDULER_INTERVAL_SECONDS" in result.stderr
