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
from calendar_app.models import Delivery, Media
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


def _image(row: Media, network: str | None = None) -> Response:
    """The stored image, or as `network` takes it (media.fitted_file)."""
    media_dir = current_app.config["CALENDAR"].media_dir
    path = media.stored_path(media_dir, row.sha256)
    if not path.is_file():
        raise NotFound()
    mime_type, etag = row.mime_type, row.sha256
    if network is not None:
        try:
            path, mime_type = media.fitted_file(
                media_dir, network, post_media.media_file(media_dir, row)
            )
            etag = f"{row.sha256}-{network}"
        except media.MediaProblem:
            pass  # an animation that does not fit was refused when the post was saved
    response = send_file(path, mimetype=mime_type, conditional=True, etag=etag)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = IMAGE_POLICY
    response.headers["Content-Disposition"] = "inline"
    # Named by its content: it never changes, but it is a plan's image, not for shared caches.
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def show_media(media_id: int) -> Response:
    return _image(post_media.get_media(db_session(), media_id))


def signed_media(token: str) -> Response:
    """The image a signed link names, without signing in, until the link expires."""
    links = media_links(current_app.config["CALENDAR"])
    if links is None:
        raise NotFound()
    try:
        linked = links.read(token)
    except media.MediaProblem as exc:
        raise Forbidden(str(exc)) from None
    session = db_session()
    row = session.scalars(select(Media).where(Media.sha256 == linked.sha256).limit(1)).first()
    if row is None:
        raise NotFound()
    delivery = session.get(Delivery, linked.delivery_id) if linked.delivery_id else None
    return _image(row, delivery.channel.network if delivery is not None else None)
