"""Files under the data dir, named by content hash so an upload is written once."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from livecart.kit.images import CheckedImage

MEDIA_URL_PREFIX = "/media/"


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def save_image(self, image: CheckedImage, *, folder: str) -> str:
        """Write the image and return its storage key (a path relative to the root)."""
        digest = hashlib.sha256(image.data).hexdigest()
        key = f"{folder}/{digest[:2]}/{digest}.{image.extension}"
        path = self.root / key
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".part")
            tmp.write_bytes(image.data)
            os.replace(tmp, path)
        return key

    @staticmethod
    def url(key: str | None) -> str | None:
        return MEDIA_URL_PREFIX + key if key else None
