"""Checks an uploaded image by decoding it, never by trusting its name or declared type."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from livecart.errors import AppError

ALLOWED_FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
MAX_PIXELS = 40_000_000
MIN_SIDE_PX = 16


@dataclass(frozen=True, slots=True)
class CheckedImage:
    data: bytes
    content_type: str
    extension: str
    width: int
    height: int


def check_image(data: bytes, *, max_bytes: int) -> CheckedImage:
    if not data:
        raise AppError("image_empty", "The file is empty.", status=400)
    if len(data) > max_bytes:
        raise AppError(
            "image_too_large",
            f"Images may be at most {max_bytes // (1024 * 1024)} MB.",
            status=413,
            data={"max_bytes": max_bytes},
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                fmt = img.format or ""
                width, height = img.size
                if width * height > MAX_PIXELS:
                    raise AppError(
                        "image_too_large", "The picture has too many pixels.", status=413
                    )
                img.verify()
    except AppError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ) as exc:
        raise AppError("image_invalid", "The file is not a readable image.", status=415) from exc
    if fmt not in ALLOWED_FORMATS:
        raise AppError(
            "image_type_not_allowed",
            "Only JPEG, PNG and WebP images are accepted.",
            status=415,
            data={"allowed": sorted(v[0] for v in ALLOWED_FORMATS.values())},
        )
    if min(width, height) < MIN_SIDE_PX:
        raise AppError(
            "image_too_small", f"Images must be at least {MIN_SIDE_PX}px a side.", status=400
        )
    content_type, extension = ALLOWED_FORMATS[fmt]
    return CheckedImage(data, content_type, extension, width, height)
