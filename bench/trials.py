"""The randomized crisis trials of the test suite (tests/test_scale_out.py: three scheduler
processes, receivers that are sometimes slow and sometimes answer 503 with Retry-After, people
discarding, editing, releasing and declaring while a head declares a crisis), run here with many
more trials than `make test` runs. Its assertions are the figures: zero requests in scope after
a declaration returned, zero deliveries accepted twice, zero lost."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

from bench.world import ROOT

TEST = "tests/test_scale_out.py::test_crisis_declared_at_random_moments_stops_every_scheduler"


@dataclass
class TrialsResult:
    passed: bool
    summary: str


def crisis_trials(trials: int) -> TrialsResult:
    env = {**os.environ, "CRISIS_TRIALS": str(trials)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "--timeout",
         str(600 + trials), TEST],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    found = re.search(r"crisis trials: (.*)", done.stdout)
    summary = found.group(1) if found else f"{trials} trials"
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-2000:], file=sys.stderr)
    return TrialsResult(done.returncode == 0, summary)
