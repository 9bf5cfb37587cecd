"""A real Mastodon REST API on loopback: `mastodon_mock` from PyPI in its own process.

Stateful (in-memory SQLite), with Mastodon's Idempotency-Key handling and a fault-injection
control plane (`/api/v1/_mock/faults`). Each test makes its own account (`new_account`), so
statuses and idempotency keys of one test never meet another's.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support.postgres import free_port


@dataclass(frozen=True)
class MastodonAccount:
    id: str
    username: str
    access_token: str


class MastodonServer:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._log = workdir / "mastodon_mock.log"

    def start(self, timeout: float = 30.0) -> MastodonServer:
        # An empty config of its own: the mock otherwise reads the working directory's files.
        config = self.workdir / "mastodon_mock.toml"
        config.write_text("[faults]\nenabled = true\n")
        with self._log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(Path(sys.executable).with_name("mastodon_mock")),
                    "serve",
                    "--config",
                    str(config),
                    "--in-memory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                ],
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            if self.process.poll() is not None:
                raise RuntimeError(f"mastodon_mock exited: {self._log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/api/v1/instance", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("mastodon_mock did not start in time")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    # --- the mock's control plane ---------------------------------------------------------------

    def new_account(self, username: str) -> MastodonAccount:
        answer = httpx.post(f"{self.base_url}/api/v1/_mock/dev_user", json={"username": username})
        answer.raise_for_status()
        body = answer.json()
        return MastodonAccount(body["id"], body["username"], body["access_token"])

    def revoke(self, token: str) -> None:
        httpx.post(f"{self.base_url}/oauth/revoke", data={"token": token}).raise_for_status()

    def fault(
        self,
        *,
        status: int,
        path: str = "/api/v1/statuses",
        method: str = "POST",
        count: int | None = 1,
        effect: str = "status",
        headers: dict[str, str] | None = None,
        body: Any = None,
        delay_ms: int = 0,
    ) -> None:
        rule: dict[str, Any] = {
            "match": {"methods": [method], "path": path},
            "effect": {
                "type": effect,
                "status": status,
                "headers": headers or {},
                "delay_ms": delay_ms,
            },
            "count": count,
        }
        if body is not None:
            rule["effect"]["body"] = body
        httpx.post(f"{self.base_url}/api/v1/_mock/faults", json=rule).raise_for_status()

    def clear_faults(self) -> None:
        httpx.delete(f"{self.base_url}/api/v1/_mock/faults").raise_for_status()

    # --- reading back what is on the server, through its public API ------------------------------

    def statuses(self, account: MastodonAccount) -> list[dict[str, Any]]:
        answer = httpx.get(
            f"{self.base_url}/api/v1/accounts/{account.id}/statuses", params={"limit": 40}
        )
        answer.raise_for_status()
        return answer.json()

    def source_text(self, status_id: str) -> str:
        answer = httpx.get(f"{self.base_url}/api/v1/statuses/{status_id}/source")
        answer.raise_for_status()
        return answer.json()["text"]

    def post_status(self, account: MastodonAccount, text: str, key: str | None = None) -> dict:
        headers = {"Authorization": f"Bearer {account.access_token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        answer = httpx.post(
            f"{self.base_url}/api/v1/statuses",
            json={"status": text, "visibility": "public"},
            headers=headers,
        )
        answer.raise_for_status()
        return answer.json()
