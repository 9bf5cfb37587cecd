from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from calendar_app import create_app
from calendar_app.extensions import get_db
from config import Config, ConfigError
from tests.conftest import CHANNEL_KEY


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in (
        "CALENDAR_ENV",
        "SECRET_KEY",
        "DATABASE_URL",
        "CALENDAR_TIMEZONE",
        "SCHEDULER_INTERVAL_SECONDS",
        "CRISIS_LIFT_CONFIRMATIONS",
        "MISSED_AFTER_MINUTES",
        "CHANNEL_SECRETS_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CALENDAR_INSTANCE_PATH", str(tmp_path))
    # Production needs a key for channel secrets (test_channel_secrets.py: refused without).
    monkeypatch.setenv("CHANNEL_SECRETS_KEY", CHANNEL_KEY)
    return tmp_path


def test_defaults_follow_the_documented_table(clean_env: Path) -> None:
    config = Config.from_env()
    assert config.ENV == "production"
    assert f"sqlite:///{clean_env / 'calendar.db'}" == config.DATABASE_URL
    assert config.TIMEZONE == "Europe/Berlin"
    assert config.SCHEDULER_INTERVAL_SECONDS == 1.0
    assert config.CRISIS_LIFT_CONFIRMATIONS == 2
    assert config.MISSED_AFTER_MINUTES == 30


def test_app_refuses_to_start_in_production_without_secret_key(clean_env: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(Config.from_env())


def test_development_generates_a_secret_key_and_keeps_it(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALENDAR_ENV", "development")
    first = create_app(Config.from_env())
    second = create_app(Config.from_env())
    assert first.config["SECRET_KEY"]
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert first.config["SESSION_COOKIE_SECURE"] is False
    for app in (first, second):
        get_db(app).dispose()


def test_a_short_secret_key_is_refused_in_production(clean_env: Path) -> None:
    with pytest.raises(ConfigError, match=r"SECRET_KEY is too short.*at least 32 bytes"):
        create_app(replace(Config.from_env(), SECRET_KEY="x" * 31))
    app = create_app(replace(Config.from_env(), SECRET_KEY="x" * 32))
    get_db(app).dispose()


def test_production_cookies_are_secure(clean_env: Path) -> None:
    app = create_app(replace(Config.from_env(), SECRET_KEY="x" * 32))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    get_db(app).dispose()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CALENDAR_ENV", "staging"),
        ("CALENDAR_TIMEZONE", "Mars/Olympus"),
        ("SCHEDULER_INTERVAL_SECONDS", "fast"),
        ("SCHEDULER_INTERVAL_SECONDS", "0"),
        ("CRISIS_LIFT_CONFIRMATIONS", "0"),
        ("CRISIS_LIFT_CONFIRMATIONS", "two"),
        ("ALLOW_SELF_APPROVAL", "maybe"),
    ],
)
def test_a_bad_value_fails_loudly_and_names_the_variable(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        Config.from_env()
