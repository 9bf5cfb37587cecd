"""Schedulers that cannot read a channel's stored secret, as a test parametrisation: one started
without CHANNEL_SECRETS_KEY, and one with a key that did not seal the secret, each with what the
post's failure says."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet

from calendar_app.networks.secrets import ChannelSecrets

ANOTHER_KEYS_WORDS = (
    "the channel's stored secret cannot be decrypted with any key in CHANNEL_SECRETS_KEY "
    "(was a key dropped too early?): enter the secret again"
)


def unreadable_secret(secret: str) -> Any:
    """`@unreadable_secret("token")`: parametrises `secrets` (None, or another key) and `said`."""
    return pytest.mark.parametrize(
        ("secrets", "said"),
        [
            (None, f"no CHANNEL_SECRETS_KEY to decrypt the channel's {secret}"),
            (ChannelSecrets(Fernet.generate_key().decode()), ANOTHER_KEYS_WORDS),
        ],
        ids=["no key", "another key"],
    )
