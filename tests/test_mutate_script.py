"""`make mutate --recheck` makes a survivor's change in today's source by the text of its diff."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("mutate", ROOT / "scripts" / "mutate.py")
assert spec
assert spec.loader
mutate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mutate)

SOURCE = """\
def wait(ids, *, timeout: float, grace: float = 1.0, poll: float = 0.02):
    deadline = now() + timeout
    while now() < deadline:
        sleep(poll)
"""

# As `mutmut show` prints it: line numbers count from the function's first line.
DIFF = """\
# calendar_app.crisis.x_wait__mutmut_7: survived
--- calendar_app/crisis.py
+++ calendar_app/crisis.py
@@ -1,3 +1,3 @@
 def wait(ids, *, timeout: float, grace: float = 1.0, poll: float = 0.02):
-    deadline = now() + timeout
+    deadline = now() - timeout
     while now() < deadline:
"""


def test_a_survivors_change_is_made_where_its_lines_are_today() -> None:
    moved = "import time\n\n\n" + SOURCE
    assert mutate.apply_mutant(moved, DIFF) == moved.replace("now() + timeout", "now() - timeout")


def test_a_survivor_whose_code_is_gone_does_not_apply() -> None:
    assert mutate.apply_mutant(SOURCE.replace("+ timeout", "+ timeout * 2"), DIFF) is None
    assert mutate.apply_mutant(SOURCE + SOURCE, DIFF) is None  # which of the two: unknown


def test_context_that_changed_since_is_left_out_of_the_match() -> None:
    commented = SOURCE.replace("    while now() < deadline:", "    while now() < deadline:  # poll")
    assert mutate.apply_mutant(commented, DIFF) == commented.replace(
        "now() + timeout", "now() - timeout"
    )


def test_a_run_by_function_names_a_methods_mutants_with_its_class() -> None:
    assert mutate.mutant_patterns("calendar_app/crisis.py", ["_lift", "ImpactPreview.summary"]) == [
        "calendar_app.crisis.x__lift__mutmut_*",
        "calendar_app.crisis.xǁImpactPreviewǁsummary__mutmut_*",
    ]
