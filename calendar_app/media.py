"""Images on posts: what an upload must be, how it is stored, how it is fitted to a network.

An upload is read by its content, never its name: PNG, JPEG, WebP or GIF, no larger than the
configured bytes and pixels (a small file that unpacks to a huge picture is refused before it is
decoded). A still image is decoded, turned as its camera meant (EXIF orientation) and encoded
afresh without its metadata, so no location (EXIF GPS) or other camera data ever leaves the app;
an animated GIF keeps its bytes (GIF carries no EXIF). The stored file is named by the SHA-256 of
its bytes: the same image uploaded twice is one file.

At send time `fit_for` scales an image down to what its network takes (channel_rules.py), in
one place for every channel kind. Signed links (`MediaLinks`) let a webhook receiver fetch an
image without signing in, for a limited time.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from PIL import Image, ImageOps, UnidentifiedImageError

from calendar_app.channel_rules import ChannelRules, rules_for
from calendar_app.networks.base import MediaFile

# Pillow's format name -> the MIME type we store and serve. Nothing else is taken (no SVG: it
# is a document that can carry scripts, not a picture).
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}
JPEG_QUALITY = 90
# Scaling to a byte limit: at most this many tries, each a little smaller.
FIT_TRIES = 12


class MediaProblem(ValueError):
    """The file cannot be taken (or fitted), in words a planner understands."""


@dataclass(frozen=True)
class PreparedImage:
    """An upload as it will be stored."""

    data: bytes
    mime_type: str
    width: int
    height: int
    animated: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class FittedImage:
    """An image as one network receives it."""

    data: bytes
    mime_type: str
    width: int
    height: int


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int | None = None
    max_side: int | None = None
    max_pixels: int | None = None
    types: tuple[str, ...] = tuple(FORMATS.values())

    @classmethod
    def of(cls, rules: ChannelRules) -> ImageLimits:
        return cls(
            rules.max_image_bytes, rules.max_image_side, rules.max_image_pixels, rules.image_types
        )


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


# --- an upload ---------------------------------------------------------------------------------


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """The image in `data`, header read, nothing decoded yet; refused when it is not one of our
    formats or has more pixels than we decode."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(BytesIO(data), formats=list(FORMATS))
        except (
            UnidentifiedImageError,
            Image.DecompressionBombError,
            Image.DecompressionBombWarning,
        ):
            raise MediaProblem(
                "is not an image in a format we take (PNG, JPEG, WebP or GIF)"
            ) from None
        except (OSError, SyntaxError, ValueError):
            raise MediaProblem("is not a readable image (the file is damaged)") from None
    if image.width < 1 or image.height < 1:
        raise MediaProblem("is not a readable image (it has no pixels)")
    if image.width * image.height > max_pixels:
        raise MediaProblem(
            f"is {image.width} x {image.height} pixels, more than the {max_pixels:,} pixels an "
            "image may have here (a picture that large is refused before it is unpacked)"
        )
    return image


def _load(image: Image.Image) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise MediaProblem("has more pixels than an image may have here") from None
        except (OSError, SyntaxError, ValueError):
            raise MediaProblem("is not a readable image (the file is damaged)") from None


def _encode(image: Image.Image, mime_type: str, *, icc: bytes | None = None) -> bytes:
    """The image encoded afresh: no EXIF, no XMP, no comments; the colour profile is kept."""
    out = BytesIO()
    extra = {"icc_profile": icc} if icc else {}
    if mime_type == "image/jpeg":
        if image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, **extra)
    elif mime_type == "image/png":
        image.save(out, "PNG", optimize=True, **extra)
    elif mime_type == "image/webp":
        if image.mode not in ("RGB", "RGBA"):
            image = image.convert("RGBA" if _has_alpha(image) else "RGB")
        image.save(out, "WEBP", quality=JPEG_QUALITY, method=4, **extra)
    elif mime_type == "image/gif":
        image.save(out, "GIF")
    else:  # pragma: no cover - the callers only pass our formats
        raise MediaProblem(f"cannot be written as {mime_type}")
    return out.getvalue()


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def prepare_upload(data: bytes, *, max_bytes: int, max_pixels: int) -> PreparedImage:
    """The upload as it will be stored, or MediaProblem saying why it is refused."""
    if not data:
        raise MediaProblem("is empty")
    if len(data) > max_bytes:
        raise MediaProblem(
            f"is {megabytes(len(data))}; an image may have at most {megabytes(max_bytes)}"
        )
    image = _open(data, max_pixels)
    mime_type = FORMATS[str(image.format)]
    if getattr(image, "is_animated", False):
        return _prepare_animation(data, image, mime_type, max_pixels)
    _load(image)
    icc = image.info.get("icc_profile")
    upright = ImageOps.exif_transpose(image)
    stored = _encode(upright, mime_type, icc=icc)
    return PreparedImage(stored, mime_type, upright.width, upright.height)


def _prepare_animation(
    data: bytes, image: Image.Image, mime_type: str, max_pixels: int
) -> PreparedImage:
    """An animated GIF keeps its bytes (GIF has no EXIF); animated PNG and WebP are encoded
    afresh without their metadata, every frame kept."""
    frames = getattr(image, "n_frames", 1)
    if frames * image.width * image.height > 4 * max_pixels:
        raise MediaProblem(f"is an animation of {frames} frames, more than we unpack")
    _load(image)
    if mime_type == "image/gif":
        return PreparedImage(data, mime_type, image.width, image.height, animated=True)
    out = BytesIO()
    fmt = "PNG" if mime_type == "image/png" else "WEBP"
    image.save(out, fmt, save_all=True)
    return PreparedImage(out.getvalue(), mime_type, image.width, image.height, animated=True)


def stored_path(media_dir: Path, sha256: str) -> Path:
    """Where the file with this hash lives: `<media_dir>/ab/<sha256>`."""
    if len(sha256) != 64 or not all(c in "0123456789abcdef" for c in sha256):
        raise MediaProblem("is not a stored image's name")
    return media_dir / sha256[:2] / sha256


def store(media_dir: Path, image: PreparedImage) -> Path:
    """Write the file once (a second upload of the same bytes finds it there). Written to a
    temporary file and renamed, so a reader never sees half an image."""
    path = stored_path(media_dir, image.sha256)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(path, image.data)
    return path


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# --- fitting an image to a network ------------------------------------------------------------


def fits(media: MediaFile, limits: ImageLimits) -> bool:
    return (
        media.mime_type in limits.types
        and (limits.max_bytes is None or media.size <= limits.max_bytes)
        and (limits.max_side is None or max(media.width, media.height) <= limits.max_side)
        and (limits.max_pixels is None or media.width * media.height <= limits.max_pixels)
    )


def fit_problem(media: MediaFile, limits: ImageLimits, *, animated: bool, where: str) -> str | None:
    """Why this image cannot be made to fit (`where`: "Insta NH (Instagram)"), or None.

    A still image always can: it is scaled down and, where the network wants another format,
    converted. An animation is sent as it is or not at all."""
    if not animated or fits(media, limits):
        return None
    if media.mime_type not in limits.types:
        return f"is an animation; {where} takes no animated {EXTENSIONS[media.mime_type]}"
    return (
        f"is an animation of {megabytes(media.size)} ({media.width} x {media.height}); {where} "
        f"takes less{_limits_text(limits)}, and an animation is not scaled down"
    )


def _limits_text(limits: ImageLimits) -> str:
    parts = []
    if limits.max_bytes is not None:
        parts.append(f"at most {megabytes(limits.max_bytes)}")
    if limits.max_side is not None:
        parts.append(f"at most {limits.max_side} pixels on the longer side")
    if limits.max_pixels is not None:
        parts.append(f"at most {limits.max_pixels:,} pixels")
    return (": " + ", ".join(parts)) if parts else ""


def _target_type(mime_type: str, alpha: bool, types: tuple[str, ...]) -> str:
    if mime_type in types:
        return mime_type
    preferred = ("image/png", "image/webp", "image/jpeg") if alpha else ("image/jpeg", "image/png")
    for candidate in preferred:
        if candidate in types:
            return candidate
    return types[0]


def fit_within(media: MediaFile, limits: ImageLimits) -> FittedImage:
    """The image as it can be sent under `limits`: the stored bytes when they fit, else scaled
    down (aspect ratio kept) and, where needed, converted. Raises MediaProblem when it cannot."""
    if fits(media, limits):
        return FittedImage(media.path.read_bytes(), media.mime_type, media.width, media.height)
    with Image.open(media.path, formats=list(FORMATS)) as image:
        if getattr(image, "is_animated", False):
            raise MediaProblem(
                fit_problem(media, limits, animated=True, where="the network") or "cannot fit"
            )
        image.load()
        icc = image.info.get("icc_profile")
        alpha = _has_alpha(image)
        target = _target_type(media.mime_type, alpha, limits.types)
        if target == "image/jpeg" and image.mode not in ("RGB", "L", "CMYK"):
            image = image.convert("RGB")
        width, height = image.size
        scale = 1.0
        if limits.max_side is not None:
            scale = min(scale, limits.max_side / max(width, height))
        if limits.max_pixels is not None:
            scale = min(scale, math.sqrt(limits.max_pixels / (width * height)))
        for _ in range(FIT_TRIES):
            size = (max(1, math.floor(width * scale)), max(1, math.floor(height * scale)))
            resized = image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)
            data = _encode(resized, target, icc=icc)
            if limits.max_bytes is None or len(data) <= limits.max_bytes:
                return FittedImage(data, target, size[0], size[1])
            if target == "image/png" and not alpha and "image/jpeg" in limits.types:
                target = "image/jpeg"  # a photo saved as PNG: JPEG makes it far smaller
                continue
            # The bytes shrink roughly with the area: aim a little under the limit.
            scale *= min(0.9, math.sqrt(limits.max_bytes / len(data)) * 0.95)
    raise MediaProblem(f"could not be made smaller than {megabytes(limits.max_bytes or 0)}")


def fit_for(network: str, media: MediaFile) -> FittedImage:
    """The image as `network` takes it (channel_rules.py has the limits)."""
    return fit_within(media, ImageLimits.of(rules_for(network)))


def fitted_file(media_dir: Path, network: str, media: MediaFile) -> tuple[Path, str]:
    """A file with the image as `network` takes it, and its type: the stored file when it fits,
    else a scaled copy made once and kept (`<media_dir>/fitted/<network>/<sha256>.<ext>`)."""
    limits = ImageLimits.of(rules_for(network))
    if fits(media, limits):
        return media.path, media.mime_type
    folder = media_dir / "fitted" / network
    for mime_type, extension in EXTENSIONS.items():
        kept = folder / f"{media.path.name}.{extension}"
        if kept.is_file():
            return kept, mime_type
    fitted = fit_within(media, limits)
    folder.mkdir(parents=True, exist_ok=True)
    kept = folder / f"{media.path.name}.{EXTENSIONS[fitted.mime_type]}"
    _write_atomically(kept, fitted.data)
    return kept, fitted.mime_type


# --- signed links -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkedImage:
    sha256: str
    delivery_id: int | None  # the image as this delivery's network takes it (None: as stored)


class MediaLinks:
    """Links to a stored image that work without signing in until they expire: what a webhook
    receiver fetches. Signed with the app's secret key; the token names the image's hash and the
    delivery it was sent with (whose channel's network it is fitted to)."""

    SALT = "calendar_app.media-link"

    def __init__(self, secret_key: str, base_url: str, ttl_seconds: int) -> None:
        self.serializer = URLSafeTimedSerializer(secret_key, salt=self.SALT)
        self.base_url = base_url.rstrip("/")
        self.ttl_seconds = ttl_seconds

    def token(self, sha256: str, delivery_id: int | None = None) -> str:
        return self.serializer.dumps([sha256, delivery_id])

    def url(self, sha256: str, delivery_id: int | None = None) -> str:
        return f"{self.base_url}/media/signed/{self.token(sha256, delivery_id)}"

    def read(self, token: str) -> LinkedImage:
        """What a token names; MediaProblem when it is forged, damaged or expired."""
        try:
            value = self.serializer.loads(token, max_age=self.ttl_seconds)
        except SignatureExpired:
            raise MediaProblem("this link has expired") from None
        except BadSignature:
            raise MediaProblem("this link is not valid") from None
        match value:
            case [str(sha256), int(delivery_id)]:
                return LinkedImage(sha256, delivery_id)
            case [str(sha256), None]:
                return LinkedImage(sha256, None)
        raise MediaProblem("this link is not valid")
