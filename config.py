"""Configuration from the environment.

Every setting the app reads is declared here once, with its default. The helpers fail loudly on a
bad value instead of guessing, so a typo in a deployment shows up at start, not in the middle of a
crisis.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent
DEFAULT_INSTANCE_PATH = PROJECT_ROOT / "instance"
ENVIRONMENTS = ("production", "development", "testing")
# Sessions are signed with SECRET_KEY: shorter keys can be guessed (OWASP: 256 bits).
MIN_SECRET_KEY_BYTES = 32


class ConfigError(RuntimeError):
    """A setting is missing or has a value the app cannot work with."""


def env_str(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip()


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"Unexpected value {name}={raw!r}: use a whole number") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"Unexpected value {name}={raw!r}: must be at least {minimum}")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = env_str(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"Unexpected value {name}={raw!r}: use a number") from None
    if value <= minimum:
        raise ConfigError(f"Unexpected value {name}={raw!r}: must be greater than {minimum}")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = env_str(name)
    if raw is None:
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"Unexpected value {name}={raw!r}: use 'true' or 'false'")


def env_timezone(name: str, default: str) -> str:
    value = env_str(name, default) or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"Unexpected value {name}={value!r}: use an IANA time zone such as Europe/Berlin"
        ) from None
    return value


def env_rate(name: str, default: str) -> str:
    """A rate such as `10 per 15 minutes` (the `limits` package's words)."""
    from limits import parse_many

    value = env_str(name, default) or default
    try:
        parse_many(value)
    except ValueError:
        raise ConfigError(
            f"Unexpected value {name}={value!r}: use a rate such as '10 per 15 minutes'"
        ) from None
    return value


def env_hosts(name: str) -> frozenset[str]:
    """Comma-separated host names, IP addresses or networks (CIDR), stored lower-case."""
    entries = set()
    for raw in (env_str(name) or "").split(","):
        entry = raw.strip().lower().rstrip(".")
        if not entry:
            continue
        try:
            ipaddress.ip_network(entry.strip("[]"), strict=False)
        except ValueError:
            labels = entry.split(".")
            if any(
                not label or len(label) > 63 or not all(c.isalnum() or c in "-_" for c in label)
                for label in labels
            ):
                raise ConfigError(
                    f"Unexpected value {name}={raw.strip()!r}: use host names, IP addresses or "
                    "networks such as 10.20.0.0/16, separated by commas"
                ) from None
        entries.add(entry.strip("[]"))
    return frozenset(entries)


@dataclass(frozen=True)
class Config:
    """All settings of one app instance. Tests build their own with `replace()`."""

    ENV: str = "production"
    SECRET_KEY: str | None = None
    DATABASE_URL: str = ""
    INSTANCE_PATH: Path = DEFAULT_INSTANCE_PATH
    TIMEZONE: str = "Europe/Berlin"
    SCHEDULER_INTERVAL_SECONDS: float = 1.0
    # Two people lift a crisis: one requests, another head or an admin confirms. 1: one is enough.
    CRISIS_LIFT_CONFIRMATIONS: int = 2
    # Four-eyes rule: a head may not approve their own post unless this is set.
    ALLOW_SELF_APPROVAL: bool = False
    # The dispatch pass: how many deliveries one claim takes, how many are sent at once.
    DISPATCH_BATCH_SIZE: int = 50
    DISPATCH_CONCURRENCY: int = 8
    # How long a claimed delivery may wait for a free sender; past it, it goes back to the queue.
    # (On the wire the lease is the request's deadline plus time to record it; past that lease
    # the delivery is `unknown`.)
    CLAIM_LEASE_SECONDS: int = 120
    # The total deadline of one request to a channel (connect, send, answer), which its lease
    # covers; a request never starts after it, and one that reaches it is cut off.
    WEBHOOK_TIMEOUT_SECONDS: float = 10.0
    WEBHOOK_MAX_ATTEMPTS: int = 4
    WEBHOOK_BACKOFF_SECONDS: float = 2.0
    # Outbound requests (webhooks, chat) in production go to public addresses only; hosts,
    # addresses or networks listed here are allowed even when private (an internal receiver).
    WEBHOOK_ALLOWED_HOSTS: frozenset[str] = frozenset()
    # A delivery found more than this many minutes after its time is not sent but `missed`.
    MISSED_AFTER_MINUTES: int = 30
    # Everyone is reminded of a blackout date this many hours before it begins (once).
    BLACKOUT_REMINDER_HOURS: int = 24
    # How long a crisis declaration waits at most for requests already on the wire (each ends by
    # its own deadline, WEBHOOK_TIMEOUT_SECONDS, so the answer usually comes sooner).
    DECLARE_WAIT_SECONDS: float = 15.0
    # Failed logins (login_budget.py, counted in the database): this many per account and per
    # client address are free, then each failure delays the next try, doubling up to the cap.
    LOGIN_LIMIT_PER_ACCOUNT: str = "10 per 15 minutes"
    LOGIN_LIMIT_PER_ADDRESS: str = "50 per 15 minutes"
    LOGIN_DELAY_SECONDS: float = 30.0
    LOGIN_MAX_DELAY_SECONDS: float = 900.0
    # How many reverse proxies stand in front of the app and append to X-Forwarded-For (and
    # set X-Forwarded-Proto). 0: the header is ignored, the client is the connecting address.
    TRUSTED_PROXIES: int = 0
    # Where people reach the app: links in e-mails and chat messages start with it.
    BASE_URL: str = "http://127.0.0.1:5000"
    # E-mail for notifications: off unless SMTP_HOST is set (in-app notifications always work).
    SMTP_HOST: str | None = None
    SMTP_PORT: int = 25
    SMTP_USERNAME: str | None = None
    SMTP_PASSWORD: str | None = field(default=None, repr=False)
    SMTP_STARTTLS: bool = False
    MAIL_FROM: str = "calendar_app <calendar@localhost>"
    # A generic chat incoming webhook (Slack, Teams, Mattermost...): POST {"text": ...}.
    CHAT_WEBHOOK_URL: str | None = None
    # How often e-mails and chat messages are tried before they are `failed`.
    OUTGOING_MAX_ATTEMPTS: int = 5
    # How often the graveyard check looks for silent channels and channels with nothing planned.
    GRAVEYARD_CHECK_SECONDS: float = 3600.0
    # Listening (calendar_app/listening/): how often mentions are read where the server offers
    # no stream, and the early warning on their volume.
    LISTEN_INTERVAL_SECONDS: float = 30.0
    # Mentions are counted in a sliding window of this many minutes ...
    SPIKE_WINDOW_MINUTES: int = 15
    # ... and fewer than this many in a window never open an alert (three at night are no storm).
    SPIKE_MIN_MENTIONS: int = 20
    # How long an undecided alert holds what falls due on its channels (0: never).
    SPIKE_HOLD_MINUTES: int = 30
    # The largest request body taken (bytes); a larger one is refused with 413 before it is read.
    # The CSV import takes a file of up to 5 MB whatever this says.
    MAX_CONTENT_LENGTH: int = 2 * 1024 * 1024
    # Fernet keys that encrypt channel secrets (webhook secrets, access tokens) in the database,
    # comma-separated, newest first: the first encrypts, all decrypt (key rotation).
    CHANNEL_SECRETS_KEY: str | None = field(default=None, repr=False)
    # Images on posts (media.py): the largest upload taken, where the files are kept (default:
    # `media/` in the instance folder), how long a signed link in a webhook stays valid, and
    # the most pixels an image may have (a larger one is refused as a decompression bomb).
    MEDIA_MAX_BYTES: int = 15 * 1024 * 1024
    MEDIA_DIR: Path | None = None
    MEDIA_URL_TTL_SECONDS: int = 24 * 3600
    MEDIA_MAX_PIXELS: int = 50_000_000
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def media_dir(self) -> Path:
        return self.MEDIA_DIR or self.INSTANCE_PATH / "media"

    @property
    def is_development(self) -> bool:
        return self.ENV in ("development", "testing")

    @classmethod
    def from_env(cls) -> Config:
        env = env_str("CALENDAR_ENV", "production") or "production"
        if env not in ENVIRONMENTS:
            raise ConfigError(
                f"Unexpected value CALENDAR_ENV={env!r}: use 'production' or 'development'"
            )
        instance = Path(env_str("CALENDAR_INSTANCE_PATH", str(DEFAULT_INSTANCE_PATH)) or "")
        return cls(
            ENV=env,
            SECRET_KEY=env_str("SECRET_KEY"),
            DATABASE_URL=env_str("DATABASE_URL") or f"sqlite:///{instance / 'calendar.db'}",
            INSTANCE_PATH=instance,
            TIMEZONE=env_timezone("CALENDAR_TIMEZONE", "Europe/Berlin"),
            SCHEDULER_INTERVAL_SECONDS=env_float("SCHEDULER_INTERVAL_SECONDS", 1.0),
            CRISIS_LIFT_CONFIRMATIONS=env_int("CRISIS_LIFT_CONFIRMATIONS", 2, minimum=1),
            ALLOW_SELF_APPROVAL=env_bool("ALLOW_SELF_APPROVAL", False),
            DISPATCH_BATCH_SIZE=env_int("DISPATCH_BATCH_SIZE", 50, minimum=1),
            DISPATCH_CONCURRENCY=env_int("DISPATCH_CONCURRENCY", 8, minimum=1),
            CLAIM_LEASE_SECONDS=env_int("CLAIM_LEASE_SECONDS", 120, minimum=5),
            WEBHOOK_TIMEOUT_SECONDS=env_float("WEBHOOK_TIMEOUT_SECONDS", 10.0),
            WEBHOOK_MAX_ATTEMPTS=env_int("WEBHOOK_MAX_ATTEMPTS", 4, minimum=1),
            WEBHOOK_BACKOFF_SECONDS=env_float("WEBHOOK_BACKOFF_SECONDS", 2.0),
            WEBHOOK_ALLOWED_HOSTS=env_hosts("WEBHOOK_ALLOWED_HOSTS"),
            DECLARE_WAIT_SECONDS=env_float("DECLARE_WAIT_SECONDS", 15.0),
            MISSED_AFTER_MINUTES=env_int("MISSED_AFTER_MINUTES", 30, minimum=1),
            BLACKOUT_REMINDER_HOURS=env_int("BLACKOUT_REMINDER_HOURS", 24, minimum=1),
            LOGIN_LIMIT_PER_ACCOUNT=env_rate("LOGIN_LIMIT_PER_ACCOUNT", "10 per 15 minutes"),
            LOGIN_LIMIT_PER_ADDRESS=env_rate("LOGIN_LIMIT_PER_ADDRESS", "50 per 15 minutes"),
            LOGIN_DELAY_SECONDS=env_float("LOGIN_DELAY_SECONDS", 30.0),
            LOGIN_MAX_DELAY_SECONDS=env_float("LOGIN_MAX_DELAY_SECONDS", 900.0),
            TRUSTED_PROXIES=env_int("TRUSTED_PROXIES", 0, minimum=0),
            BASE_URL=(env_str("CALENDAR_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
            SMTP_HOST=env_str("SMTP_HOST"),
            SMTP_PORT=env_int("SMTP_PORT", 25, minimum=1),
            SMTP_USERNAME=env_str("SMTP_USERNAME"),
            SMTP_PASSWORD=env_str("SMTP_PASSWORD"),
            SMTP_STARTTLS=env_bool("SMTP_STARTTLS", False),
            MAIL_FROM=env_str("MAIL_FROM") or "calendar_app <calendar@localhost>",
            CHAT_WEBHOOK_URL=env_str("CHAT_WEBHOOK_URL"),
            OUTGOING_MAX_ATTEMPTS=env_int("OUTGOING_MAX_ATTEMPTS", 5, minimum=1),
            GRAVEYARD_CHECK_SECONDS=env_float("GRAVEYARD_CHECK_SECONDS", 3600.0),
            LISTEN_INTERVAL_SECONDS=env_float("LISTEN_INTERVAL_SECONDS", 30.0, minimum=1.0),
            SPIKE_WINDOW_MINUTES=env_int("SPIKE_WINDOW_MINUTES", 15, minimum=1),
            SPIKE_MIN_MENTIONS=env_int("SPIKE_MIN_MENTIONS", 20, minimum=1),
            SPIKE_HOLD_MINUTES=env_int("SPIKE_HOLD_MINUTES", 30, minimum=0),
            MAX_CONTENT_LENGTH=env_int("MAX_CONTENT_LENGTH", 2 * 1024 * 1024, minimum=64 * 1024),
            CHANNEL_SECRETS_KEY=env_str("CHANNEL_SECRETS_KEY"),
            MEDIA_MAX_BYTES=env_int("MEDIA_MAX_BYTES", 15 * 1024 * 1024, minimum=64 * 1024),
            MEDIA_DIR=Path(media_dir) if (media_dir := env_str("MEDIA_DIR")) else None,
            MEDIA_URL_TTL_SECONDS=env_int("MEDIA_URL_TTL_SECONDS", 24 * 3600, minimum=60),
            MEDIA_MAX_PIXELS=env_int("MEDIA_MAX_PIXELS", 50_000_000, minimum=1_000_000),
        )

    def with_secret_key(self, *, required: bool) -> Config:
        """Return a config that has a secret key, or refuse to start.

        In production the key must come from the environment: a generated key would log everyone
        out on every restart and differ between workers. In development one is generated and kept
        in the instance folder, so a restart keeps you logged in.
        """
        if self.SECRET_KEY:
            short = len(self.SECRET_KEY.encode()) < MIN_SECRET_KEY_BYTES
            if required and short and not self.is_development:
                raise ConfigError(
                    f"SECRET_KEY is too short ({len(self.SECRET_KEY.encode())} bytes): in "
                    f"production it must have at least {MIN_SECRET_KEY_BYTES} bytes, or anyone "
                    "who guesses it can forge a session. Set a long random value, e.g. the "
                    "output of `python -c 'import secrets; print(secrets.token_hex(32))'`."
                )
            return self
        if not self.is_development:
            if required:
                raise ConfigError(
                    "SECRET_KEY is not set. calendar_app refuses to start in production without "
                    "it: set SECRET_KEY to a long random value (e.g. the output of "
                    "`python -c 'import secrets; print(secrets.token_hex(32))'`), or set "
                    "CALENDAR_ENV=development on a developer's machine."
                )
            return self
        return replace(self, SECRET_KEY=_development_secret(self.INSTANCE_PATH))

    def with_channel_secrets_key(self, *, required: bool) -> Config:
        """Return a config with a usable CHANNEL_SECRETS_KEY, or refuse to start.

        Every listed key must be a Fernet key. In production the key must come from the
        environment (a generated one would make every stored secret unreadable on the next
        machine); in development one is generated and kept in the instance folder.
        """
        if self.CHANNEL_SECRETS_KEY:
            channel_secret_keys(self.CHANNEL_SECRETS_KEY)
            return self
        if not self.is_development:
            if required:
                raise ConfigError(
                    "CHANNEL_SECRETS_KEY is not set. calendar_app refuses to start in production "
                    "without it: channel secrets (webhook secrets, access tokens) are stored "
                    "encrypted with it. Set it to the output of `python -c 'from "
                    "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'` "
                    "and keep it safe: without it the stored secrets cannot be read."
                )
            return self
        return replace(
            self, CHANNEL_SECRETS_KEY=_development_secret(self.INSTANCE_PATH, fernet=True)
        )


def channel_secret_keys(value: str) -> list[str]:
    """The comma-separated keys of CHANNEL_SECRETS_KEY, newest first; each must be a Fernet key
    (32 bytes, url-safe base64)."""
    import base64
    import binascii

    keys = [k.strip() for k in value.split(",") if k.strip()]
    if not keys:
        raise ConfigError("Unexpected value CHANNEL_SECRETS_KEY: it names no key")
    for number, key in enumerate(keys, start=1):
        try:
            ok = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (binascii.Error, ValueError):
            ok = False
        if not ok:
            raise ConfigError(
                f"Unexpected value CHANNEL_SECRETS_KEY: key {number} is not a Fernet key "
                "(32 bytes in url-safe base64, as `Fernet.generate_key()` makes them)"
            )
    return keys


def _development_secret(instance_path: Path, *, fernet: bool = False) -> str:
    name = "development-channel-secrets-key" if fernet else "development-secret-key"
    key_file = instance_path / name
    make = _fernet_key if fernet else lambda: secrets.token_hex(32)
    try:
        if key_file.exists():
            return key_file.read_text().strip()
        instance_path.mkdir(parents=True, exist_ok=True)
        key = make()
        key_file.write_text(key)
        key_file.chmod(0o600)
        return key
    except OSError:
        return make()


def _fernet_key() -> str:
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
