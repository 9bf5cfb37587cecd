"""Channel secrets encrypted at rest.

A channel's config keeps its secret fields (a webhook's `secret`, a Mastodon `access_token`)
as `fernet:<token>`, encrypted with the first key of CHANNEL_SECRETS_KEY; every listed key
decrypts, so a new key is put first, `calendar-app channels rotate-secrets` re-encrypts every
channel with it, and the old key is dropped afterwards. The plain value exists only in memory,
while a request is made with it: the API, the CSV export, the timeline and the logs never see it
(public_config leaves the fields out).

A value without the prefix is a secret stored before encryption existed: it still works, and
`calendar-app db upgrade` (or `rotate-secrets`) encrypts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from calendar_app.words import _l
from config import Config, ConfigError, channel_secret_keys

PREFIX = "fernet:"
# The fields of a channel's config that are secrets, by channel kind.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "webhook": ("secret",),
    "mastodon": ("access_token",),
    "bluesky": ("app_password",),
}


class SecretUnreadable(RuntimeError):
    """A stored secret that none of the configured keys decrypts."""


class ChannelSecrets:
    """Encrypts and decrypts channel secrets with the keys of CHANNEL_SECRETS_KEY."""

    def __init__(self, keys: str) -> None:
        self._fernet = MultiFernet([Fernet(k.encode()) for k in channel_secret_keys(keys)])

    @classmethod
    def from_config(cls, config: Config) -> ChannelSecrets:
        if not config.CHANNEL_SECRETS_KEY:
            raise ConfigError(
                "CHANNEL_SECRETS_KEY is not set: channel secrets cannot be read or stored"
            )
        return cls(config.CHANNEL_SECRETS_KEY)

    def seal(self, value: str) -> str:
        """The stored form of a secret (a stored form is returned as it is)."""
        if is_sealed(value):
            return value
        return PREFIX + self._fernet.encrypt(value.encode()).decode()

    def reveal(self, value: str) -> str:
        """The secret itself, from its stored form (a plain legacy value as it is)."""
        if not is_sealed(value):
            return value
        try:
            return self._fernet.decrypt(value[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                _l(
                    "the channel's stored secret cannot be decrypted with any key in "
                    "CHANNEL_SECRETS_KEY (was a key dropped too early?): enter the secret again"
                )
            ) from None

    def rotate(self, value: str) -> str:
        """The stored form under the newest key (a plain legacy value is encrypted)."""
        if not is_sealed(value):
            return self.seal(value)
        try:
            return PREFIX + self._fernet.rotate(value[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                "a stored channel secret cannot be decrypted with any key in CHANNEL_SECRETS_KEY"
            ) from None

    def seal_config(self, kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
        return _map_secrets(kind, config, self.seal)

    def reveal_config(self, kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
        return _map_secrets(kind, config, self.reveal)

    def rotate_config(self, kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
        return _map_secrets(kind, config, self.rotate)


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def without_secrets(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The config as anyone may see it: the secret fields left out."""
    hidden = SECRET_FIELDS.get(kind, ())
    return {k: v for k, v in config.items() if k not in hidden}


def _map_secrets(kind: str, config: Mapping[str, Any], change: Any) -> dict[str, Any]:
    result = dict(config)
    for name in SECRET_FIELDS.get(kind, ()):
        value = result.get(name)
        if isinstance(value, str) and value:
            result[name] = change(value)
    return result
