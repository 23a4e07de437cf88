"""Stored files by key: on local disk under the data dir, or in an S3-compatible bucket.

Uploaded images are named by content hash so an upload is written once. Keys are relative paths
("products/ab/ab12….jpg", "replays/42/index.m3u8"); a reader gets them back through `url`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from livecart.kit.images import CheckedImage

MEDIA_URL_PREFIX = "/media/"
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".json": "application/json",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
}


class Storage(Protocol):
    """What the features use; LocalStorage and S3Storage both satisfy it."""

    def save_image(self, image: CheckedImage, *, folder: str) -> str: ...
    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> str: ...
    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> str: ...
    def get_bytes(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def url(self, key: str | None) -> str | None: ...
    def signed_url(self, key: str, *, expires_s: int = 3600) -> str: ...


class StorageOptions(Protocol):
    """The settings open_storage reads (livecart.config.Settings has them)."""

    @property
    def storage(self) -> str: ...
    @property
    def media_dir(self) -> Path: ...
    @property
    def s3_bucket(self) -> str: ...
    @property
    def s3_endpoint_url(self) -> str: ...
    @property
    def s3_region(self) -> str: ...
    @property
    def s3_public_url(self) -> str: ...


_opened: dict[tuple[object, ...], Storage] = {}
_current: list[Storage] = []


def storage_for(options: StorageOptions) -> Storage:
    """The Storage these settings name, opened once per process (an S3 client is not free)."""
    key = (
        options.storage,
        str(options.media_dir),
        options.s3_bucket,
        options.s3_endpoint_url,
        options.s3_region,
        options.s3_public_url,
    )
    if key not in _opened:
        _opened[key] = open_storage(options)
    return _opened[key]


def use_storage(storage: Storage) -> None:
    """Make `storage` the one `current_storage` returns: the app does it with its settings'
    storage when it is created, so code that builds a URL deep down (a product card, a cart
    line) needs no storage passed through every call."""
    _current[:] = [storage]


def current_storage() -> Storage:
    """The app's storage (use_storage); before any app exists, local storage's URLs."""
    return _current[0] if _current else LocalStorage(Path("media"))


def open_storage(options: StorageOptions) -> Storage:
    """LocalStorage under media_dir, or S3Storage when `storage` is "s3". S3 credentials come
    from boto3's usual chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, a role)."""
    if options.storage == "s3":
        if not options.s3_bucket:
            raise ValueError("LIVECART_STORAGE=s3 needs LIVECART_S3_BUCKET")
        return S3Storage(
            options.s3_bucket,
            endpoint_url=options.s3_endpoint_url or None,
            region=options.s3_region or None,
            public_url=options.s3_public_url,
        )
    if options.storage != "local":
        raise ValueError(f"unknown storage backend {options.storage!r} (local | s3)")
    return LocalStorage(options.media_dir)


def image_key(image: CheckedImage, *, folder: str) -> str:
    digest = hashlib.sha256(image.data).hexdigest()
    return f"{folder}/{digest[:2]}/{digest}.{image.extension}"


def check_key(key: str) -> str:
    """A relative path without `..`: a key never reaches outside the store's root."""
    parts = PurePosixPath(key).parts
    if not key or key.startswith("/") or "\\" in key or any(p in ("..", ".") for p in parts):
        raise ValueError(f"bad storage key {key!r}")
    return key


def content_type_for(key: str) -> str:
    return CONTENT_TYPES.get(PurePosixPath(key).suffix.lower(), "application/octet-stream")


def put_directory(storage: Storage, folder: str, directory: Path) -> list[str]:
    """Store every file under `directory` as `folder/<relative path>`; return the keys."""
    keys = []
    for path in sorted(_files(directory)):
        keys.append(storage.put_file(f"{folder}/{path.relative_to(directory).as_posix()}", path))
    return keys


def _files(directory: Path) -> Iterator[Path]:
    return (p for p in directory.rglob("*") if p.is_file())


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def save_image(self, image: CheckedImage, *, folder: str) -> str:
        """Write the image and return its storage key (a path relative to the root)."""
        key = image_key(image, folder=folder)
        if not self.exists(key):
            self.put_bytes(key, image.data)
        return key

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> str:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return key

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> str:
        return self.put_bytes(key, path.read_bytes())

    def get_bytes(self, key: str) -> bytes:
        """Raises FileNotFoundError for a missing key."""
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    @staticmethod
    def url(key: str | None) -> str | None:
        """Served by the app under /media/. Static so that a call on the class made before
        storage was configurable still runs; ruff bans it (TID251): use the instance,
        `current_storage().url(key)`, or it gives local URLs under storage=s3."""
        return MEDIA_URL_PREFIX + key if key else None

    def signed_url(self, key: str, *, expires_s: int = 3600) -> str:
        """Local files are served to anyone who has the address: the same as url()."""
        del expires_s
        return MEDIA_URL_PREFIX + check_key(key)

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)


class S3Storage:
    """Objects in one bucket of S3 or a compatible store (MinIO, Ceph, R2, OSS, COS)."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        public_url: str = "",
        client: Any = None,
    ) -> None:
        import boto3

        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.region = region
        self.public_url = public_url.rstrip("/")
        self.client: Any = client or boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region
        )

    def save_image(self, image: CheckedImage, *, folder: str) -> str:
        key = image_key(image, folder=folder)
        if not self.exists(key):
            self.put_bytes(key, image.data, content_type=f"image/{image.extension}")
        return key

    def put_bytes(self, key: str, data: bytes, *, content_type: str | None = None) -> str:
        self.client.put_object(
            Bucket=self.bucket,
            Key=check_key(key),
            Body=data,
            ContentType=content_type or content_type_for(key),
        )
        return key

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> str:
        # upload_file streams and switches to multipart for big files (a whole replay MP4).
        self.client.upload_file(
            str(path),
            self.bucket,
            check_key(key),
            ExtraArgs={"ContentType": content_type or content_type_for(key)},
        )
        return key

    def get_bytes(self, key: str) -> bytes:
        """Raises FileNotFoundError for a missing key, like LocalStorage."""
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=check_key(key))
        except self.client.exceptions.NoSuchKey as exc:
            raise FileNotFoundError(key) from exc
        data: bytes = response["Body"].read()
        return data

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=check_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=check_key(key))

    def url(self, key: str | None) -> str | None:
        """The public address: `public_url` (a CDN or public bucket) + key when set, else the
        path-style object URL on the endpoint (readable when the bucket allows public reads)."""
        if not key:
            return None
        if self.public_url:
            return f"{self.public_url}/{key}"
        if self.endpoint_url:
            return f"{self.endpoint_url.rstrip('/')}/{self.bucket}/{key}"
        region = self.region or "us-east-1"
        return f"https://{self.bucket}.s3.{region}.amazonaws.com/{key}"

    def signed_url(self, key: str, *, expires_s: int = 3600) -> str:
        """A time-limited GET address for a private bucket."""
        url: str = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": check_key(key)}, ExpiresIn=expires_s
        )
        return url
