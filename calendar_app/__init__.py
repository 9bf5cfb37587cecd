"""calendar_app: the editorial calendar with a crisis override."""

from __future__ import annotations

import gc
import logging
from datetime import timedelta

from flask import Flask
from jinja2.bccache import Bucket, BytecodeCache

from config import PROJECT_ROOT, Config


def create_app(config: Config | None = None, *, serving: bool = True) -> Flask:
    """Build the app. `serving=False` is for maintenance commands that never sign a session,
    which may run without a SECRET_KEY; anything that serves requests needs one in production."""
    config = (
        (config or Config.from_env())
        .with_secret_key(required=serving)
        .with_channel_secrets_key(required=serving)
    )
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
        instance_path=str(config.INSTANCE_PATH),
    )
    configure(app, config)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    register_extensions(app, config)
    register_blueprints(app)
    register_protections(app, config)
    register_errorhandlers(app)
    share_compiled_templates(app)
    return app


class CompiledTemplates(BytecodeCache):
    """Templates compiled once per process, not once per app: every app this process builds
    (a server builds one; the test suite one per test) reads the compiled code of the first.
    Jinja checks each template's source against the code's checksum, so a changed template is
    compiled again; the key names the environment's extensions, which change the code."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    @staticmethod
    def _key(bucket: Bucket) -> str:
        return f"{','.join(sorted(bucket.environment.extensions))}:{bucket.key}"

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.code.get(self._key(bucket))
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[self._key(bucket)] = bucket.bytecode_to_string()


_COMPILED_TEMPLATES = CompiledTemplates()


def share_compiled_templates(app: Flask) -> None:
    app.jinja_env.bytecode_cache = _COMPILED_TEMPLATES


def keep_startup_out_of_collections() -> None:
    """For a long-running process, once the app is built: what start-up made (modules,
    metadata, translations, routes) lives as long as the process. Frozen out of the collector's
    way, it is no longer scanned by every full collection, which otherwise stalls a request
    now and then by tens of milliseconds."""
    gc.collect()
    gc.freeze()


def configure(app: Flask, config: Config) -> None:
    app.config.update(
        CALENDAR=config,
        SECRET_KEY=config.SECRET_KEY,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not config.is_development,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=not config.is_development,
        REMEMBER_COOKIE_SAMESITE="Lax",
        # A signed-in browser session ends after this long without a request.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
        DEBUG=False,
        TESTING=config.ENV == "testing",
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # APScheduler reports every tick, and every tick skipped while a long pass runs: noise.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def register_extensions(app: Flask, config: Config) -> None:
    from calendar_app.db import Database, is_sqlite
    from calendar_app.extensions import csrf, init_request_sessions, login_manager

    if is_sqlite(config.DATABASE_URL):
        config.INSTANCE_PATH.mkdir(parents=True, exist_ok=True)
    app.extensions["calendar_db"] = Database(config.DATABASE_URL)
    init_request_sessions(app)
    csrf.init_app(app)
    login_manager.init_app(app)

    # Languages and the team's time zone for the browser UI (Flask-Babel).
    from calendar_app.web.i18n import init_babel

    init_babel(app)


def register_blueprints(app: Flask) -> None:
    from calendar_app.api import CSRF_EXEMPT, api
    from calendar_app.extensions import csrf
    from calendar_app.web import web

    for blueprint in CSRF_EXEMPT:
        csrf.exempt(blueprint)
    app.register_blueprint(api)
    app.register_blueprint(web)


def register_protections(app: Flask, config: Config) -> None:
    from calendar_app.request_limits import init_request_limits
    from calendar_app.security import init_proxy_fix, init_security_headers

    init_request_limits(app, config)
    init_security_headers(app, config)
    init_proxy_fix(app, config)


def register_errorhandlers(app: Flask) -> None:
    from calendar_app.api.errors import register as register_api_errors
    from calendar_app.web import http_error_page

    register_api_errors(app, pages=http_error_page)
