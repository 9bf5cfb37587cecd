"""Which query parameters a view reads: a request whose `args` remember every name asked for,
so tests can derive the parameters of each route from the code instead of a list to maintain."""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.datastructures import ImmutableMultiDict


class RecordingArgs(ImmutableMultiDict):  # type: ignore[type-arg]
    """Query parameters that remember which names a view asked for."""

    asked: set[str] = set()

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:
        RecordingArgs.asked.add(key)
        return super().get(key, default, type)

    def __getitem__(self, key: Any) -> Any:
        RecordingArgs.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        RecordingArgs.asked.add(str(key))
        return super().__contains__(key)

    def getlist(self, key: Any, type: Any = None) -> Any:
        RecordingArgs.asked.add(key)
        return super().getlist(key, type)


def record_query_parameters(app: Flask) -> Flask:
    """From now on the app's requests record the query parameters their views read."""
    base = app.request_class
    app.request_class = type(
        "RecordingRequest", (base,), {"parameter_storage_class": RecordingArgs}
    )
    return app


def parameters_read(client: Any, path: str, **kwargs: Any) -> tuple[set[str], int]:
    """The names of the query parameters the view behind `path` read, and its status code."""
    RecordingArgs.asked = set()
    response = client.get(path, **kwargs)
    return set(RecordingArgs.asked), response.status_code
