"""Image uploads: `POST /media` (multipart, field `file`) -> 201 the stored image."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, request

from calendar_app import post_media
from calendar_app.api.auth import api_user
from calendar_app.api.serialize import media_json
from calendar_app.errors import InvalidInput
from calendar_app.extensions import db_session
from calendar_app.words import _l

bp = Blueprint("media", __name__)


def uploaded_bytes(max_bytes: int) -> bytes:
    """The file of a multipart upload's `file` field, read up to one byte past the limit."""
    upload = request.files.get("file")
    if upload is None:
        raise InvalidInput(
            _l("send the image as multipart/form-data in the field `file`"),
            {"file": _l("is required (multipart/form-data)")},
        )
    return upload.stream.read(max_bytes + 1)


@bp.post("/media")
def upload() -> tuple[dict[str, Any], int]:
    config = current_app.config["CALENDAR"]
    row = post_media.upload(
        db_session(),
        api_user(),
        uploaded_bytes(config.MEDIA_MAX_BYTES),
        media_dir=config.media_dir,
        max_bytes=config.MEDIA_MAX_BYTES,
        max_pixels=config.MEDIA_MAX_PIXELS,
    )
    return media_json(row), 201
