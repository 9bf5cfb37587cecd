"""Security of the browser UI and the API: headers, login throttling, sessions, CSRF, tokens,
no password in the logs, and who may open which page or press which button (the page matrix;
the API's matrix is tests/test_api_roles.py)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from calendar_app import campaigns, create_app, crisis, planning
from calendar_app.accounts import find_token, revoke_token
from calendar_app.blackouts import Announcing, create_blackout
from calendar_app.channels import create_channel
from calendar_app.cli import main as cli
from calendar_app.extensions import get_db
from calendar_app.models import (
    Blackout,
    CalendarFeed,
    Channel,
    Comment,
    Crisis,
    Department,
    Post,
    User,
)
from calendar_app.timeutil import now_utc
from config import Config
from tests.conftest import CHANNEL_KEY, PASSWORD, SeededDatabase, Team
from tests.support.web import csrf_token
from tests.test_crisis_halt import discard_under_way

WEB_ROLES = ("planner", "head", "admin", "anonymous")


# --- helpers -----------------------------------------------------------------------------------


def log_in(browser: FlaskClient, who: str, password: str = PASSWORD) -> Any:
    return browser.post(
        "/login",
        data={
            "email": f"{who}@example.org",
            "password": password,
            "csrf_token": csrf_token(browser),
        },
    )


def signed_in(app: Flask, who: str) -> FlaskClient:
    browser = app.test_client()
    if who != "anonymous":
        assert log_in(browser, who).status_code == 302
    return browser


def is_logged_in(browser: FlaskClient) -> bool:
    return browser.get("/outbox").status_code == 200


def user(session: Any, who: str) -> User:
    found = session.scalar(select(User).where(User.email == f"{who}@example.org"))
    assert found is not None
    return found


# --- headers -----------------------------------------------------------------------------------


def _common_headers(response: Any) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_a_page_carries_a_strict_policy_and_the_security_headers(app: Flask) -> None:
    browser = signed_in(app, "head")
    response = browser.get("/")
    assert response.status_code == 200
    _common_headers(response)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "unsafe-eval" not in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert "<script>" not in response.get_data(as_text=True), "no inline scripts"
    assert "Strict-Transport-Security" not in response.headers, "plain http in development"


@pytest.mark.parametrize("path", ["/health", "/posts", "/no-such-thing", "/openapi.json"])
def test_api_responses_carry_the_security_headers(team: Team, path: str) -> None:
    for response in (team.admin.get(path), team.anonymous.get(path)):
        _common_headers(response)
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert response.headers["Cache-Control"] == "no-store"


def test_production_sends_hsts_and_secure_cookies(
    sqlite_db: SeededDatabase, tmp_path: Path
) -> None:
    config = replace(
        Config(), ENV="production", SECRET_KEY="s" * 64, DATABASE_URL=sqlite_db.url,
        INSTANCE_PATH=tmp_path, CHANNEL_SECRETS_KEY=CHANNEL_KEY,
    )  # fmt: skip
    app = create_app(config)
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is True
        assert app.config["SESSION_COOKIE_HTTPONLY"] is True
        assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
        response = app.test_client().get("/api/v1/health", base_url="https://localhost")
        assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    finally:
        get_db(app).dispose()


# --- login throttling --------------------------------------------------------------------------


@pytest.mark.parametrize("config_overrides", [{"LOGIN_LIMIT_PER_ACCOUNT": "3 per minute"}])
def test_failed_logins_are_throttled_per_account(app: Flask) -> None:
    browser = app.test_client()
    for _ in range(3):
        assert log_in(browser, "planner", "wrong password!").status_code == 200
    refused = log_in(browser, "planner")  # even the right password waits now
    assert refused.status_code == 429
    assert "Zu viele fehlgeschlagene Anmeldungen" in refused.get_data(as_text=True)
    assert int(refused.headers["Retry-After"]) > 0
    assert not is_logged_in(browser)
    other = app.test_client()
    assert log_in(other, "head").status_code == 302, "other accounts are not locked out"


@pytest.mark.parametrize("config_overrides", [{"LOGIN_LIMIT_PER_ADDRESS": "4 per minute"}])
def test_failed_logins_are_throttled_per_address(app: Flask) -> None:
    browser = app.test_client()
    for who in ("planner", "planner2", "head", "head2"):
        assert log_in(browser, who, "wrong password!").status_code == 200
    refused = log_in(browser, "admin")
    assert refused.status_code == 429
    english = browser.post(
        "/login",
        data={"email": "admin@example.org", "password": "x", "csrf_token": csrf_token(browser)},
        headers={"Accept-Language": "en"},
    )
    assert english.status_code == 429
    assert "Too many failed logins" in english.get_data(as_text=True)


@pytest.mark.parametrize("config_overrides", [{"LOGIN_LIMIT_PER_ACCOUNT": "2 per minute"}])
def test_successful_logins_do_not_count(app: Flask) -> None:
    for _ in range(4):
        assert log_in(app.test_client(), "planner").status_code == 302


def test_bad_throttle_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from config import ConfigError

    monkeypatch.setenv("LOGIN_LIMIT_PER_ACCOUNT", "often")
    with pytest.raises(ConfigError, match="LOGIN_LIMIT_PER_ACCOUNT"):
        Config.from_env()
    monkeypatch.delenv("LOGIN_LIMIT_PER_ACCOUNT")
    monkeypatch.setenv("TRUSTED_PROXIES", "the load balancer")
    with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
        Config.from_env()


def log_in_from(
    app: Flask, who: str, password: str, *, address: str, forwarded_for: str | None = None
) -> Any:
    """A login from one client address (and through a proxy that says whom it forwards)."""
    browser = app.test_client()
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    environ = {"REMOTE_ADDR": address}
    browser.get("/login", environ_base=environ, headers=headers)
    return browser.post(
        "/login",
        data={
            "email": f"{who}@example.org",
            "password": password,
            "csrf_token": csrf_token(browser),
        },
        environ_base=environ,
        headers=headers,
    )


@pytest.mark.parametrize(
    "config_overrides",
    [{"LOGIN_LIMIT_PER_ACCOUNT": "2 per minute", "LOGIN_DELAY_SECONDS": 10.0}],
)
def test_failed_logins_delay_the_next_try_doubling_then_the_right_password_works(
    app: Flask,
) -> None:
    import time_machine

    with time_machine.travel(now_utc(), tick=False) as traveller:
        for _ in range(2):
            assert log_in(app.test_client(), "planner", "wrong password!").status_code == 200
        delayed = log_in(app.test_client(), "planner", "wrong password!")
        assert delayed.status_code == 429
        assert int(delayed.headers["Retry-After"]) == 10
        traveller.shift(timedelta(seconds=11))
        assert log_in(app.test_client(), "planner", "wrong password!").status_code == 200
        doubled = log_in(app.test_client(), "planner")
        assert doubled.status_code == 429, "not even the right password during a delay"
        assert int(doubled.headers["Retry-After"]) == 20
        traveller.shift(timedelta(seconds=21))
        assert log_in(app.test_client(), "planner").status_code == 302
        # a login that works clears the account's budget
        assert log_in(app.test_client(), "planner", "wrong password!").status_code == 200


BOTNET = ("203.0.113.5", "198.18.4.4")


@pytest.mark.parametrize(
    "config_overrides",
    [{"LOGIN_LIMIT_PER_ACCOUNT": "6 per hour", "LOGIN_LIMIT_PER_ADDRESS": "3 per hour"}],
)
def test_an_attacker_hammering_an_account_does_not_lock_its_owner_out_after_an_unlock(
    app: Flask, sqlite_db: SeededDatabase, tmp_path: Path
) -> None:
    for address in BOTNET:  # far more than the budgets allow, from two addresses
        for _ in range(5):
            log_in_from(app, "head", "Passwort123456", address=address)
    owner = "192.0.2.10"
    assert log_in_from(app, "head", PASSWORD, address=owner).status_code == 429

    env = {"DATABASE_URL": sqlite_db.url, "CALENDAR_ENV": "development",
           "CALENDAR_INSTANCE_PATH": str(tmp_path)}  # fmt: skip
    unlocked = CliRunner().invoke(cli, ["users", "unlock", "head@example.org"], env=env)
    assert unlocked.exit_code == 0, unlocked.output
    assert "may log in now" in unlocked.output
    assert log_in_from(app, "head", PASSWORD, address=owner).status_code == 302

    # The attack goes on; its addresses are waiting, their tries do not count against the account.
    for address in BOTNET * 3:
        assert log_in_from(app, "head", "Passwort123456", address=address).status_code == 429
    assert log_in_from(app, "head", PASSWORD, address=owner).status_code == 302
    missing = CliRunner().invoke(cli, ["users", "unlock", "nobody@example.org"], env=env)
    assert missing.exit_code != 0


@pytest.mark.parametrize(
    "config_overrides",
    [{"TRUSTED_PROXIES": 1, "LOGIN_LIMIT_PER_ADDRESS": "3 per hour"}],
)
def test_behind_a_trusted_proxy_each_client_has_its_own_address_budget(app: Flask) -> None:
    proxy = "10.0.0.2"
    for who in ("planner", "planner2", "head"):
        failed = log_in_from(
            app, who, "wrong password!", address=proxy, forwarded_for="203.0.113.5"
        )
        assert failed.status_code == 200
    guesser = log_in_from(app, "admin", PASSWORD, address=proxy, forwarded_for="203.0.113.5")
    assert guesser.status_code == 429
    colleague = log_in_from(app, "admin", PASSWORD, address=proxy, forwarded_for="198.51.100.7")
    assert colleague.status_code == 302, "another client behind the same proxy is not delayed"


@pytest.mark.parametrize("config_overrides", [{"LOGIN_LIMIT_PER_ADDRESS": "3 per hour"}])
def test_without_trusted_proxies_x_forwarded_for_is_ignored(app: Flask) -> None:
    for n, who in enumerate(("planner", "planner2", "head")):
        forged = f"198.51.100.{n + 1}"  # a new address in the header for every try
        assert (
            log_in_from(
                app, who, "wrong!!", address="203.0.113.5", forwarded_for=forged
            ).status_code
            == 200
        )
    again = log_in_from(app, "admin", PASSWORD, address="203.0.113.5", forwarded_for="192.0.2.99")
    assert again.status_code == 429


@pytest.mark.parametrize("config_overrides", [{"LOGIN_LIMIT_PER_ACCOUNT": "2 per hour"}])
def test_login_budgets_are_shared_by_every_web_process(
    any_app: Flask, database: SeededDatabase, tmp_path: Path
) -> None:
    """Two apps with their own engines on one database, as two `serve` processes."""
    from tests.conftest import make_config

    config = make_config(database.url, tmp_path, LOGIN_LIMIT_PER_ACCOUNT="2 per hour")
    other = create_app(config)
    try:
        assert log_in(any_app.test_client(), "planner", "wrong password!").status_code == 200
        assert log_in(other.test_client(), "planner", "wrong password!").status_code == 200
        assert log_in(any_app.test_client(), "planner").status_code == 429
        assert log_in(other.test_client(), "planner").status_code == 429
        assert log_in(other.test_client(), "head").status_code == 302
    finally:
        get_db(other).dispose()


# --- sessions ----------------------------------------------------------------------------------


def test_login_renews_the_session(app: Flask) -> None:
    browser = app.test_client()
    with browser.session_transaction() as session:
        session["planted_before_login"] = "attacker's value"
    before = browser.get_cookie("session")
    assert before is not None
    assert log_in(browser, "planner").status_code == 302
    after = browser.get_cookie("session")
    assert after is not None
    assert after.value != before.value
    with browser.session_transaction() as session:
        assert "planted_before_login" not in session
        assert session["_user_id"]
    assert after.http_only
    assert after.same_site == "Lax"


def test_logout_invalidates_a_copied_session_cookie(app: Flask) -> None:
    browser = signed_in(app, "planner")
    cookie = browser.get_cookie("session")
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert is_logged_in(thief), "a copy works while the session lives"

    token = csrf_token(browser, "/")
    assert browser.post("/logout", data={"csrf_token": token}).status_code == 302
    assert not is_logged_in(browser)
    assert not is_logged_in(thief), "logout ends the copy too"
    assert log_in(browser, "planner").status_code == 302, "a new login works"
    assert is_logged_in(browser)
    assert not is_logged_in(thief)


# --- CSRF --------------------------------------------------------------------------------------


def _draft(app: Flask, author: str = "planner") -> int:
    with get_db(app).transaction() as session:
        admin = user(session, "admin")
        channel = create_channel(session, admin, name=f"Kanal {now_utc().timestamp()}",
                                 kind="outbox")  # fmt: skip
        post = planning.create_post(
            session, user(session, author), body="Tag der offenen Tür",
            channel_ids=[channel.id], publish_at=now_utc() + timedelta(days=2),
        )  # fmt: skip
        return post.id


def _lifted_crisis(app: Flask) -> int:
    """A crisis declared and lifted, for its timeline."""
    with get_db(app).transaction() as session:
        declared = crisis.declare_crisis(session, user(session, "head"), reason="Shitstorm")
        crisis.lift_crisis(session, user(session, "head"), note="vorbei", confirmations_required=1)
        return declared.crisis.id


def _campaign(app: Flask) -> int:
    """A campaign with one post in it."""
    post_id = _draft(app)
    with get_db(app).transaction() as session:
        made = campaigns.create_campaign(
            session, user(session, "head"), name=f"Kampagne {post_id}", goal="awareness",
            starts_on=date(2026, 10, 1), ends_on=date(2026, 10, 31),
        )  # fmt: skip
        post = session.get(Post, post_id)
        assert post is not None
        post.campaign = made
        return made.id


def _person_id(app: Flask, who: str) -> int:
    with get_db(app).transaction() as session:
        return user(session, who).id


def _active(app: Flask, who: str) -> bool:
    with get_db(app).transaction() as session:
        return user(session, who).active


def _status(app: Flask, post_id: int) -> str:
    with get_db(app).transaction() as session:
        post = session.get(Post, post_id)
        assert post is not None
        return post.status


def test_a_form_without_csrf_token_is_refused(app: Flask) -> None:
    post_id = _draft(app)
    browser = signed_in(app, "planner")
    response = browser.post(f"/posts/{post_id}/submit", data={})
    assert response.status_code == 400
    forged = browser.post(f"/posts/{post_id}/submit", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    assert _status(app, post_id) == "draft"


def test_the_reschedule_fetch_needs_the_csrf_header(app: Flask) -> None:
    post_id = _draft(app)
    browser = signed_in(app, "planner")
    move = {"publish_at": (now_utc() + timedelta(days=5)).strftime("%Y-%m-%dT09:00:00")}
    refused = browser.post(f"/posts/{post_id}/reschedule", json=move)
    assert refused.status_code == 400
    token = csrf_token(browser, "/")
    moved = browser.post(f"/posts/{post_id}/reschedule", json=move, headers={"X-CSRFToken": token})
    assert moved.status_code == 200, moved.get_data(as_text=True)


def test_the_api_takes_no_cookies(app: Flask) -> None:
    browser = signed_in(app, "admin")
    assert browser.get("/api/v1/posts").status_code == 401, "bearer tokens only"


# --- API tokens --------------------------------------------------------------------------------


def test_a_revoked_token_gets_401(team: Team) -> None:
    assert team.planner.get("/posts").status_code == 200
    with get_db(team.app).transaction() as session:
        revoke_token(session, find_token(session, team.tokens["planner"]))
    response = team.planner.get("/posts")
    assert response.status_code == 401
    assert response.get_json()["error"]
    assert team.head.get("/posts").status_code == 200


def test_a_tokens_last_use_is_recorded_also_when_the_request_fails(team: Team) -> None:
    def last_used(who: str) -> Any:
        with get_db(team.app).transaction() as session:
            return find_token(session, team.tokens[who]).last_used_at

    assert last_used("planner") is None
    refused = team.planner.post("/crisis", json={"reason": "Planer darf das nicht"})
    assert refused.status_code == 403
    first = last_used("planner")
    assert first is not None, "a 403 is a use of the token too"
    assert team.planner.get("/posts/999999").status_code == 404
    assert last_used("planner") > first
    with get_db(team.app).transaction() as session:
        revoke_token(session, find_token(session, team.tokens["planner"]))
    revoked_at_use = last_used("planner")
    assert team.planner.get("/posts").status_code == 401
    assert last_used("planner") > revoked_at_use, "a revoked token still being tried shows"


@pytest.mark.parametrize(
    ("path", "because"),
    [
        ("/approvals", "nur eine Kommunikationsleitung oder ein Admin darf Beiträge freigeben"),
        ("/audit", "nur eine Kommunikationsleitung oder ein Admin darf das Audit-Log lesen"),
        ("/admin/departments", "nur ein Admin darf Abteilungen verwalten"),
    ],
)
def test_a_page_refused_to_a_planner_says_who_may_see_it(
    team: Team, path: str, because: str
) -> None:
    refused = signed_in(team.app, "planner").get(path)
    assert refused.status_code == 403
    main = re.search(r"<main[^>]*>(.*?)</main>", refused.get_data(as_text=True), re.S)
    assert main is not None
    assert re.findall(r"<p>([^<]*)</p>", main.group(1)) == [because]


def test_a_request_does_not_wait_for_another_request_with_the_same_token(
    any_team: Team, background: Any
) -> None:
    """The token's last use is recorded after the request, in a transaction of its own: a
    head's request that holds its rows locked (a discard paused inside) does not hold up the
    same head's next request, which would otherwise wait for the token's row. SQLite serialises
    whole transactions, so there only the outcome is checked."""
    channel = any_team.channel()
    post = any_team.scheduled([channel["id"]], at=now_utc() + timedelta(hours=1))
    with discard_under_way(any_team, post["id"], background):
        reading = background(any_team.head.get, f"/posts/{post['id']}")
        if not get_db(any_team.app).is_sqlite:
            assert reading.result(timeout=10).status_code == 200  # raises if it waited
    assert reading.result(timeout=30).status_code == 200
    assert any_team.post(post["id"])["status"] == "discarded"
    with get_db(any_team.app).transaction() as session:
        assert find_token(session, any_team.tokens["head"]).last_used_at is not None


def test_tokens_are_listed_without_the_token_and_revoked_from_the_command_line(
    team: Team, sqlite_db: SeededDatabase, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": sqlite_db.url, "CALENDAR_ENV": "development",
           "CALENDAR_INSTANCE_PATH": str(tmp_path)}  # fmt: skip
    runner = CliRunner()
    created = runner.invoke(cli, ["tokens", "create", "head@example.org", "--label", "laptop"],
                            env=env)  # fmt: skip
    assert created.exit_code == 0, created.output
    new_token = created.stdout.strip()
    assert created.stdout.count("\n") == 1

    assert team.head.get("/posts", headers={"Authorization": f"Bearer {new_token}"}).status_code \
        == 200  # fmt: skip
    listed = runner.invoke(cli, ["tokens", "list", "head@example.org"], env=env)
    assert listed.exit_code == 0, listed.output
    assert new_token not in listed.stdout
    assert team.tokens["head"] not in listed.stdout
    rows = [line.split("\t") for line in listed.stdout.splitlines()[1:]]
    laptop = next(row for row in rows if row[2] == "laptop")
    assert new_token.startswith(laptop[1])
    assert laptop[4] != "never", "last use is recorded"
    assert laptop[5] == "-"

    revoked = runner.invoke(cli, ["tokens", "revoke", laptop[1]], env=env)
    assert revoked.exit_code == 0, revoked.output
    again = team.head.get("/posts", headers={"Authorization": f"Bearer {new_token}"})
    assert again.status_code == 401
    assert team.head.get("/posts").status_code == 200, "the other token still works"
    listed = runner.invoke(cli, ["tokens", "list", "head@example.org"], env=env)
    laptop = next(line for line in listed.stdout.splitlines() if "laptop" in line).split("\t")
    assert laptop[5] != "-", "the revocation time is shown"
    unknown = runner.invoke(cli, ["tokens", "revoke", "999999"], env=env)
    assert unknown.exit_code != 0
    assert "no API token" in unknown.output


# --- passwords ---------------------------------------------------------------------------------


@pytest.mark.parametrize("config_overrides", [{"LOGIN_LIMIT_PER_ACCOUNT": "2 per minute"}])
def test_no_password_in_the_logs(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "Geheimes-Passwort-4711"
    browser = app.test_client()
    for _ in range(3):  # wrong, wrong, throttled
        log_in(browser, "planner", secret)
    log_in(app.test_client(), "head")
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert caplog.records, "the requests were logged at all"
    assert secret not in logged
    assert PASSWORD not in logged


def test_passwords_are_argon2_hashed_and_at_least_12_characters(app: Flask) -> None:
    from calendar_app.accounts import MIN_PASSWORD_LENGTH, create_user
    from calendar_app.errors import InvalidInput

    assert MIN_PASSWORD_LENGTH >= 12
    with get_db(app).transaction() as session:
        assert user(session, "planner").password_hash.startswith("$argon2id$")
        with pytest.raises(InvalidInput, match="cannot be created") as refused:
            create_user(session, "kurz@example.org", role="planner", password="elf-zeichen")
        assert "12" in refused.value.fields["password"]


@pytest.mark.parametrize(
    "password",
    ["password1234", "qwertyqwerty", "Iloveyou2024!", "1q2w3e4r5t6y", " " * 14, "aaaaaaaaaaaa"],
)
def test_common_and_blank_passwords_are_refused(app: Flask, password: str) -> None:
    from calendar_app.accounts import common_passwords, create_user
    from calendar_app.errors import InvalidInput

    assert len(common_passwords()) >= 5000, "the bundled list is there"
    with get_db(app).transaction() as session:
        with pytest.raises(InvalidInput) as refused:
            create_user(session, "neu@example.org", role="planner", password=password)
        assert "password" in refused.value.fields
        create_user(session, "neu@example.org", role="planner", password="Deich und Leuchtturm")


# --- the page matrix: every page and form x planner/head/admin/anonymous ------------------------

# Pages that only read. Who gets a 403; everyone else signed in gets 200; anonymous goes to login.
PAGES: dict[str, tuple[str, ...]] = {
    "/": (),
    "/agenda": (),
    "/compose": (),
    "/posts/{post}": (),
    "/posts/{post}/edit": (),
    "/calendar/events?start=2026-01-01T00:00&end=2026-02-01T00:00": (),
    "/calendar/export.csv?status=draft": (),
    "/crisis": (),
    "/outbox": (),
    "/campaigns": (),
    "/posts/import": (),
    "/subscription": (),
    "/campaigns/{campaign}": (),
    "/campaigns/new": ("planner",),
    "/campaigns/{campaign}/edit": ("planner",),
    "/approvals": ("planner",),
    "/audit": ("planner",),
    "/crisis/declare": ("planner",),
    "/admin/departments": ("planner", "head"),
    "/admin/channels": ("planner", "head"),
    "/admin/people": ("planner", "head"),
    "/admin/people/{person}/deactivate": ("planner", "head"),
    "/dashboard": (),
    "/blackouts": (),
    "/calendar/blackouts?start=2026-01-01T00:00&end=2026-02-01T00:00": (),
    "/playbooks": (),
    "/playbooks/new": ("planner",),
    "/crisis/{crisis}/timeline": ("planner",),
    "/crisis/{crisis}/timeline.html": ("planner",),
}


@pytest.mark.parametrize("role", WEB_ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_who_may_open_which_page(app: Flask, page: str, role: str) -> None:
    path = page.format(
        post=_draft(app),
        campaign=_campaign(app) if "{campaign}" in page else 0,
        crisis=_lifted_crisis(app) if "{crisis}" in page else 0,
        person=_person_id(app, "planner2"),
    )
    response = signed_in(app, role).get(path)
    if role == "anonymous":
        assert response.status_code == 302
        assert response.location.startswith("/login")
    elif role in PAGES[page]:
        assert response.status_code == 403
    else:
        assert response.status_code == 200, response.get_data(as_text=True)[:500]


@dataclass(frozen=True)
class Button:
    """A form action: how to press it, and how to tell that it took effect."""

    path: str
    data: dict[str, Any]
    took_effect: Callable[[], bool]
    json: bool = False


def _in_review(app: Flask) -> int:
    post_id = _draft(app)
    with get_db(app).transaction() as session:
        post = session.get(Post, post_id)
        assert post is not None
        planning.submit_post(session, post.author, post)
    return post_id


def _scheduled(app: Flask, at_offset: timedelta = timedelta(days=2)) -> int:
    post_id = _in_review(app)
    with get_db(app).transaction() as session:
        post = session.get(Post, post_id)
        assert post is not None
        post.publish_at = now_utc() + at_offset
        planning.approve_post(session, user(session, "head2"), post, allow_self_approval=False)
    return post_id


def _declared(app: Flask) -> None:
    with get_db(app).transaction() as session:
        crisis.declare_crisis(session, user(session, "head2"), reason="Shitstorm")


def _crisis_active(app: Flask) -> bool:
    with get_db(app).transaction() as session:
        return crisis.current_crisis(session) is not None


def _held(app: Flask) -> int:
    post_id = _scheduled(app)
    _declared(app)
    with get_db(app).transaction() as session:
        post = session.get(Post, post_id)
        assert post is not None
        for delivery in post.deliveries:
            delivery.status = "held"
            delivery.held_by_crisis_id = session.scalars(select(Crisis.id)).first()
        post.status = "held"
        crisis.lift_crisis(session, user(session, "head2"), note="vorbei", confirmations_required=1)
    return post_id


def _posts_count(app: Flask) -> int:
    with get_db(app).transaction() as session:
        return len(list(session.scalars(select(Post.id))))


def submit(app: Flask) -> Button:
    post_id = _draft(app)
    return Button(f"/posts/{post_id}/submit", {}, lambda: _status(app, post_id) == "in_review")


def approve(app: Flask) -> Button:
    post_id = _in_review(app)
    return Button(f"/posts/{post_id}/approve", {}, lambda: _status(app, post_id) == "scheduled")


def send_back(app: Flask) -> Button:
    post_id = _in_review(app)
    return Button(f"/posts/{post_id}/send-back", {"comment": "kürzer bitte"},
                  lambda: _status(app, post_id) == "draft")  # fmt: skip


def discard_own_draft(app: Flask) -> Button:
    post_id = _draft(app)
    return Button(f"/posts/{post_id}/discard", {}, lambda: _status(app, post_id) == "discarded")


def discard_approved(app: Flask) -> Button:
    post_id = _scheduled(app)
    return Button(f"/posts/{post_id}/discard", {}, lambda: _status(app, post_id) == "discarded")


def reschedule(app: Flask) -> Button:
    post_id = _draft(app)
    day = (now_utc() + timedelta(days=9)).strftime("%Y-%m-%dT10:00:00")

    def moved() -> bool:
        with get_db(app).transaction() as session:
            post = session.get(Post, post_id)
            assert post is not None
            return post.publish_at.date().isoformat() == day[:10]

    return Button(f"/posts/{post_id}/reschedule", {"publish_at": day}, moved, json=True)


def edit(app: Flask) -> Button:
    post_id = _draft(app)
    with get_db(app).transaction() as session:
        post = session.get(Post, post_id)
        assert post is not None
        channel_id = post.deliveries[0].channel_id

    def edited() -> bool:
        with get_db(app).transaction() as session:
            post = session.get(Post, post_id)
            return post is not None and post.body == "Neuer Text"

    data = {"body": "Neuer Text", "channels": [channel_id], "publish_at": "2030-03-03 09:00"}
    return Button(f"/posts/{post_id}/edit", data, edited)


def compose(app: Flask) -> Button:
    _draft(app)
    with get_db(app).transaction() as session:
        post = session.scalars(select(Post)).first()
        assert post is not None
        channel_id = post.deliveries[0].channel_id
    before = _posts_count(app)
    data = {"body": "Neu", "channels": [channel_id], "publish_at": "2030-03-03 09:00"}
    return Button("/compose", data, lambda: _posts_count(app) == before + 1)


def declare(app: Flask) -> Button:
    return Button("/crisis/declare", {"reason": "Störfall", "scope": "all"},
                  lambda: _crisis_active(app))  # fmt: skip


def _lift_requested(app: Flask) -> bool:
    with get_db(app).transaction() as session:
        active = crisis.current_crisis(session)
        return active is not None and active.lift_requested_by_id is not None


def lift(app: Flask) -> Button:
    _declared(app)
    return Button("/crisis/lift", {"note": "Lage geklärt"}, lambda: _lift_requested(app))


def confirm_lift(app: Flask) -> Button:
    _declared(app)
    with get_db(app).transaction() as session:
        crisis.lift_crisis(
            session, user(session, "head2"), note="Lage geklärt", confirmations_required=2
        )
    return Button("/crisis/lift/confirm", {}, lambda: not _crisis_active(app))


def release(app: Flask) -> Button:
    post_id = _held(app)
    return Button("/crisis/review", {"one": f"release_now:{post_id}"},
                  lambda: _status(app, post_id) == "scheduled")  # fmt: skip


def _blackouts_count(app: Flask) -> int:
    with get_db(app).transaction() as session:
        return len(list(session.scalars(select(Blackout.id))))


def plan_blackout(app: Flask) -> Button:
    data = {
        "name": "Trauertag",
        "starts_at": "2031-11-20T00:00",
        "ends_at": "2031-11-21T00:00",
        "scope": "all",
    }
    return Button("/blackouts", data, lambda: _blackouts_count(app) == 1)


def cancel_blackout(app: Flask) -> Button:
    with get_db(app).transaction() as session:
        blackout = create_blackout(
            session,
            user(session, "head2"),
            name="Trauertag",
            starts_at=now_utc() + timedelta(days=30),
            ends_at=now_utc() + timedelta(days=31),
            announcing=Announcing("Europe/Berlin", timedelta(hours=24)),
        )
        path = f"/blackouts/{blackout.id}/cancel"
    return Button(path, {}, lambda: _blackouts_count(app) == 0)


def choose_language(app: Flask) -> Button:
    def english() -> bool:
        with get_db(app).transaction() as session:
            return any(u.locale == "en" for u in session.scalars(select(User)))

    return Button("/language", {"locale": "en"}, english)


def comment(app: Flask) -> Button:
    post_id = _draft(app)

    def commented() -> bool:
        with get_db(app).transaction() as session:
            return session.scalar(select(Comment.id).where(Comment.post_id == post_id)) is not None

    return Button(f"/posts/{post_id}/comments", {"body": "Bitte übernehmen"}, commented)


def add_department(app: Flask) -> Button:
    def added() -> bool:
        with get_db(app).transaction() as session:
            return (
                session.scalar(select(Department.id).where(Department.name == "Recht")) is not None
            )

    return Button("/admin/departments", {"name": "Recht"}, added)


def set_channel_owners(app: Flask) -> Button:
    with get_db(app).transaction() as session:
        channel = create_channel(session, user(session, "admin"), name="Besitz", kind="outbox")
        channel_id, head, planner = (
            channel.id,
            user(session, "head").id,
            user(session, "planner").id,
        )

    def owned() -> bool:
        with get_db(app).transaction() as session:
            found = session.get(Channel, channel_id)
            return found is not None and found.owner_id == head

    data = {"owner": head, "deputy": planner, "silent_after_days": 14, "plan_ahead_days": 7}
    return Button(f"/admin/channels/{channel_id}", data, owned)


def _campaign_named(app: Flask, name: str) -> bool:
    with get_db(app).transaction() as session:
        return campaigns.campaign_named(session, name) is not None


def create_campaign(app: Flask) -> Button:
    data = {"name": "Herbstkampagne", "goal": "awareness", "starts_on": "2026-09-01",
            "ends_on": "2026-09-30", "kpis-0-name": "Reichweite",
            "kpis-0-target": "10000"}  # fmt: skip
    return Button("/campaigns/new", data, lambda: _campaign_named(app, "Herbstkampagne"))


def edit_campaign(app: Flask) -> Button:
    campaign_id = _campaign(app)
    data = {"name": "Umbenannt", "goal": "service", "starts_on": "2026-10-01",
            "ends_on": "2026-10-31"}  # fmt: skip
    return Button(f"/campaigns/{campaign_id}/edit", data, lambda: _campaign_named(app, "Umbenannt"))


def set_person_departments(app: Flask) -> Button:
    with get_db(app).transaction() as session:
        planner = user(session, "planner2").id
        hr = session.scalar(select(Department.id).where(Department.slug == "hr"))

    def in_hr() -> bool:
        with get_db(app).transaction() as session:
            return [d.slug for d in user(session, "planner2").departments] == ["hr"]

    return Button(f"/admin/people/{planner}/departments", {f"person-{planner}-departments": hr},
                  in_hr)  # fmt: skip


def deactivate_person(app: Flask) -> Button:
    person = _person_id(app, "planner2")
    return Button(f"/admin/people/{person}/deactivate", {}, lambda: not _active(app, "planner2"))


def reactivate_person(app: Flask) -> Button:
    with get_db(app).transaction() as session:
        user(session, "planner2").active = False
    person = _person_id(app, "planner2")
    return Button(f"/admin/people/{person}/reactivate", {}, lambda: _active(app, "planner2"))


def renew_subscription(app: Flask) -> Button:
    def has_address() -> bool:
        with get_db(app).transaction() as session:
            return session.scalar(select(CalendarFeed.user_id)) is not None

    return Button("/subscription/renew", {}, has_address)


# Who may press which button; the rest are refused (nothing changes), anonymous goes to login.
BUTTONS: dict[Callable[[Flask], Button], tuple[str, ...]] = {
    submit: ("planner", "head", "admin"),
    approve: ("head", "admin"),
    send_back: ("head", "admin"),
    discard_own_draft: ("planner", "head", "admin"),
    discard_approved: ("head", "admin"),
    reschedule: ("planner", "head", "admin"),
    edit: ("planner", "head", "admin"),
    compose: ("planner", "head", "admin"),
    declare: ("head", "admin"),
    lift: ("head", "admin"),
    confirm_lift: ("head", "admin"),
    plan_blackout: ("head", "admin"),
    cancel_blackout: ("head", "admin"),
    release: ("head", "admin"),
    choose_language: ("planner", "head", "admin"),
    comment: ("planner", "head", "admin"),
    add_department: ("admin",),
    set_channel_owners: ("admin",),
    create_campaign: ("head", "admin"),
    edit_campaign: ("head", "admin"),
    set_person_departments: ("admin",),
    deactivate_person: ("admin",),
    reactivate_person: ("admin",),
    renew_subscription: ("planner", "head", "admin"),
}


@pytest.mark.parametrize("role", WEB_ROLES)
@pytest.mark.parametrize("action", list(BUTTONS), ids=lambda a: a.__name__)
def test_who_may_press_which_button(
    app: Flask, action: Callable[[Flask], Button], role: str
) -> None:
    button = action(app)
    browser = signed_in(app, role)
    token = csrf_token(browser, "/login" if role == "anonymous" else "/")
    if button.json:
        response = browser.post(button.path, json=button.data, headers={"X-CSRFToken": token})
    else:
        response = browser.post(button.path, data={**button.data, "csrf_token": token})
    allowed = role in BUTTONS[action]
    assert button.took_effect() is allowed, response.get_data(as_text=True)[:800]
    if role == "anonymous":
        assert response.status_code in (302, 401)
    elif not allowed:
        assert response.status_code in (302, 403)  # a refused button says why on the next page


# --- nothing is left open by accident: derived from the routing table, so new routes count ------


def _concrete(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?\w+>", "1", rule)


def _routes(app: Flask, prefix: str) -> list[tuple[str, str, str]]:
    return sorted(
        (rule.endpoint, method, _concrete(rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(prefix)
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    )


def test_every_api_route_but_health_and_description_wants_a_token(app: Flask) -> None:
    client = app.test_client()
    open_ones = {"api.health", "api.openapi"}
    checked = 0
    for endpoint, method, path in _routes(app, "api."):
        response = client.open(path, method=method, json={} if method != "GET" else None)
        if endpoint == "api.listening.inbound":
            # A webhook channel's inbound URL: the signature with the channel's secret is the
            # credential (tests/test_inbound_webhook.py).
            assert response.status_code == 401, path
            continue
        if endpoint in open_ones:
            assert response.status_code == 200, path
            continue
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.get_json()["error"]
        checked += 1
    assert checked >= 10


def test_every_page_and_button_wants_a_login(app: Flask) -> None:
    client = app.test_client()
    checked = 0
    for endpoint, method, path in _routes(app, "web."):
        # Public on purpose: login; the iCal feed (calendar programs cannot log in, its secret
        # token is the credential; an unknown or revoked one answers 404: tests/test_ical.py);
        # and the acknowledgement link in an escalation e-mail to someone outside the app (its
        # secret token is the key; tests/test_playbooks.py); an image's signed link in a webhook
        # (its signature is the key, and it expires; tests/test_media.py).
        if endpoint in ("web.login", "web.ical_feed", "web.acknowledge_link", "web.signed_media"):
            continue
        response = client.open(path, method=method)
        if method == "GET":
            assert response.status_code == 302, path
            assert response.location.startswith("/login"), path
        else:  # refused before anything happens: no CSRF token (400) or no login (302)
            assert response.status_code in (302, 400), (method, path, response.status_code)
        checked += 1
    assert checked >= 20
