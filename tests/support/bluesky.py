"""A real Bluesky PDS on loopback: the reference `@atproto/pds` with a local PLC directory,
started by tests/support/bluesky_network.cjs (npm packages pinned in package.json, installed by
`make test`).

Each test makes its own account (`new_account`): a handle under the PDS's own domain (`.test`),
a password, and an app password for the channel, as a person would make one in the app's
settings. What is on the PDS is read back through its public XRPC API, never from our tables.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from config import PROJECT_ROOT

SCRIPT = Path(__file__).with_name("bluesky_network.cjs")
NODE_MODULES = PROJECT_ROOT / "node_modules" / "@atproto" / "dev-env"
POST = "app.bsky.feed.post"


@pytest.fixture(scope="session")
def bluesky_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlueskyServer]:
    """One Bluesky network per test session, started when a test first needs it: a module that
    defined its own (or imported this one) started another, about 5 s each."""
    server = BlueskyServer(tmp_path_factory.mktemp("bluesky")).start()
    yield server
    server.stop()


@dataclass(frozen=True)
class BlueskyAccount:
    did: str
    handle: str
    password: str
    app_password: str


class BlueskyServer:
    def __init__(self, workdir: Path, *, blob_upload_limit: int | None = None) -> None:
        """`blob_upload_limit`: the largest blob the PDS takes, in bytes (else its 5 MB)."""
        self.workdir = workdir
        self.blob_upload_limit = blob_upload_limit
        self.process: subprocess.Popen[str] | None = None
        self.url = ""  # the PDS, e.g. http://127.0.0.1:40011
        self.plc_url = ""
        self._log = workdir / "bluesky_network.log"

    def start(self, timeout: float = 60.0) -> BlueskyServer:
        if shutil.which("node") is None:
            raise RuntimeError("node is missing: the Bluesky tests run the PDS on Node.js 18.7+")
        if not NODE_MODULES.is_dir():
            raise RuntimeError(
                f"{NODE_MODULES} is missing: the Bluesky tests need the PDS from npm "
                "(`make test` runs `npm ci`; or run `npm ci --no-audit --no-fund` once)"
            )
        # The PDS keeps its data and blobs under the temporary folder: this test session's.
        env = {**os.environ, "TMPDIR": str(self.workdir)}
        if self.blob_upload_limit is not None:
            env["PDS_BLOB_UPLOAD_LIMIT"] = str(self.blob_upload_limit)
        with self._log.open("w") as log:
            self.process = subprocess.Popen(
                ["node", str(SCRIPT)],
                cwd=PROJECT_ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        ready: list[str] = []
        reader = threading.Thread(
            target=lambda: ready.append(self.process.stdout.readline()),  # type: ignore[union-attr]
            daemon=True,
        )
        reader.start()
        reader.join(timeout)
        if not ready or not ready[0].strip():
            self.stop()
            raise RuntimeError(
                f"the Bluesky network did not start: {self._log.read_text()[-2000:]}"
            )
        urls = json.loads(ready[0])
        # The PDS names itself `localhost`; loopback by address, so nothing tries ::1 first.
        self.url = urls["pds"].replace("//localhost:", "//127.0.0.1:")
        self.plc_url = urls["plc"].replace("//localhost:", "//127.0.0.1:")
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.stdin.close()  # type: ignore[union-attr]  # the script closes the network
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()  # type: ignore[union-attr]

    # --- XRPC ----------------------------------------------------------------------------------

    def xrpc(
        self, method: str, nsid: str, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.request(
            method, f"{self.url}/xrpc/{nsid}", headers=headers, timeout=30, **kwargs
        )

    def _ok(self, answer: httpx.Response) -> Any:
        if answer.status_code != 200:
            raise AssertionError(f"PDS answered {answer.status_code}: {answer.text}")
        return answer.json() if answer.content else None

    def new_account(self, name: str) -> BlueskyAccount:
        """An account `name.test` with its own app password."""
        handle = f"{name}.test"
        password = f"pw-{name}-secret"
        made = self._ok(
            self.xrpc(
                "POST", "com.atproto.server.createAccount",
                json={"handle": handle, "email": f"{name}@stadtwerke.test", "password": password},
            )
        )  # fmt: skip
        app = self._ok(
            self.xrpc(
                "POST", "com.atproto.server.createAppPassword",
                token=made["accessJwt"], json={"name": "calendar_app"},
            )
        )  # fmt: skip
        return BlueskyAccount(made["did"], made["handle"], password, app["password"])

    def sign_in(self, account: BlueskyAccount) -> dict[str, Any]:
        return self._ok(
            self.xrpc(
                "POST", "com.atproto.server.createSession",
                json={"identifier": account.handle, "password": account.password},
            )
        )  # fmt: skip

    def revoke_app_passwords(self, account: BlueskyAccount) -> None:
        token = self.sign_in(account)["accessJwt"]
        listed = self._ok(self.xrpc("GET", "com.atproto.server.listAppPasswords", token=token))
        for app in listed["passwords"]:
            self._ok(
                self.xrpc(
                    "POST", "com.atproto.server.revokeAppPassword",
                    token=token, json={"name": app["name"]},
                )
            )  # fmt: skip

    def deactivate(self, account: BlueskyAccount) -> None:
        """The account's owner deactivates it: it still signs in, its repo is no longer served."""
        token = self.sign_in(account)["accessJwt"]
        self._ok(self.xrpc("POST", "com.atproto.server.deactivateAccount", token=token, json={}))

    # --- reading back what is on the PDS ---------------------------------------------------------

    def posts(self, account: BlueskyAccount) -> list[dict[str, Any]]:
        """The account's posts, newest first: `{"uri", "cid", "value"}` each."""
        listed = self._ok(
            self.xrpc(
                "GET", "com.atproto.repo.listRecords",
                params={"repo": account.did, "collection": POST, "limit": 100},
            )
        )  # fmt: skip
        return listed["records"]

    def record(self, account: BlueskyAccount, rkey: str) -> dict[str, Any] | None:
        answer = self.xrpc(
            "GET", "com.atproto.repo.getRecord",
            params={"repo": account.did, "collection": POST, "rkey": rkey},
        )  # fmt: skip
        if answer.status_code == 400 and answer.json().get("error") == "RecordNotFound":
            return None
        return self._ok(answer)

    def write_post(self, account: BlueskyAccount, text: str, rkey: str | None = None) -> dict:
        """A post written straight to the PDS, as a sender that died would have left it."""
        token = self.sign_in(account)["accessJwt"]
        record = {"$type": POST, "text": text, "createdAt": "2026-12-01T10:00:00.000Z"}
        body: dict[str, Any] = {"repo": account.did, "collection": POST, "record": record}
        if rkey is not None:
            body["rkey"] = rkey
        return self._ok(self.xrpc("POST", "com.atproto.repo.createRecord", token=token, json=body))


def counting(target: Any, name: str) -> Callable[[], int]:
    """Wrap `target.name` so that its calls are counted; returns how to read the count."""
    calls = [0]
    original = getattr(target, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    setattr(target, name, wrapped)
    return lambda: calls[0]
