"""Settings from the environment. The backend is chosen by URL."""

from __future__ import annotations

import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_BODY_BYTES = 1 * 1024 * 1024
MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIVECART_", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(
        default=Path("./var"), validation_alias=AliasChoices("LIVECART_DATA_DIR")
    )
    database_url: str = Field(default="", validation_alias=AliasChoices("DATABASE_URL"))
    redis_url: str = Field(default="", validation_alias=AliasChoices("REDIS_URL"))
    secret_key: str = Field(default="", validation_alias=AliasChoices("LIVECART_SECRET_KEY"))
    secure_cookies: bool = False
    token_ttl_days: int = 30
    room_host: str = "127.0.0.1"
    room_port: int = 8001
    # Faster broadcast writes (picows' aiofastnet) for about 25 KB more per viewer.
    room_fast_transport: bool = False
    room_url: str = Field(
        default="",
        description="The room gateway's public WebSocket base (e.g. wss://example.com/ws); by "
        "default ws://<the page's host>:<room_port>.",
    )
    public_url: str = Field(
        default="",
        description="Where this site is reached (e.g. https://shop.example.com); the payment "
        "provider sends its notifications here. `livecart serve` fills in its own address.",
    )
    payment_provider: str = "sandbox"
    # Background jobs (order expiry, refund retries, the sandbox's notifications). Safe to run in
    # every process; turn off for processes that should only serve.
    run_jobs: bool = True
    # How unreliable the sandbox provider's notifications are (real ones are, too).
    sandbox_duplicate_rate: float = Field(default=0.2, ge=0, le=1)
    sandbox_max_delay_ms: int = Field(default=1500, ge=0, le=60_000)
    # File storage: "local" (under data_dir/media) or "s3" (any S3-compatible store). S3
    # credentials come from boto3's usual chain: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ...
    storage: Literal["local", "s3"] = "local"
    s3_bucket: str = ""
    s3_endpoint_url: str = Field(default="", description="for MinIO, R2, OSS, ...; empty: AWS")
    s3_region: str = ""
    s3_public_url: str = Field(default="", description="public base URL of the bucket (a CDN)")
    # A private bucket: replays play through presigned URLs (the app serves their playlists with
    # every segment signed) instead of the bucket's public address.
    s3_presign: bool = False
    s3_presign_secs: int = Field(default=6 * 3600, ge=60, le=7 * 24 * 3600)
    # The flash-sale gate's arbiter: in process memory (one process) or Redis (many; REDIS_URL).
    sale_gate: Literal["embedded", "redis"] = "embedded"
    # Live video (features/media): nginx-rtmp ingest started by `livecart serve` when installed.
    media: str = Field(default="auto", description="auto: start nginx-rtmp when installed; off")
    rtmp_host: str = "127.0.0.1"
    rtmp_port: int = 1935
    # How long a show stays live after its stream drops before it ends by itself.
    stream_grace_secs: float = 30.0
    # Encode each replay's smaller rendition in the background when it is ready (both cores).
    replay_encode_auto: bool = True
    # Where encodes run: in this process, or on RQ (REDIS_URL) taken by `livecart worker`s.
    replay_encode_queue: Literal["inprocess", "rq"] = "inprocess"
    # Where nginx reaches this process for its callbacks; `livecart serve` fills in its port.
    http_port: int = 8000
    max_body_bytes: int = MAX_BODY_BYTES
    max_upload_bytes: int = MAX_UPLOAD_BYTES

    @cached_property
    def resolved_database_url(self) -> str:
        """DATABASE_URL with the async driver filled in; by default SQLite in the data dir."""
        url = self.database_url or f"sqlite:///{(self.data_dir / 'livecart.db').resolve()}"
        if url.startswith("sqlite:"):
            return url.replace("sqlite:", "sqlite+aiosqlite:", 1)
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        return url

    @cached_property
    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def live_dir(self) -> Path:
        """HLS segments, playlists and ingest recordings, one folder per show."""
        return self.data_dir / "live"
