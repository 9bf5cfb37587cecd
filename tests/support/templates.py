"""The template databases a test session copies each test's database from are made once per
session: migrated, then seeded with the cast. `make mutate` runs hundreds of sessions on one
tree and one PostgreSQL server, and making them was a tenth of a killed mutant's time; it names
a folder in CALENDAR_TEST_TEMPLATES, and then every session of that run uses the templates the
first one made (the SQLite file in the folder, the PostgreSQL database on the shared server)."""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

KEPT = "CALENDAR_TEST_TEMPLATES"


def kept_folder() -> Path | None:
    folder = os.environ.get(KEPT)
    return Path(folder) if folder else None


def made_once(kind: str, make: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What `make` returns (the cast it seeded): made now, or, with a kept folder, by the first
    session of the run; a lock makes a concurrent session wait for it."""
    folder = kept_folder()
    if folder is None:
        return make()
    with (folder / f"{kind}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        made = folder / f"{kind}.json"
        if made.exists():
            return json.loads(made.read_text())
        seeded = make()
        made.write_text(json.dumps(seeded))
        return seeded
