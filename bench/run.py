"""`make bench`: how fast calendar_app publishes, how fast it stops, how it grows.

Every figure is measured in this run next to its reference (a plain loop of the same HTTP POSTs,
the app's own health endpoint, an idle scheduler, the scheduler's tick), so a busy shared machine
moves both; the table prints medians over the repetitions and their spread (min-max).

    python -m bench.run [--quick] [--reps N] [--trials N] [--skip postgres,growth,...]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from bench.declare import declare_run, slow_declare_run
from bench.dispatching import dispatch_run as _dispatch_run
from bench.dispatching import raw_rate
from bench.evaluation import evaluation_run
from bench.listening import BURST, burst_run, listener_run
from bench.networks import NETWORKS, network_runs
from bench.results_cost import pass_ms, results_cost_run
from bench.stats import median, percentile, spread
from bench.trials import crisis_trials
from bench.views import view_run
from bench.world import Databases, Receiver
from calendar_app.scheduler import DETECT_INTERVAL_SECONDS
from config import Config

SECTIONS = (
    "throughput",
    "postgres",
    "lateness",
    "crisis",
    "slow",
    "networks",
    "trials",
    "views",
    "evaluation",
    "results",
    "memory",
    "growth",
    "listening",
)


@dataclass
class Row:
    figure: str
    value: str
    reference: str
    ratio: str
    goal: str
    met: str


class Table:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, figure: str, value: str, reference: str, ratio: str, goal: str, met: bool | None):
        row = Row(figure, value, reference, ratio, goal, {True: "yes", False: "NO", None: "-"}[met])
        self.rows.append(row)
        print(" | ".join(row.__dict__.values()), file=sys.stderr, flush=True)

    def markdown(self) -> str:
        head = ("figure", "measured (median, spread)", "reference", "ratio", "goal", "met")
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(r.__dict__.values()) + " |" for r in self.rows]
        return "\n".join(lines)


def options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    parser.add_argument("--reps", type=int, help="repetitions of each throughput figure (3)")
    parser.add_argument("--deliveries", type=int, help="deliveries per throughput run (1000)")
    parser.add_argument("--pg-deliveries", type=int, help="... on PostgreSQL (2000)")
    parser.add_argument("--lateness-count", type=int, help="deliveries spread out (2000)")
    parser.add_argument("--lateness-spread", type=float, help="seconds they spread over (60)")
    parser.add_argument("--queued", type=int, help="queued deliveries behind a crisis (10000)")
    parser.add_argument("--trials", type=int, help="randomized crisis declarations (200)")
    parser.add_argument("--pg-trials", type=int, help="... on PostgreSQL (100)")
    parser.add_argument("--slow-delay", type=float, help="seconds a slow channel takes (8)")
    parser.add_argument("--slow-due", type=int, help="deliveries due on the slow channel (48)")
    parser.add_argument(
        "--people-trials", type=int, help="trials with slow receivers and people acting (2000)"
    )
    parser.add_argument("--network-posts", type=int, help="posts per network channel run (300)")
    parser.add_argument("--stored", type=int, help="stored posts for the calendar views (10000)")
    parser.add_argument("--requests", type=int, help="requests per endpoint and size (30)")
    parser.add_argument(
        "--campaign-posts", type=int, help="posts of the evaluated campaign (10000)"
    )
    parser.add_argument("--result-points", type=int, help="their result measurements (100000)")
    parser.add_argument("--results-per-day", type=int, help="posts a day, results job (5)")
    parser.add_argument("--results-days", type=int, help="days of published history (31)")
    parser.add_argument("--memory-deliveries", type=int, help="deliveries for peak RSS (10000)")
    parser.add_argument("--growth", help="stored posts for growth, comma-separated")
    parser.add_argument("--mentions", type=int, help="mentions waiting for the listener (10000)")
    parser.add_argument("--seed", type=int, default=20151027)
    parser.add_argument("--skip", default="", help=f"comma-separated of {','.join(SECTIONS)}")
    args = parser.parse_args(argv)
    quick = args.quick
    defaults = {
        "reps": (1, 3),
        "deliveries": (400, 1000),
        "pg_deliveries": (400, 2000),
        "lateness_count": (200, 2000),
        "lateness_spread": (10.0, 60.0),
        "queued": (1000, 10000),
        "trials": (20, 200),
        "pg_trials": (10, 100),
        "slow_delay": (2.0, 8.0),
        "slow_due": (16, 48),
        "people_trials": (50, 2000),
        "network_posts": (60, 300),
        "stored": (1000, 10000),
        "requests": (10, 30),
        "results_per_day": (5, 5),
        "results_days": (31, 31),
        "memory_deliveries": (1000, 10000),
        "campaign_posts": (1000, 10000),
        "result_points": (10000, 100000),
        "growth": ("1000,10000", "1000,10000,100000"),
        "mentions": (1000, 10000),
    }
    for name, (small, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    args.growth = [int(n) for n in str(args.growth).split(",") if n]
    args.skip = {s for s in args.skip.split(",") if s}
    return args


def main(argv: list[str] | None = None) -> int:
    args = options(argv)
    table = Table()
    dbs = Databases()
    receiver = Receiver()
    started = time.monotonic()
    interval = Config().SCHEDULER_INTERVAL_SECONDS
    interval_listen = Config().LISTEN_INTERVAL_SECONDS
    try:

        def throughput(label: str, engine: str, processes: int, count: int, **kw: object) -> None:
            rates, raws, ratios, bursts = [], [], [], []
            for _ in range(args.reps):
                raw = raw_rate(receiver, count)
                run = _dispatch_run(dbs, receiver, engine=engine, processes=processes,
                                    count=count, **kw)  # fmt: skip
                rates.append(run.rate)
                raws.append(raw)
                ratios.append(run.rate / raw)
                bursts.append(run.burst_seconds)
            table.add(
                f"{label}: deliveries/s ({count} due at once)",
                f"{median(rates):.0f}/s ({spread(rates, '{:.0f}')})",
                f"plain loop {median(raws):.0f}/s ({spread(raws, '{:.0f}')})",
                f"{median(ratios):.0%} ({spread([r * 100 for r in ratios], '{:.0f}')}%)",
                ">= 50%",
                median(ratios) >= 0.5,
            )
            if engine == "sqlite" and not kw:
                table.add(
                    f"{label}: burst, last of {count} received after they fell due",
                    f"{median(bursts):.2f} s ({spread(bursts)})",
                    f"plain loop {count / median(raws):.2f} s",
                    f"{median(bursts) / (count / median(raws)):.1f}x",
                    "<= 5 s for 1000",
                    median(bursts) <= 5.0 * count / 1000,
                )

        def do_throughput() -> None:
            throughput("SQLite, 1 scheduler process", "sqlite", 1, args.deliveries)

        def do_postgres() -> None:
            throughput("PostgreSQL, 1 scheduler process", "postgres", 1, args.pg_deliveries)
            throughput("PostgreSQL, 4 scheduler processes", "postgres", 4, args.pg_deliveries)

        def do_lateness() -> None:
            run = _dispatch_run(dbs, receiver, engine="sqlite", processes=1,
                                count=args.lateness_count, spread=args.lateness_spread)  # fmt: skip
            p50, p99 = percentile(run.lateness, 50), percentile(run.lateness, 99)
            table.add(
                f"SQLite lateness, {args.lateness_count} over {args.lateness_spread:g} s: p50/p99",
                f"{p50:.2f} s / {p99:.2f} s (max {max(run.lateness):.2f} s)",
                f"tick {interval:g} s",
                f"p99 {p99 / interval:.2f}x tick",
                "p99 <= 1.5 s",
                p99 <= 1.5,
            )

        def crisis(engine: str, trials: int, label: str) -> None:
            run = declare_run(dbs, receiver, engine=engine, queued=args.queued, trials=trials,
                              seed=args.seed)  # fmt: skip
            p50, p95 = percentile(run.declare_ms, 50), percentile(run.declare_ms, 95)
            h95 = percentile(run.health_ms, 95)
            table.add(
                f"{label}: declare p50/p95, {args.queued} queued ({run.trials} trials)",
                f"{p50:.1f} / {p95:.1f} ms (max {max(run.declare_ms):.0f})",
                f"health p95 {h95:.1f} ms",
                f"{p95 / h95:.0f}x",
                "p95 <= 100 ms",
                p95 <= 100,
            )
            table.add(
                f"{label}: received after declare returned ({run.trials} trials, "
                f"{run.caught_mid_queue} mid-queue, {run.in_flight} waited for)",
                str(run.late),
                "-",
                "-",
                "0",
                run.late == 0,
            )

        def do_crisis() -> None:
            crisis("sqlite", args.trials, "SQLite, embedded scheduler")
            if "postgres" not in args.skip:
                crisis("postgres", args.pg_trials, "PostgreSQL, 2 scheduler processes")

        def do_slow() -> None:
            for engine, label in (("sqlite", "SQLite"), ("postgres", "PostgreSQL")):
                if engine == "postgres" and "postgres" in args.skip:
                    continue
                run = slow_declare_run(dbs, receiver, engine=engine, due=args.slow_due,
                                       delay=args.slow_delay, reps=args.reps)  # fmt: skip
                took = median(run.declare_s)
                table.add(
                    f"{label}, 1 scheduler process: declare with {args.slow_delay:g} s channels, "
                    f"{args.slow_due} due (in flight {spread(run.in_flight, '{:.0f}')}, still "
                    f"open {spread(run.still_open, '{:.0f}')}, held {spread(run.held, '{:.0f}')})",
                    f"{took:.2f} s ({spread(run.declare_s)})",
                    f"one request {args.slow_delay:g} s",
                    f"{took / args.slow_delay:.2f}x",
                    "< 10 s, one request's time",
                    max(run.declare_s) < 10,
                )
                table.add(
                    f"{label}: received after that declare returned ({args.reps} declarations)",
                    str(run.late),
                    "-",
                    "-",
                    "0",
                    run.late == 0,
                )

        def do_networks() -> None:
            for kind in NETWORKS:
                rates, raws, duplicates = network_runs(dbs, kind, count=args.network_posts,
                                                       reps=args.reps)  # fmt: skip
                ratios = [r / p for r, p in zip(rates, raws, strict=True)]
                table.add(
                    f"SQLite, 1 scheduler process: {kind} posts/s ({args.network_posts} due at "
                    f"once, read back from the server)",
                    f"{median(rates):.0f}/s ({spread(rates, '{:.0f}')})",
                    f"plain loop, same client {median(raws):.0f}/s ({spread(raws, '{:.0f}')})",
                    f"{median(ratios):.0%} ({spread([r * 100 for r in ratios], '{:.0f}')}%)",
                    ">= 50%",
                    median(ratios) >= 0.5,
                )
                table.add(
                    f"{kind}: posts on the server twice ({args.reps} runs)",
                    str(duplicates),
                    "-",
                    "-",
                    "0",
                    duplicates == 0,
                )

        def do_trials() -> None:
            result = crisis_trials(args.people_trials)
            table.add(
                f"PostgreSQL, 3 scheduler processes: randomized crisis trials with slow and 503 "
                f"receivers and people acting ({result.summary})",
                "passed" if result.passed else "FAILED",
                "-",
                "-",
                "0 late, 0 twice, 0 lost",
                result.passed,
            )

        def views(stored: int) -> None:
            # A month of 100k stored posts takes about a second a request: fewer requests there.
            requests = args.requests if stored <= 10_000 else max(5, args.requests // 3)
            run = view_run(dbs, receiver, engine="sqlite", stored=stored, requests=requests)
            health = run.ms["health"]
            for name, label in (
                ("feed", "calendar feed JSON, month"),
                ("agenda", "agenda HTML, 42 days"),
                ("api", "GET /api/v1/posts, month"),
            ):
                values = run.ms[name]
                p95 = percentile(values, 95)
                table.add(
                    f"SQLite {label}: p50/p95, {stored} stored, {run.month_posts} in the month",
                    f"{percentile(values, 50):.1f} / {p95:.1f} ms",
                    f"health p95 {percentile(health, 95):.2f} ms",
                    f"{p95 / percentile(health, 95):.0f}x",
                    "p95 <= 50 ms",
                    p95 <= 50,
                )

        def do_views() -> None:
            views(args.stored)

        def do_evaluation() -> None:
            run = evaluation_run(dbs, receiver, posts=args.campaign_posts,
                                 points=args.result_points, requests=args.requests)  # fmt: skip
            health = percentile(run.ms["health"], 95)
            size = f"{run.posts} posts, {run.points} result points"
            for name, label in (
                ("campaign_page", "campaign page HTML"),
                ("campaign_api", "GET /api/v1/campaigns/<id>/evaluation"),
                ("report_page", "report HTML, 30 days"),
                ("report_api", "GET /api/v1/reports/monthly, 30 days"),
            ):
                values = run.ms[name]
                p95 = percentile(values, 95)
                table.add(
                    f"SQLite {label}: p50/p95, {size}",
                    f"{percentile(values, 50):.1f} / {p95:.1f} ms",
                    f"health p95 {health:.2f} ms",
                    f"{p95 / health:.0f}x",
                    "-",
                    None,
                )
            table.add(
                f"SQLite report PDF (WeasyPrint), {size}: one",
                f"{run.pdf_ms:.0f} ms, {run.pdf_bytes // 1024} KiB",
                f"health p95 {health:.2f} ms",
                f"{run.pdf_ms / health:.0f}x",
                "-",
                None,
            )

        def do_results() -> None:
            run = results_cost_run(dbs, per_day=args.results_per_day, days=args.results_days)
            n, per_channel_day = run.per_day, "1 channel, 1 day"
            day = (
                f"{n} posts/day for {run.days} days ({run.watches} watches before it), 1 Mastodon "
                f"channel on mastodon-mock, {run.passes} passes (1 a minute, clock moved 24 h)"
            )
            points = ", ".join(f"{k} {v}" for k, v in run.expected_by_point.items())
            paths = ", ".join(f"{k} {v}" for k, v in sorted(run.by_path.items()))
            table.add(
                f"results job, {day}: requests sent in the day ({paths})",
                str(run.requests),
                f"expected {run.expected_requests} ({run.expected_measured} measurements x 2: "
                f"verify_credentials + GET status)",
                f"{run.requests / max(run.expected_requests, 1):.2f}x",
                "= expected",
                run.requests == run.expected_requests,
            )
            table.add(
                f"results job, {day}: measurements written in the day ({run.postponed} postponed)",
                str(run.measured),
                f"expected {run.expected_measured} ({points}; steady state {n} x 4 = {4 * n})",
                f"{run.measured / max(run.expected_measured, 1):.2f}x",
                "= expected",
                run.measured == run.expected_measured,
            )
            p50, top = pass_ms(run)
            total = sum(run.job_seconds)
            table.add(
                f"results job, {day}: wall time inside the job, summed "
                f"({run.busy_passes} passes measured something)",
                f"{total:.2f} s ({run.busy_seconds:.2f} s in the passes that measured; pass "
                f"p50 {p50:.1f} ms, max {top:.1f} ms)",
                "24 h of clock",
                f"{total / 86400:.4%}",
                "-",
                None,
            )
            table.add(
                f"results job per channel per day ({per_channel_day} here; {n} posts/day: "
                f"{4 * n} measurements/day in steady state, {8 * n} requests)",
                f"{run.requests} requests, {run.measured} measurements, {total:.2f} s",
                f"expected {run.expected_requests} requests, {run.expected_measured} measurements",
                "-",
                "-",
                None,
            )
            table.add(
                "results job: catch-up before the day (the history's first measurement, "
                "not counted above)",
                f"{run.catchup_requests} requests, {run.catchup_measured} measurements, "
                f"{run.catchup_seconds:.2f} s",
                "-",
                "-",
                "-",
                None,
            )

        def do_memory() -> None:
            run = _dispatch_run(dbs, receiver, engine="sqlite", processes=1,
                                count=args.memory_deliveries)  # fmt: skip
            peak, idle = max(run.peak_rss_kib), max(run.idle_rss_kib)
            table.add(
                f"SQLite scheduler peak RSS (VmHWM), {args.memory_deliveries} deliveries "
                f"at {run.rate:.0f}/s",
                f"{peak / 1024:.0f} MiB",
                f"after start-up {idle / 1024:.0f} MiB",
                f"{peak / idle:.2f}x",
                "-",
                None,
            )

        def do_growth() -> None:
            for stored in args.growth:
                throughput(f"SQLite, {stored} stored posts", "sqlite", 1, args.deliveries,
                           background=stored)  # fmt: skip
            for stored in args.growth:
                if stored != args.stored or "views" in args.skip:
                    views(stored)

        def do_listening() -> None:
            workdir = dbs.tmp / f"listening-{time.monotonic_ns()}"
            workdir.mkdir()
            run = listener_run(dbs, workdir, args.mentions)
            table.add(
                f"listener: items/s stored, {args.mentions} mentions waiting on mastodon-mock "
                f"({run.passes} passes)",
                f"{run.rate:.0f}/s ({run.stored} stored)",
                f"plain loop reading the pages {run.plain_rate:.0f}/s",
                f"{run.rate / run.plain_rate:.0%}",
                f"all {args.mentions} stored once",
                run.stored == args.mentions,
            )
            (burst_dir := dbs.tmp / f"{workdir.name}-burst").mkdir()
            burst = burst_run(dbs, burst_dir)
            table.add(
                f"burst of {BURST} mentions: to the alert / to the first hold (jobs back to "
                "back; add the listen and detect intervals)",
                f"{burst.to_alert:.2f} s / {burst.to_hold:.2f} s",
                f"listen every {interval_listen} s, detect every {DETECT_INTERVAL_SECONDS} s",
                "-",
                "held, 0 posted",
                burst.held and burst.posted == 0,
            )

        sections: dict[str, Callable[[], None]] = {
            "throughput": do_throughput,
            "postgres": do_postgres,
            "lateness": do_lateness,
            "crisis": do_crisis,
            "slow": do_slow,
            "networks": do_networks,
            "trials": do_trials,
            "views": do_views,
            "evaluation": do_evaluation,
            "results": do_results,
            "memory": do_memory,
            "growth": do_growth,
            "listening": do_listening,
        }
        for name in SECTIONS:
            if name not in args.skip:
                sections[name]()
    finally:
        receiver.stop()
        dbs.close()
    print(table.markdown())
    print(
        f"\n{'quick' if args.quick else 'full'} run: reps={args.reps} deliveries={args.deliveries} "
        f"pg_deliveries={args.pg_deliveries} lateness={args.lateness_count}/"
        f"{args.lateness_spread:g}s queued={args.queued} trials={args.trials}/{args.pg_trials} "
        f"slow={args.slow_due}x{args.slow_delay:g}s networks={args.network_posts} "
        f"people_trials={args.people_trials} "
        f"stored={args.stored} requests={args.requests} memory={args.memory_deliveries} "
        f"evaluation={args.campaign_posts}/{args.result_points} "
        f"results={args.results_per_day}x{args.results_days}d "
        f"growth={args.growth} mentions={args.mentions}; {time.monotonic() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
