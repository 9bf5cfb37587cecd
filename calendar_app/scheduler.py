"""APScheduler as the clock only: an in-memory job store that calls one dispatch pass.

The database table of deliveries is the queue and the single source of truth, so several
scheduler processes may run against one PostgreSQL database; each builds its own clock. The
embedded scheduler is started once per `serve` process, never per WSGI worker or reloader.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN
from apscheduler.executors.pool import ThreadPoolExecutor as JobExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from calendar_app.blackouts import send_reminders
from calendar_app.dispatch import Dispatcher
from calendar_app.evaluation.measure import measure_results
from calendar_app.extensions import get_db
from calendar_app.graveyard import check_graveyards
from calendar_app.listening.detector import detect_once
from calendar_app.listening.listener import listen_once
from calendar_app.listening.streaming import SYNC_SECONDS, Streams
from calendar_app.notifications import send_digests, send_outgoing
from calendar_app.timeutil import now_utc
from calendar_app.unknown_checks import check_unknown_deliveries

log = logging.getLogger(__name__)

_started_lock = threading.Lock()
# Each job runs in its own thread, so a slow mail server never delays a dispatch pass.
JOB_THREADS = 4
OUTGOING_INTERVAL_SECONDS = 5.0
BLACKOUT_REMINDER_INTERVAL_SECONDS = 60.0
# How often unknown deliveries on network channels are looked for on their network.
UNKNOWN_CHECK_INTERVAL_SECONDS = 30.0
# How often the hourly e-mail digests are looked for (each person's is due an hour after the
# first notice it holds).
DIGEST_INTERVAL_SECONDS = 60.0
# How often the early warning counts the last window's mentions (the window slides by this).
DETECT_INTERVAL_SECONDS = 60.0
# How often the results job looks for measurements that fell due (1 h, 24 h, 7 d, 30 d after
# publication: a minute late is on time).
RESULTS_INTERVAL_SECONDS = 60.0


def build_dispatcher(app: Flask) -> Dispatcher:
    return Dispatcher(get_db(app), app.config["CALENDAR"])


def _every(
    scheduler: BaseScheduler,
    job_id: str,
    seconds: float,
    work: Callable[[], object],
    *,
    first_now: bool = False,
) -> None:
    def run() -> None:
        try:
            work()
        except Exception:  # a lost database connection must not stop the clock
            log.exception("job %s failed; the next tick tries again", job_id)

    scheduler.add_job(
        run,
        "interval",
        seconds=seconds,
        id=job_id,
        max_instances=1,  # a slow run is never overlapped by the next tick
        coalesce=True,
        misfire_grace_time=None,
        **({"next_run_time": datetime.now(UTC)} if first_now else {}),
    )


def check_graveyards_once(dispatcher: Dispatcher) -> None:
    """One graveyard check in its own transaction (the alerts are mailed by `outgoing`)."""
    with dispatcher.db.transaction() as session:
        check_graveyards(session, now_utc())


def _configure(scheduler: BaseScheduler, dispatcher: Dispatcher, interval: float) -> Streams:
    _every(scheduler, "dispatch", interval, dispatcher.run_pass)
    _every(
        scheduler,
        "outgoing",
        OUTGOING_INTERVAL_SECONDS,
        lambda: send_outgoing(dispatcher.db, dispatcher.config),
    )
    _every(
        scheduler,
        "digests",
        DIGEST_INTERVAL_SECONDS,
        lambda: send_digests(dispatcher.db, dispatcher.config),
    )
    _every(
        scheduler,
        "graveyard",
        dispatcher.config.GRAVEYARD_CHECK_SECONDS,
        lambda: check_graveyards_once(dispatcher),
    )
    _every(
        scheduler,
        "unknown_checks",
        UNKNOWN_CHECK_INTERVAL_SECONDS,
        lambda: check_unknown_deliveries(dispatcher.db, dispatcher.publishers),
    )
    # Mastodon streams: long-lived readers beside the jobs (listening/streaming.py); the listen
    # job polls what is not streamed. They end when the scheduler shuts down.
    streams = Streams(dispatcher.db, dispatcher.publishers)
    scheduler.add_listener(lambda _event: streams.stop(), EVENT_SCHEDULER_SHUTDOWN)
    _every(scheduler, "streams", SYNC_SECONDS, streams.sync, first_now=True)
    _every(
        scheduler,
        "listen",
        dispatcher.config.LISTEN_INTERVAL_SECONDS,
        lambda: listen_once(dispatcher.db, dispatcher.publishers, live=streams.live),
    )
    _every(
        scheduler,
        "early_warning",
        DETECT_INTERVAL_SECONDS,
        lambda: detect_once(dispatcher.db, dispatcher.config, now_utc()),
    )
    _every(
        scheduler,
        "results",
        RESULTS_INTERVAL_SECONDS,
        lambda: measure_results(dispatcher.db, dispatcher.publishers),
    )
    _every(
        scheduler,
        "blackout_reminders",
        BLACKOUT_REMINDER_INTERVAL_SECONDS,
        lambda: send_reminders(dispatcher.db, dispatcher.config),
    )
    return streams


def start_background(app: Flask) -> tuple[BackgroundScheduler, Dispatcher]:
    """Start the clock beside the web server in this process (once)."""
    with _started_lock:
        if app.extensions.get("calendar_scheduler") is not None:
            raise RuntimeError("the scheduler is already running in this process")
        dispatcher = build_dispatcher(app)
        scheduler = BackgroundScheduler(
            executors={"default": JobExecutor(JOB_THREADS)}, timezone="UTC", daemon=True
        )
        streams = _configure(
            scheduler, dispatcher, app.config["CALENDAR"].SCHEDULER_INTERVAL_SECONDS
        )
        scheduler.start()
        app.extensions["calendar_scheduler"] = scheduler
        app.extensions["calendar_streams"] = streams
        log.info("scheduler started worker=%s", dispatcher.worker)
        return scheduler, dispatcher


def run_blocking(app: Flask) -> None:
    """The scheduler alone, in the foreground, until interrupted."""
    dispatcher = build_dispatcher(app)
    scheduler = BlockingScheduler(executors={"default": JobExecutor(JOB_THREADS)}, timezone="UTC")
    _configure(scheduler, dispatcher, app.config["CALENDAR"].SCHEDULER_INTERVAL_SECONDS)
    log.info("scheduler started worker=%s", dispatcher.worker)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        dispatcher.stop()
        if scheduler.running:
            scheduler.shutdown(wait=True)  # the pass under way records what it sent
        dispatcher.close()
        log.info("scheduler stopped worker=%s", dispatcher.worker)
