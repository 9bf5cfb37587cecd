"""The `calendar-app` command."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

import click
from flask import Flask

from calendar_app import create_app, keep_startup_out_of_collections
from calendar_app.errors import RuleError
from calendar_app.extensions import get_db
from config import Config, ConfigError

log = logging.getLogger(__name__)


def _app(*, serving: bool = False, sending: bool = False) -> Flask:
    """`sending`: the process publishes (the scheduler), so it needs the key that decrypts the
    channels' secrets, also when it serves no page."""
    try:
        config = Config.from_env()
        if sending:
            config = config.with_channel_secrets_key(required=True)
        return create_app(config, serving=serving)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _exit_on_sigterm() -> None:
    """SIGTERM ends the process like Ctrl-C: servers stop, sends in flight finish."""

    def _handler(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _handler)


def _fail(exc: RuleError) -> click.ClickException:
    details = "".join(f"\n  {k}: {v}" for k, v in exc.fields.items())
    return click.ClickException(exc.message + details)


@click.group(help="calendar_app: the editorial calendar with a crisis override.")
def main() -> None:
    pass


@main.group(help="Database schema.")
def db() -> None:
    pass


@db.command("upgrade", help="Create or migrate the schema to the newest version.")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    from calendar_app.migrate import upgrade

    config = Config.from_env()
    if config.DATABASE_URL.startswith("sqlite"):
        config.INSTANCE_PATH.mkdir(parents=True, exist_ok=True)
    upgrade(config.DATABASE_URL, revision)
    _encrypt_plain_secrets(config)
    click.echo("database is up to date", err=True)


def _encrypt_plain_secrets(config: Config) -> None:
    """Channel secrets stored before they were encrypted are encrypted now (once)."""
    from calendar_app.channels import encrypt_channel_secrets, stored_in_plain
    from calendar_app.db import Database
    from calendar_app.networks.secrets import ChannelSecrets

    db = Database(config.DATABASE_URL)
    try:
        with db.transaction() as session:
            plain = stored_in_plain(session)
            if not plain:
                return
            try:
                keyed = config.with_channel_secrets_key(required=True)
            except ConfigError as exc:
                raise click.ClickException(
                    f"{plain} channel(s) keep a secret in plain text and cannot be encrypted: {exc}"
                ) from None
            changed = encrypt_channel_secrets(
                session, ChannelSecrets.from_config(keyed), rotate=False
            )
        click.echo(f"encrypted the secrets of {changed} channel(s)", err=True)
    finally:
        db.dispose()


@main.command(help="Serve the app with a real WSGI server (waitress), scheduler included.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@click.option(
    "--no-scheduler", is_flag=True, help="Serve only; run `calendar-app scheduler` apart."
)
def serve(host: str, port: int, threads: int, no_scheduler: bool) -> None:
    from waitress import serve as waitress_serve

    app = _app(serving=True)
    keep_startup_out_of_collections()
    _exit_on_sigterm()
    scheduler = dispatcher = None
    if not no_scheduler:
        from calendar_app.scheduler import start_background

        scheduler, dispatcher = start_background(app)
    click.echo(f"calendar_app listening on http://{host}:{port}", err=True)
    try:
        waitress_serve(app, host=host, port=port, threads=threads, ident="calendar_app")
    finally:
        if scheduler is not None and dispatcher is not None:
            dispatcher.stop()
            scheduler.shutdown(wait=True)
            dispatcher.close()


@main.command(help="Run the scheduler alone (several may run against one PostgreSQL database).")
@click.option("--once", is_flag=True, help="Do one dispatch pass and exit.")
def scheduler(once: bool) -> None:
    from calendar_app.scheduler import build_dispatcher, run_blocking

    app = _app(sending=True)
    if not once:
        keep_startup_out_of_collections()
        _exit_on_sigterm()
        run_blocking(app)
        return
    dispatcher = build_dispatcher(app)
    try:
        report = dispatcher.run_pass()
    finally:
        dispatcher.close()
    click.echo(
        f"published={len(report.published)} retried={len(report.retried)} "
        f"failed={len(report.failed)} held_posts={len(report.held_posts)} "
        f"unknown={len(report.expired)}",
        err=True,
    )


@main.group(help="Channels.")
def channels() -> None:
    pass


@channels.command(
    "rotate-secrets",
    help="Re-encrypt every channel's secrets with the first key of CHANNEL_SECRETS_KEY "
    "(after putting a new key first); secrets still in plain text are encrypted too.",
)
def channels_rotate_secrets() -> None:
    from calendar_app.channels import encrypt_channel_secrets
    from calendar_app.networks.secrets import ChannelSecrets, SecretUnreadable

    try:
        secrets = ChannelSecrets.from_config(
            Config.from_env().with_channel_secrets_key(required=True)
        )
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    app = _app()
    try:
        with get_db(app).transaction() as session:
            changed = encrypt_channel_secrets(session, secrets)
    except SecretUnreadable as exc:
        raise click.ClickException(f"nothing was changed: {exc}") from None
    finally:
        get_db(app).dispose()
    click.echo(f"re-encrypted the secrets of {changed} channel(s)", err=True)


@main.group(help="People who use the calendar.")
def users() -> None:
    pass


@users.command("create", help="Create a user; the password is read from standard input.")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["planner", "head", "admin"]))
@click.option("--name", default=None)
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from stdin.")
@click.option(
    "--department",
    "departments",
    multiple=True,
    metavar="SLUG",
    help="A department the user works in (repeatable; the first is their default).",
)
def users_create(
    email: str, role: str, name: str | None, password_stdin: bool, departments: tuple[str, ...]
) -> None:
    from calendar_app.accounts import create_user
    from calendar_app.departments import departments_by_slugs

    password = sys.stdin.readline().rstrip("\r\n")
    app = _app()
    try:
        with get_db(app).transaction() as session:
            user = create_user(session, email, role=role, password=password, name=name)
            if departments:
                # Setting up an account from the server's shell is an admin's act by definition.
                user.departments = departments_by_slugs(session, departments)
            click.echo(f"created {user.role} {user.email} (id {user.id})", err=True)
    except RuleError as exc:
        raise _fail(exc) from None


@users.command(
    "deactivate",
    help="Someone left: refuse their password, end their sessions, revoke their API tokens, "
    "hand on their channels.",
)
@click.argument("email")
def users_deactivate(email: str) -> None:
    from calendar_app.accounts import user_by_email
    from calendar_app.people import deactivate_user

    app = _app()
    try:
        with get_db(app).transaction() as session:
            person = user_by_email(session, email)
            if person is None:
                raise click.ClickException(f"no user with e-mail {email}")
            done = deactivate_user(session, None, person)
            if not done.changed:
                click.echo(f"{person.email} was deactivated already", err=True)
                return
            click.echo(f"deactivated {person.email}: {done.tokens_revoked} API token(s) revoked",
                       err=True)  # fmt: skip
            for handover in done.handovers:
                owner = handover.channel.owner.email if handover.channel.owner else "nobody"
                click.echo(f"  channel {handover.channel.name}: was {handover.was}; "
                           f"owner now {owner}, needs a deputy", err=True)  # fmt: skip
    except RuleError as exc:
        raise _fail(exc) from None


@users.command("reactivate", help="Let a deactivated person log in again.")
@click.argument("email")
def users_reactivate(email: str) -> None:
    from calendar_app.accounts import user_by_email
    from calendar_app.people import reactivate_user

    app = _app()
    with get_db(app).transaction() as session:
        person = user_by_email(session, email)
        if person is None:
            raise click.ClickException(f"no user with e-mail {email}")
        reactivate_user(session, None, person)
        click.echo(f"reactivated {person.email}: they may log in again", err=True)


@users.command(
    "unlock", help="Clear the failed-login delay of an account (its owner may log in at once)."
)
@click.argument("email")
def users_unlock(email: str) -> None:
    from calendar_app.accounts import user_by_email
    from calendar_app.login_budget import forget_account

    app = _app()
    with get_db(app).transaction() as session:
        if user_by_email(session, email) is None:
            raise click.ClickException(f"no user with e-mail {email}")
        had_delay = forget_account(session, email)
    log.info("login budget cleared by an admin: account=%s", email)
    click.echo(
        f"{email} may log in now" + ("" if had_delay else " (there were no failed logins)"),
        err=True,
    )


@main.group(help="API tokens.")
def tokens() -> None:
    pass


@tokens.command("create", help="Print a new API token for a user (shown once).")
@click.argument("email")
@click.option("--label", default="", help="What the token is for.")
def tokens_create(email: str, label: str) -> None:
    from calendar_app.accounts import create_token, user_by_email

    app = _app()
    with get_db(app).transaction() as session:
        user = user_by_email(session, email)
        if user is None:
            raise click.ClickException(f"no user with e-mail {email}")
        token = create_token(session, user, label)
    click.echo(token)


@tokens.command("list", help="List a user's API tokens (never the tokens themselves).")
@click.argument("email")
def tokens_list(email: str) -> None:
    from calendar_app.accounts import tokens_of, user_by_email
    from calendar_app.timeutil import iso_utc

    app = _app()
    with get_db(app).transaction() as session:
        user = user_by_email(session, email)
        if user is None:
            raise click.ClickException(f"no user with e-mail {email}")
        click.echo("id\tprefix\tlabel\tcreated\tlast used\trevoked")
        for token in tokens_of(session, user):
            fields = (
                str(token.id),
                token.prefix or "-",
                token.label or "-",
                iso_utc(token.created_at) or "-",
                iso_utc(token.last_used_at) or "never",
                iso_utc(token.revoked_at) or "-",
            )
            click.echo("\t".join(fields))


@tokens.command("revoke", help="Revoke an API token, by its id or its prefix (from `list`).")
@click.argument("token_id_or_prefix")
def tokens_revoke(token_id_or_prefix: str) -> None:
    from calendar_app.accounts import find_token, revoke_token

    app = _app()
    try:
        with get_db(app).transaction() as session:
            token = revoke_token(session, find_token(session, token_id_or_prefix))
            owner = token.user.email
            click.echo(f"revoked token {token.id} ({token.prefix or 'no prefix'}) of {owner}")
    except RuleError as exc:
        raise _fail(exc) from None


@main.command(help="Fill an empty database with a demo team, channels and a month of plans.")
@click.option("--password", default=None, help="Password for all demo users (default: random).")
@click.option("--if-empty", is_flag=True, help="Do nothing (exit 0) when the database has data.")
def demo(password: str | None, if_empty: bool) -> None:
    from calendar_app.demo import DatabaseNotEmpty, fill_demo

    app = _app()
    config: Config = app.config["CALENDAR"]
    try:
        with get_db(app).transaction() as session:
            summary = fill_demo(
                session, password=password, timezone=config.TIMEZONE, media_dir=config.media_dir
            )
    except DatabaseNotEmpty as exc:
        if if_empty:
            click.echo(f"demo not loaded: {exc}", err=True)
            return
        raise click.ClickException(str(exc)) from None
    click.echo(summary.describe())
