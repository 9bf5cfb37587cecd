"""Channel secrets (webhook `secret`, Mastodon `access_token`) are encrypted at rest, never shown,
and can be re-encrypted under a new key."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from calendar_app import create_app
from calendar_app.extensions import get_db
from calendar_app.networks.secrets import ChannelSecrets
from config import Config, ConfigError
from tests.conftest import CHANNEL_KEY, Clock, Team
from tests.support.receiver import Receiver
from tests.test_cli import CLI

TOKEN = "mastodon-access-token-0123456789"
SECRET = "webhook-signing-secret"


def stored_configs(team: Team) -> dict[str, str]:
    """The channels' config column as the database holds it (raw SQL, no model in between)."""
    with get_db(team.app).transaction() as session:
        rows = session.execute(text("SELECT name, config FROM channels")).all()
    return {name: config if isinstance(config, str) else str(config) for name, config in rows}


def make_channels(team: Team, receiver: Receiver) -> tuple[dict[str, Any], dict[str, Any]]:
    hook = team.channel("Hook", kind="webhook", config={"url": receiver.url, "secret": SECRET})
    masto = team.channel(
        "Masto",
        kind="mastodon",
        network="mastodon",
        config={"base_url": "https://social.example", "access_token": TOKEN},
    )
    return hook, masto


def test_the_database_holds_only_ciphertext_and_the_api_never_returns_a_secret(
    team: Team, receiver: Receiver
) -> None:
    hook, masto = make_channels(team, receiver)
    stored = stored_configs(team)
    assert SECRET not in stored["Hook"]
    assert "fernet:" in stored["Hook"]
    assert TOKEN not in stored["Masto"]
    assert "fernet:" in stored["Masto"]
    assert hook["config"] == {"url": receiver.url}
    assert masto["config"] == {"base_url": "https://social.example"}
    listed = str(team.admin.get("/channels").get_json())
    assert SECRET not in listed
    assert TOKEN not in listed
    assert "fernet:" not in listed


def test_a_webhook_is_still_signed_with_the_secret_itself(
    team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock
) -> None:
    hook, _ = make_channels(team, receiver)
    team.scheduled([hook["id"]], at=clock.now)
    make_dispatcher(team.app, clock=clock).run_pass()
    [request] = receiver.snapshot()
    expected = hmac.new(SECRET.encode(), request.raw, hashlib.sha256).hexdigest()
    assert request.headers["X-Signature-SHA256"] == expected


def test_secrets_stay_out_of_the_logs_the_csv_export_and_the_timeline(
    team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    hook, _ = make_channels(team, receiver)
    post = team.scheduled([hook["id"]], at=clock.now)
    make_dispatcher(team.app, clock=clock).run_pass()
    csv = team.head.get("/posts.csv").get_data(as_text=True)
    crisis = team.head.post("/crisis", json={"reason": "Test"}).get_json()
    timeline = team.head.get(f"/crises/{crisis['id']}/timeline").get_data(as_text=True)
    audit = str(team.post(post["id"]))
    for seen in (csv, timeline, audit, caplog.text):
        assert SECRET not in seen
        assert TOKEN not in seen


def test_rotation_re_encrypts_every_channel_under_the_new_key(
    team: Team, receiver: Receiver, make_dispatcher: Any, clock: Clock, tmp_path: Path
) -> None:
    hook, _ = make_channels(team, receiver)
    before = stored_configs(team)
    new_key = Fernet.generate_key().decode()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALENDAR_", "DATABASE_"))}
    env.update(
        DATABASE_URL=team.app.config["CALENDAR"].DATABASE_URL,
        CALENDAR_INSTANCE_PATH=str(tmp_path / "instance"),
        CHANNEL_SECRETS_KEY=f"{new_key},{CHANNEL_KEY}",
    )
    done = subprocess.run(
        [CLI, "channels", "rotate-secrets"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "re-encrypted the secrets of 2 channel(s)" in done.stderr
    after = stored_configs(team)
    assert after["Hook"] != before["Hook"]
    # Only the new key is needed now: the old one can be dropped.
    only_new = ChannelSecrets(new_key)
    with get_db(team.app).transaction() as session:
        rows = dict(session.execute(text("SELECT name, config FROM channels")).all())
    hook_config = json.loads(rows["Hook"]) if isinstance(rows["Hook"], str) else rows["Hook"]
    assert only_new.reveal(hook_config["secret"]) == SECRET
    with pytest.raises(Exception, match="cannot be decrypted"):
        ChannelSecrets(CHANNEL_KEY).reveal(hook_config["secret"])

    # A dispatcher with only the new key still signs with the secret.
    app = create_app(replace(team.app.config["CALENDAR"], CHANNEL_SECRETS_KEY=new_key))
    try:
        team.scheduled([hook["id"]], at=clock.now)
        make_dispatcher(app, clock=clock).run_pass()
        assert len(receiver.snapshot()) == 1
    finally:
        get_db(app).dispose()


def test_plain_secrets_from_before_are_encrypted_by_db_upgrade(team: Team, tmp_path: Path) -> None:
    with get_db(team.app).transaction() as session:
        session.execute(
            text(
                "INSERT INTO channels (name, kind, network, config, active, created_at, "
                "silent_after_days, plan_ahead_days) VALUES ('Alt', 'webhook', 'other', "
                """'{"url": "https://hooks.example.org/x", "secret": "old-plain"}', 1, """
                "'2026-01-01 00:00:00', 14, 7)"
            )
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALENDAR_", "DATABASE_"))}
    env.update(
        DATABASE_URL=team.app.config["CALENDAR"].DATABASE_URL,
        CALENDAR_INSTANCE_PATH=str(tmp_path / "instance"),
    )
    refused = subprocess.run([CLI, "db", "upgrade"], env=env, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "plain text" in refused.stderr
    assert "CHANNEL_SECRETS_KEY" in refused.stderr

    env["CHANNEL_SECRETS_KEY"] = CHANNEL_KEY
    done = subprocess.run([CLI, "db", "upgrade"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "encrypted the secrets of 1 channel(s)" in done.stderr
    stored = stored_configs(team)["Alt"]
    assert "old-plain" not in stored
    assert "fernet:" in stored
    again = subprocess.run([CLI, "db", "upgrade"], env=env, capture_output=True, text=True)
    assert "encrypted the secrets" not in again.stderr


def test_production_refuses_to_start_without_the_key(tmp_path: Path) -> None:
    config = replace(
        Config(), ENV="production", SECRET_KEY="s" * 64, INSTANCE_PATH=tmp_path,
        DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}",
    )  # fmt: skip
    with pytest.raises(ConfigError, match="CHANNEL_SECRETS_KEY is not set"):
        create_app(config)
    with pytest.raises(ConfigError, match="key 2 is not a Fernet key"):
        create_app(replace(config, CHANNEL_SECRETS_KEY=f"{CHANNEL_KEY},not-a-key"))


def test_development_generates_a_key_and_keeps_it(tmp_path: Path) -> None:
    config = replace(Config(), ENV="development", INSTANCE_PATH=tmp_path)
    first = config.with_channel_secrets_key(required=True).CHANNEL_SECRETS_KEY
    second = config.with_channel_secrets_key(required=True).CHANNEL_SECRETS_KEY
    assert first
    assert first == second
    assert (tmp_path / "development-channel-secrets-key").read_text() == first


def test_the_scheduler_refuses_to_start_in_production_without_the_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CALENDAR_", "DATABASE_"))}
    env.pop("CHANNEL_SECRETS_KEY", None)
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'c.db'}", SECRET_KEY="s" * 64)
    done = subprocess.run(
        [CLI, "scheduler", "--once"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "CHANNEL_SECRETS_KEY is not set" in done.stderr
