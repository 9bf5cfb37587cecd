"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Handler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.mailbox.refused_recipients:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.mailbox.refuse:
            return "451 4.3.0 try again later"
        raw = envelope.original_content or b""
        mail = message_from_bytes(raw, policy=policy.default)
        with self.mailbox.lock:
            self.mailbox.messages.append((list(envelope.rcpt_tos), mail))  # type: ignore[arg-type]
        return "250 OK"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.lock = threading.Lock()
        self.refuse = False
        # Addresses the server refuses for good (550), as a real one refuses an unknown mailbox.
        self.refused_recipients: set[str] = set()
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=_free_port())

    def start(self) -> Mailbox:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return int(self.controller.port)

    def order(self) -> list[str]:
        """Who got mail, in the order it arrived."""
        with self.lock:
            return [rcpt for rcpts, _ in self.messages for rcpt in rcpts]

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [mail for rcpts, mail in self.messages if address in rcpts]
