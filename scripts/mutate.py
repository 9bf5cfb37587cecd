"""`make mutate`: mutation testing (mutmut) of the modules that carry the guarantees, each
against a targeted selection of tests that runs on SQLite and PostgreSQL. Not part of
`make test`: a full run takes hours on two cores; name modules to run some.

For each module it makes a scratch copy of the committed tree (a git worktree under
build/mutate/<name>), writes mutmut's settings for that module into the copy's pyproject.toml,
runs mutmut there with this interpreter, and writes every mutant's result to
build/mutate/<name>.txt. At the end: a table of scores (killed of the mutants some test ran).
One PostgreSQL server serves every mutant's tests (tests/support/postgres.py,
PostgresServer.shared): starting one per mutant took a third of a mutant's time. The template
databases are made once per run too (tests/support/templates.py).

    python scripts/mutate.py [--max-children N] [--resume] [--functions f,g] [module ...]
    (modules: see MODULES; --functions runs only the mutants of those functions)

    python scripts/mutate.py --recheck [--tests t,u] module ...
    (each survivor of the module's last run applied to today's source, and the tests run against
    it: to see which survivors the tests written since kill, without a new run)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.postgres import SHARED_PORT, PostgresServer, find_bin_dir  # noqa: E402
from tests.support.templates import KEPT  # noqa: E402

WORK = ROOT / "build" / "mutate"
MUTMUT = str(Path(sys.executable).with_name("mutmut"))

# module -> (the file mutated, the tests that pin it)
MODULES: dict[str, tuple[str, list[str]]] = {
    "claims": (
        "calendar_app/claims.py",
        [
            "tests/test_pinned_guarantees.py",
            "tests/test_crisis_halt.py",
            "tests/test_missed.py",
            "tests/test_webhook_delivery.py",
            "tests/test_blackouts.py",
            "tests/test_early_warning.py",
        ],
    ),
    "holds": (
        "calendar_app/holds.py",
        [
            "tests/test_topic_holds.py",
            "tests/test_pinned_guarantees.py",
            "tests/test_blackouts.py",
            "tests/test_crisis_rules.py::test_the_declare_form_shows_a_topic_or_keyword_too_long_at_its_field",
            "tests/test_crisis_halt.py::test_a_crisis_response_answers_only_the_crisis_in_force",
        ],
    ),
    "crisis": (
        "calendar_app/crisis.py",
        [
            "tests/test_crisis_rules.py",
            "tests/test_pinned_guarantees.py",
            "tests/test_crisis_halt.py",
            "tests/test_impact_preview.py",
            "tests/test_missed.py",
            "tests/test_timeline.py",
            "tests/test_topic_holds.py",
            "tests/test_early_warning.py",
            "tests/test_blackouts.py",
            "tests/test_api_validation.py::test_declaring_a_crisis_with_bad_input_names_the_field_and_declares_nothing",
            "tests/test_api_validation.py::test_lifting_a_crisis_needs_a_note",
            "tests/test_ownership.py::test_who_may_change_submit_approve_release_and_discard",
            "tests/test_post_news.py::test_a_discard_by_a_head_tells_the_author_with_the_reason",
        ],
    ),
    "blackouts": ("calendar_app/blackouts.py", ["tests/test_blackouts.py"]),
    "permissions": (
        "calendar_app/permissions.py",
        [
            "tests/test_api_roles.py",
            "tests/test_ownership.py",
            "tests/test_post_workflow.py",
            "tests/test_security.py",
            "tests/test_media.py",
            "tests/test_timeline.py",
            "tests/test_topic_holds.py::test_a_held_word_in_the_title_body_or_a_channels_own_text_needs_another_head",
            "tests/test_inbox.py::test_a_reply_from_the_inbox_appears_on_the_server_as_a_reply_to_the_right_status",
        ],
    ),
    "planning": (
        "calendar_app/planning.py",
        [
            "tests/test_post_workflow.py",
            "tests/test_ownership.py",
            "tests/test_pinned_guarantees.py",
            "tests/test_duplicate.py",
            "tests/test_channel_overrides.py",
            "tests/test_puppet_museum.py",
            # Sending back is a form of the web pages; a playbook schedules its statements.
            "tests/test_web.py::test_a_head_sends_a_post_back_with_a_comment",
            "tests/test_post_news.py::test_a_submitted_post_tells_the_heads_and_its_approval_tells_the_author",
            "tests/test_post_news.py::test_a_post_sent_back_tells_its_author_what_to_change",
            "tests/test_security.py::test_who_may_press_which_button",
            "tests/test_playbooks.py::test_a_playbook_declaration_publishes_exactly_its_statements_and_holds_the_rest",
            "tests/test_playbooks.py::test_explicit_scope_replaces_the_playbooks_default",
            "tests/test_bulk.py",
            "tests/test_api_validation.py",
            "tests/test_departments.py",
            "tests/test_media.py",
            "tests/test_topic_holds.py",
            "tests/test_crisis_halt.py::test_the_crisis_response_flag_outside_a_crisis_is_refused",
            "tests/test_crisis_halt.py::test_a_draft_marked_as_crisis_response_during_the_crisis_goes_out_and_unmarked_is_held",
            "tests/test_crisis_halt.py::test_an_edit_during_a_claim_takes_the_delivery_back_and_a_new_approval_sends_it_once",
            # A post's status settled after a discard, and its author told.
            "tests/test_crisis_halt.py::test_a_post_discarded_while_its_request_is_on_the_wire_is_never_retried",
            "tests/test_crisis_halt.py::test_a_discard_during_a_send_records_what_it_withdrew_and_what_was_already_on_the_wire",
            "tests/test_crisis_halt.py::test_a_send_given_back_at_shutdown_after_a_discard_ends_discarded",
            "tests/test_crisis_halt.py::test_a_discarded_post_whose_sender_vanished_mid_send_stays_discarded",
            "tests/test_post_news.py::test_held_released_published_and_failed_reach_the_author",
            "tests/test_post_news.py::test_the_author_hears_of_a_status_once_however_many_deliveries_come_to_it",
            # A release answers with the post's settled status.
            "tests/test_crisis_rules.py::test_releasing_now_while_the_crisis_is_in_force_is_refused_but_a_later_time_is_accepted",
            "tests/test_api_roles.py::test_a_head_may_approve_their_own_post_where_the_app_is_configured_so",
            "tests/test_campaigns.py::test_an_unknown_campaign_is_named_as_the_problem",
        ],
    ),
    "dispatch": (
        "calendar_app/dispatch.py",
        [
            "tests/test_dispatch.py",
            "tests/test_webhook_delivery.py",
            "tests/test_crisis_halt.py",
            "tests/test_missed.py",
            "tests/test_mastodon.py",
            "tests/test_media.py",
            "tests/test_channel_overrides.py::test_a_shorter_override_lets_a_long_post_go_to_x_as_well",
            "tests/test_inbox.py::test_a_reply_from_the_inbox_appears_on_the_server_as_a_reply_to_the_right_status",
        ],
    ),
    # The publishers, against the real servers: sending, images, replies from the inbox, the
    # unknown check, results, and a crisis declared while they send.
    "mastodon": (
        "calendar_app/networks/mastodon.py",
        [
            "tests/test_mastodon.py",
            "tests/test_media.py",
            "tests/test_network_crisis.py",
            "tests/test_results.py",
            "tests/test_inbox.py::test_a_reply_from_the_inbox_appears_on_the_server_as_a_reply_to_the_right_status",
            "tests/test_inbox.py::test_a_reply_is_held_by_a_crisis_like_any_post_and_checked_like_one",
        ],
    ),
    "bluesky": (
        "calendar_app/networks/bluesky.py",
        [
            "tests/test_bluesky.py",
            "tests/test_network_crisis.py",
            "tests/test_results.py",
            "tests/test_bluesky_listening.py::test_a_reply_from_the_inbox_appears_on_the_pds_as_a_reply_in_the_right_thread",
        ],
    ),
}

# How mutmut runs the tests, and how the forked check below runs them.
PYTEST_ARGS = ["-p", "no:randomly", "-x", "-q"]
# A mutant that spins (a loop that never ends) is stopped after (the CPU time its tests took
# unmutated + TIMEOUT_CONSTANT) x TIMEOUT_MULTIPLIER x 2 CPU seconds, and counts as killed by a
# timeout. mutmut's multiplier, 15, let one such mutant of the dispatcher's send loop run for
# most of an hour. Its constant, 1 s, is less than what a mutant's process spends before its
# first test (collecting the selection, making the app): a mutant whose tests take a fraction of
# a second each was stopped before they ran and counted as killed, unchanged behaviour or not
# (the Mastodon run of 3 December 2026: 153 "timeouts", equivalent mutants among them).
TIMEOUT_MULTIPLIER = 2.0
TIMEOUT_CONSTANT = 30.0

SETTINGS = """
[tool.mutmut]
source_paths = ["calendar_app/"]
only_mutate = ["{module}"]
pytest_add_cli_args_test_selection = {tests}
pytest_add_cli_args = {pytest_args}
timeout_multiplier = {timeout_multiplier}
timeout_constant = {timeout_constant}
also_copy = ["config.py", "migrations/", "alembic.ini", "templates/", "static/", "bench/"]
"""


def scratch_copy(name: str) -> Path:
    where = WORK / name
    if where.exists():
        subprocess.run(["git", "worktree", "remove", "--force", str(where)], cwd=ROOT, check=True)
    WORK.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "worktree", "add", "--detach", str(where), "HEAD"], cwd=ROOT, check=True)
    return where


def with_node_packages(where: Path) -> None:
    """The npm packages (the Bluesky PDS, axe) for the copy and for mutmut's tree inside it,
    where the tests run: linked, not copied (`npm ci` made them once, for `make test`)."""
    for tree in (where, where / "mutants"):
        tree.mkdir(exist_ok=True)
        link = tree / "node_modules"
        if not link.exists():
            link.symlink_to(ROOT / "node_modules", target_is_directory=True)


def results(where: Path) -> list[tuple[str, str]]:
    """Every mutant of a copy with its status (killed, survived, not checked, ...)."""
    listed = subprocess.run(
        [MUTMUT, "results", "--all", "true"], cwd=where, capture_output=True, text=True, check=True
    ).stdout
    return [
        (name.strip(), status.strip())
        for name, status in (line.rsplit(": ", 1) for line in listed.splitlines() if ": " in line)
    ]


def updated_copy(name: str) -> Path:
    """An earlier run's copy moved to the committed tree; its mutants and their results stay
    (mutmut tests again the functions whose code changed)."""
    where = WORK / name
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(["git", "checkout", "--force", "--detach", head], cwd=where, check=True)
    copied_tests = where / "mutants" / "tests"
    if copied_tests.exists():
        shutil.rmtree(copied_tests)
        shutil.copytree(where / "tests", copied_tests)
    return where


def mutant_patterns(module: str, functions: list[str]) -> list[str]:
    """mutmut's names of a module's mutants in the functions named (all of them if none); a
    method is named with its class, `ImpactPreview.summary`."""
    dotted = module.removesuffix(".py").replace("/", ".")
    return [
        f"{dotted}.xǁ{function.replace('.', 'ǁ')}__mutmut_*"
        if "." in function
        else f"{dotted}.x_{function}__mutmut_*"
        for function in functions
    ]


# mutmut runs each mutant's tests in a process forked from one that has run the tests before.
# Anything the tests leave behind that a fork breaks (a thread pool whose threads the child does
# not have) fails tests in every mutant, and every mutant would count as killed. So the selection
# must first pass in exactly that way, with no mutant.
FORKED_RUN = """
import json, os, sys, pytest
args = [*json.loads(sys.argv[1]), "-p", "no:cacheprovider", *sys.argv[2:]]
if pytest.main(args) != 0:
    sys.exit("the tests fail before any fork")
child = os.fork()
if child == 0:
    os._exit(int(pytest.main(args)))
_, status = os.waitpid(child, 0)
sys.exit(0 if os.waitstatus_to_exitcode(status) == 0 else "the tests fail in a forked process")
"""


def passes_when_forked(where: Path, tests: list[str], env: dict[str, str]) -> bool:
    return (
        subprocess.run(
            [sys.executable, "-c", FORKED_RUN, json.dumps(PYTEST_ARGS), *tests], cwd=where, env=env
        ).returncode
        == 0
    )


def run(
    name: str, max_children: int, env: dict[str, str], resume: bool, functions: list[str]
) -> Counter[str]:
    module, tests = MODULES[name]
    where = updated_copy(name) if resume and (WORK / name).exists() else scratch_copy(name)
    with_node_packages(where)
    if not passes_when_forked(where, tests, env):
        print(f"{name}: not run; its tests must pass in a forked process first", file=sys.stderr)
        return Counter()
    with (where / "pyproject.toml").open("a") as pyproject:
        pyproject.write(
            SETTINGS.format(
                module=module,
                tests=json.dumps(tests),
                pytest_args=json.dumps(PYTEST_ARGS),
                timeout_multiplier=TIMEOUT_MULTIPLIER,
                timeout_constant=TIMEOUT_CONSTANT,
            )
        )
    command = [MUTMUT, "run", "--max-children", str(max_children)]
    if resume:  # the survivors again, against the tests written since, and the timeouts
        survivors = [name for name, status in results(where) if status in ("survived", "timeout")]
        if survivors:
            subprocess.run([*command, *survivors], cwd=where, env=env, check=False)
    subprocess.run([*command, *mutant_patterns(module, functions)], cwd=where, env=env, check=False)
    found = results(where)
    (WORK / f"{name}.txt").write_text("".join(f"{m}: {status}\n" for m, status in found))
    # The copy stays until the module's next run: `mutmut show` reads it.
    return Counter(status for _m, status in found)


# --- the survivors again, on today's source ------------------------------------------------------


def mutant_diff(where: Path, name: str) -> str:
    return subprocess.run(
        [MUTMUT, "show", name], cwd=where, capture_output=True, text=True, check=True
    ).stdout


def apply_mutant(source: str, diff: str) -> str | None:
    """The source with the mutant's change made, or None where the code it changed is gone.
    mutmut's diff numbers lines within the function, so each hunk is found by its text: the
    lines it keeps and removes must occur exactly once. Context lines that changed since are
    dropped from the hunk's edges, as long as what is left still occurs exactly once."""
    hunks: list[list[tuple[str, str]]] = []
    for line in diff.splitlines():
        if line.startswith("@@"):
            hunks.append([])
        elif hunks and line[:1] in (" ", "-", "+"):
            hunks[-1].append((line[0], line[1:]))
    for hunk in hunks:
        replaced = _apply_hunk(source, hunk)
        if replaced is None:
            return None
        source = replaced
    return source


def _apply_hunk(source: str, hunk: list[tuple[str, str]]) -> str | None:
    first, last = 0, len(hunk)
    while first < last:
        lines = hunk[first:last]
        before = [text for kind, text in lines if kind in " -"]
        after = [text for kind, text in lines if kind in " +"]
        old = "\n".join(before) + "\n"
        if before and source.count(old) == 1:
            return source.replace(old, "\n".join(after) + "\n" if after else "")
        if hunk[first][0] == " " and (hunk[last - 1][0] != " " or first <= len(hunk) - last):
            first += 1
        elif hunk[last - 1][0] == " ":
            last -= 1
        else:
            return None
    return None


def recheck_one(slot: Path, module: str, diff: str, tests: list[str], env: dict[str, str]) -> str:
    target = slot / module
    original = target.read_text()
    mutated = apply_mutant(original, diff)
    if mutated is None:
        return "does not apply (the lines it changed are not in today's source)"
    target.write_text(mutated)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", *PYTEST_ARGS, "-p", "no:cacheprovider", "-rf",
             *tests],
            cwd=slot, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
    finally:
        target.write_text(original)
    if done.returncode == 0:
        return "survived"
    failed = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("FAILED ")]
    return f"killed by {failed[0]}" if failed else f"killed (pytest exit {done.returncode})"


def recheck(name: str, max_children: int, env: dict[str, str], tests: list[str]) -> Counter[str]:
    """Each survivor of the module's last run, its change made to today's source in a scratch
    copy of the committed tree, against the tests (the module's selection unless named)."""
    module, selection = MODULES[name]
    tests = tests or selection
    run_copy = WORK / name
    if not run_copy.exists():
        print(f"{name}: no run to recheck (run `make mutate` for it first)", file=sys.stderr)
        return Counter()
    survivors = [m for m, status in results(run_copy) if status == "survived"]
    slots = [scratch_copy(f"{name}-recheck-{i}") for i in range(max(1, max_children))]
    free = list(slots)

    def one(mutant: str) -> tuple[str, str]:
        slot = free.pop()
        try:
            return mutant, recheck_one(slot, module, mutant_diff(run_copy, mutant), tests, env)
        finally:
            free.append(slot)

    with ThreadPoolExecutor(len(slots)) as pool:
        verdicts = []
        for mutant, verdict in pool.map(one, survivors):
            print(f"{mutant}: {verdict}", flush=True)
            verdicts.append((mutant, verdict))
    for slot in slots:
        subprocess.run(["git", "worktree", "remove", "--force", str(slot)], cwd=ROOT, check=True)
    (WORK / f"{name}-recheck.txt").write_text("".join(f"{m}: {v}\n" for m, v in verdicts))
    return Counter(verdict.split(" (")[0].split(" by ")[0] for _m, verdict in verdicts)


def comma_list(listed: str) -> list[str]:
    return [item for item in listed.split(",") if item]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", default=list(MODULES), choices=[[], *MODULES])
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep a module's earlier copy and results, moved to the committed tree: run its "
        "mutants not run yet, and its survivors again",
    )
    parser.add_argument(
        "--functions",
        type=comma_list,
        default=[],
        help="run only the mutants of these functions (comma-separated), e.g. the ones a stopped "
        "run did not reach",
    )
    parser.add_argument(
        "--recheck",
        action="store_true",
        help="make each survivor of the module's last run in today's source and run the tests "
        "against it; writes build/mutate/<module>-recheck.txt",
    )
    parser.add_argument(
        "--tests",
        type=comma_list,
        default=[],
        help="with --recheck: these tests (comma-separated), not the module's selection",
    )
    args = parser.parse_args(argv)
    rows = []
    bin_dir = find_bin_dir()
    if bin_dir is None:
        parser.error("PostgreSQL is not installed (make system-deps)")
    # A run stopped with SIGTERM (a time limit) still stops its server: the `finally` below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server = PostgresServer(bin_dir).start()
    templates = tempfile.mkdtemp(prefix="calendar-templates-")  # made by the run's first session
    env = {**os.environ, SHARED_PORT: str(server.port), KEPT: templates}
    try:
        if args.recheck:
            for name in args.modules:
                counts = recheck(name, args.max_children, env, args.tests)
                print(f"{name}: " + ", ".join(f"{n} {v}" for v, n in counts.most_common()))
            return 0
        counted = {
            name: run(name, args.max_children, env, args.resume, args.functions)
            for name in args.modules
        }
    finally:
        server.stop()
        shutil.rmtree(templates, ignore_errors=True)
    for name, counts in counted.items():
        tried = counts["killed"] + counts["survived"] + counts["timeout"]
        score = (counts["killed"] + counts["timeout"]) / tried if tried else 0.0
        rows.append(
            f"| {name} | {score:.0%} | {counts['killed']} | {counts['timeout']} | "
            f"{counts['survived']} | {counts['no tests']} | {counts['not checked']} |"
        )
    print("| module | killed | killed by a test | by a timeout | survived | no test ran it "
          "| not run |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nsurviving mutants: {WORK}/<module>.txt (`mutmut show <name>` in a copy shows one)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
