"""Images in the browser: the composer's upload (JSON), and the images themselves, for signed-in
people and, through a signed link that expires, for a webhook's receiver."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, send_file
from sqlalchemy import select
from werkzeug.exceptions import Forbidden, NotFound
from werkzeug.wrappers import Response

from calendar_app import media, post_media
from calendar_app.api.media import uploaded_bytes
from calendar_app.api.serialize import media_json
from calendar_app.extensions import db_session
from calendar_app.models import Media
from calendar_app.publishers import media_links
from calendar_app.web.pages import signed_in_user

# An image is only ever shown as an image: never sniffed as something else, never run as a
# document (the stored formats are PNG, JPEG, WebP and GIF; SVG is never taken).
IMAGE_POLICY = "default-src 'none'; sandbox"


def upload_media() -> Any:
    """The composer's upload: JSON in, JSON out (errors too: web/__init__.py answers a refused
    upload in JSON, which the composer shows next to the images)."""
    config = current_app.config["CALENDAR"]
    row = post_media.upload(
        db_session(),
        signed_in_user(),
        uploaded_bytes(config.MEDIA_MAX_BYTES),
        media_dir=config.media_dir,
        max_bytes=config.MEDIA_MAX_BYTES,
        max_pixels=config.MEDIA_MAX_PIXELS,
    )
    return jsonify(media_json(row)), 201


def _image(sha256: str, mime_type: str) -> Response:
    try:
        path = media.stored_path(current_app.config["CALENDAR"].media_dir, sha256)
    except media.MediaProblem:
        raise NotFound() from None
    if not path.is_file():
        raise NotFound()
    response = send_file(path, mimetype=mime_type, conditional=True, etag=sha256)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = IMAGE_POLICY
    response.headers["Content-Disposition"] = "inline"
    # Named by its content: it never changes, but it is a plan's image, not for shared caches.
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def show_media(media_id: int) -> Response:
    row = post_media.get_media(db_session(), media_id)
    return _image(row.sha256, row.mime_type)


def signed_media(token: str) -> Response:
    """The image a signed link names, without signing in, until the link expires."""
    links = media_links(current_app.config["CALENDAR"])
    if links is None:
        raise NotFound()
    try:
        sha256 = links.sha256(token)
    except media.MediaProblem as exc:
        raise Forbidden(str(exc)) from None
    row = db_session().scalars(select(Media).where(Media.sha256 == sha256).limit(1)).first()
    if row is None:
        raise NotFound()
    return _image(row.sha256, row.mime_type)
