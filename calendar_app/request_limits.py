"""How much a request may send: `MAX_CONTENT_LENGTH` bytes of body (config.py), more only for
the CSV import and image uploads (`MEDIA_MAX_BYTES`), which take a file. A larger body is
refused with 413 (an image upload: 422) before anything reads it, before the token is even looked
up: a 50 MB post is not parsed, validated or stored."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import RequestEntityTooLarge

from calendar_app.errors import InvalidInput
from calendar_app.plan_csv import MAX_FILE_BYTES
from calendar_app.words import _l
from config import Config

# The CSV import takes a whole plan: the file (multipart, a little framing around it), or its
# text inside JSON, where every quote and line break takes two bytes.
IMPORT_ENDPOINTS = {
    "web.import_plan": MAX_FILE_BYTES + 64 * 1024,
    "api.posts.import_plan": 2 * MAX_FILE_BYTES,
}


# Image uploads take MEDIA_MAX_BYTES of file plus the multipart framing around it; a larger
# upload is refused with 422 (what is wrong with the file), before it is read.
MEDIA_ENDPOINTS = {"api.media.upload", "web.upload_media"}
MULTIPART_FRAMING = 64 * 1024


class BodyTooLarge(RequestEntityTooLarge):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the request body is larger than the {limit} bytes this address takes "
            "(MAX_CONTENT_LENGTH)"
        )
        self.limit = limit


def body_limit(config: Config, endpoint: str | None) -> int:
    if endpoint in MEDIA_ENDPOINTS:
        return max(config.MAX_CONTENT_LENGTH, config.MEDIA_MAX_BYTES + MULTIPART_FRAMING)
    return max(config.MAX_CONTENT_LENGTH, IMPORT_ENDPOINTS.get(endpoint or "", 0))


def init_request_limits(app: Flask, config: Config) -> None:
    app.config["MAX_CONTENT_LENGTH"] = config.MAX_CONTENT_LENGTH

    def _refuse_large_bodies() -> None:
        limit = body_limit(config, request.endpoint)
        # Also bounds a body sent without a Content-Length (chunked): reading stops at the limit.
        request.max_content_length = limit
        if request.content_length is not None and request.content_length > limit:
            if request.endpoint in MEDIA_ENDPOINTS:
                size = request.content_length / (1024 * 1024)
                most = config.MEDIA_MAX_BYTES / (1024 * 1024)
                problem = f"is {size:.1f} MB; an image may have at most {most:.1f} MB"
                raise InvalidInput(_l("the file %(problem)s", problem=problem), {"file": problem})
            raise BodyTooLarge(limit)

    # First of all: before the CSRF check reads a form with the app-wide limit (a file upload
    # would otherwise be refused there with the general limit, not this address's).
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_large_bodies)
