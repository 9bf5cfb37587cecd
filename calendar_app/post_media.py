"""Images on posts: uploads kept in the media table, the images a post carries, and the rules
they follow when a post is saved (alt text, or a waiver with a reason; each channel's limits).

The files themselves are media.py's business; this module keeps their records.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from calendar_app import audit, media
from calendar_app.channel_rules import rules_for
from calendar_app.errors import InvalidInput, NotFound, listed
from calendar_app.models import MAX_ID, Channel, Media, Post, PostMedia, User
from calendar_app.networks.base import MediaFile
from calendar_app.permissions import require_may_upload_media
from calendar_app.words import _l

MAX_IMAGES_PER_POST = 4
# Mastodon takes descriptions of up to 1,500 characters; the others take at least as many.
MAX_ALT_LENGTH = 1500


@dataclass(frozen=True)
class ImageChoice:
    """An image a planner puts on a post: an uploaded media id and its alt text."""

    media_id: int
    alt: str


def upload(
    session: Session,
    uploader: User,
    data: bytes,
    *,
    media_dir: Path,
    max_bytes: int,
    max_pixels: int,
) -> Media:
    """Check, clean and store an uploaded image; 422 says what is wrong with the file."""
    require_may_upload_media(uploader)
    try:
        prepared = media.prepare_upload(data, max_bytes=max_bytes, max_pixels=max_pixels)
    except media.MediaProblem as exc:
        raise InvalidInput(_l("the file %(exc)s", exc=exc), {"file": str(exc)}) from None
    media.store(media_dir, prepared)
    row = Media(
        sha256=prepared.sha256,
        mime_type=prepared.mime_type,
        width=prepared.width,
        height=prepared.height,
        bytes=len(prepared.data),
        animated=prepared.animated,
        uploaded_by_id=uploader.id,
    )
    session.add(row)
    session.flush()
    return row


def get_media(session: Session, media_id: int) -> Media:
    row = session.get(Media, media_id) if 0 < media_id <= MAX_ID else None
    if row is None:
        raise NotFound(_l("image %(media_id)s does not exist", media_id=media_id))
    return row


def media_file(media_dir: Path, row: Media, alt: str = "") -> MediaFile:
    return MediaFile(
        path=media.stored_path(media_dir, row.sha256),
        mime_type=row.mime_type,
        alt=alt,
        width=row.width,
        height=row.height,
        size=row.bytes,
    )


def images_of(post: Post) -> list[ImageChoice]:
    return [ImageChoice(row.media_id, row.alt) for row in post.media_rows]


def check_images(
    session: Session,
    choices: Sequence[ImageChoice],
    channels: Sequence[Channel],
    *,
    waived: bool,
    waiver_reason: str | None,
    images_required: bool = True,
) -> list[tuple[Media, str]]:
    """The chosen images, or a 422 naming every problem: an unknown image, a missing alt text
    (unless waived with a reason), a channel that takes fewer images, an animation a channel
    cannot take, an Instagram channel without an image (`images_required`: the caller let the
    planner choose images; an imported plan has none yet)."""
    problems: dict[str, str] = {}
    chosen: list[tuple[Media, str]] = []
    if len(choices) > MAX_IMAGES_PER_POST:
        problems["media"] = _l(
            "a post carries at most %(max_images_per_post)s images",
            max_images_per_post=MAX_IMAGES_PER_POST,
        )
    for index, choice in enumerate(choices):
        row = session.get(Media, choice.media_id) if 0 < choice.media_id <= MAX_ID else None
        if row is None:
            problems[f"media.{index}.id"] = _l(
                "image %(media_id)s does not exist", media_id=choice.media_id
            )
            continue
        alt = choice.alt.strip()
        if len(alt) > MAX_ALT_LENGTH:
            problems[f"media.{index}.alt"] = _l(
                "is longer than %(max_alt_length)s characters", max_alt_length=MAX_ALT_LENGTH
            )
        elif not alt and not waived:
            problems[f"media.{index}.alt"] = _l(
                "describe the image for people who cannot see it (alt text), or waive alt text "
                "for this post with a reason"
            )
        chosen.append((row, alt))
    if waived and not (waiver_reason or "").strip():
        problems["alt_text_waiver_reason"] = _l("say why this post goes out without alt text")
    channel_problems = [
        problem
        for channel in channels
        if (problem := _channel_problem(channel, chosen, images_required=images_required))
    ]
    if channel_problems:
        problems["media"] = "; ".join(
            ([problems["media"]] if "media" in problems else []) + channel_problems
        )
    if problems:
        raise InvalidInput(
            _l("the post's images do not fit: %(problems)s", problems=listed(problems)),
            problems,
        )
    return chosen


def _channel_problem(
    channel: Channel, chosen: Sequence[tuple[Media, str]], *, images_required: bool
) -> str | None:
    rules = rules_for(channel.network)
    where = f"{channel.name} ({rules.label})"
    if not chosen and rules.image_required and images_required:
        return f"{where} publishes no post without an image: add one"
    if chosen and not rules.images_allowed:
        return f"{where} takes no images"
    if len(chosen) > rules.max_images:
        return f"{where} takes at most {rules.max_images} images; this post has {len(chosen)}"
    limits = media.ImageLimits.of(rules)
    for position, (row, _alt) in enumerate(chosen, start=1):
        info = MediaFile(Path(), row.mime_type, "", row.width, row.height, row.bytes)
        if problem := media.fit_problem(info, limits, animated=row.animated, where=where):
            return f"image {position} {problem}"
    return None


def set_images(
    post: Post,
    chosen: Sequence[tuple[Media, str]],
    *,
    waived: bool,
    waiver_reason: str | None,
) -> None:
    post.media_rows = [
        PostMedia(position=position, media=row, media_id=row.id, alt=alt)
        for position, (row, alt) in enumerate(chosen)
    ]
    post.alt_text_waived = waived
    post.alt_text_waiver_reason = (waiver_reason or "").strip() or None if waived else None


def snapshot(post: Post) -> dict[str, Any]:
    """The images as the audit log compares them before and after an edit."""
    return {
        "media": [[row.media_id, row.alt] for row in post.media_rows],
        "alt_text_waived": post.alt_text_waived,
    }


def record_waiver(session: Session, actor: User, post: Post, before: dict[str, Any]) -> None:
    """The audit log keeps who sent images without alt text, and why."""
    if not post.alt_text_waived:
        return
    if before.get("alt_text_waived") and before.get("waiver_reason") == (
        post.alt_text_waiver_reason
    ):
        return
    audit.record(
        session,
        actor,
        "waive_alt_text",
        post,
        reason=post.alt_text_waiver_reason,
        images=len(post.media_rows),
    )
