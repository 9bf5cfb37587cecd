"""Extension objects, created bare and bound in the app factory; the request's database session."""

from __future__ import annotations

from flask import Flask, Response, current_app, g
from flask_login import LoginManager
from flask_wtf import CSRFProtect
from sqlalchemy.orm import Session

from calendar_app.db import Database

login_manager = LoginManager()
csrf = CSRFProtect()


def get_db(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["calendar_db"]


def db_session() -> Session:
    """The session of the current request; the request boundary commits or rolls back."""
    if "db_session" not in g:
        g.db_session = get_db().session()
    return g.db_session


def init_request_sessions(app: Flask) -> None:
    @app.after_request
    def _commit(response: Response) -> Response:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            try:
                if response.status_code < 400:
                    session.commit()
                else:
                    session.rollback()
            finally:
                session.close()
        return response

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:  # the view raised: nothing of it is kept
            session.rollback()
            session.close()
