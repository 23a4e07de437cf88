from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from livecart.db.base import Base, BigId, CreatedMixin, IdMixin, UtcDateTime


class Replay(IdMixin, CreatedMixin, Base):
    """A show's video: the ingest state while it is live, then its replay (回放).

    Paths are relative to the data dir. `started_at` is the server time of video t = 0 (the first
    segment's program date-time), so a server time maps to a video time. The encoder
    (livecart.video) fills the `encode*`, `bitrate_kbps` and `vmaf` columns later."""

    __tablename__ = "replays"
    __table_args__ = (
        CheckConstraint(
            "status IN ('recording', 'finishing', 'ready', 'failed')", name="status_known"
        ),
        CheckConstraint("runs >= 0", name="runs_nonneg"),
    )
    show_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("shows.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(10), default="recording", index=True)
    # The livecart process (its host and data dir) whose nginx took the stream: it holds the
    # files, so it alone ends the show after the grace period and closes the replay.
    media_node: Mapped[str | None] = mapped_column(String(40), index=True)
    # The publisher that node's nginx-rtmp knows now ("clientid"), null when no stream comes in.
    publisher: Mapped[str | None] = mapped_column(String(40))
    stream_gone_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    playlist_path: Mapped[str | None] = mapped_column(String(200))
    ingest_paths: Mapped[list[Any]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    ready_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    encoded_path: Mapped[str | None] = mapped_column(String(200))
    bitrate_kbps: Mapped[int | None] = mapped_column(Integer)
    vmaf: Mapped[float | None] = mapped_column(Float)
    encode_status: Mapped[str] = mapped_column(String(12), default="pending")
    encode_progress: Mapped[float] = mapped_column(Float, default=0.0)
    # Where each run of the live replay lies in the encoded one: [live_start_ms,
    # encoded_start_ms, lead_ms, pictures_ms] per run (rules.encoded_ms); null: the same.
    encoded_timeline: Mapped[list[Any] | None] = mapped_column(JSON)
    # Object storage keys of the uploaded playlists (storage=s3); null: served from data_dir.
    playlist_key: Mapped[str | None] = mapped_column(String(200))
    encoded_key: Mapped[str | None] = mapped_column(String(200))

    @property
    def publishing(self) -> bool:
        return self.publisher is not None


class ReplayMarker(IdMixin, CreatedMixin, Base):
    """A marker (看点) on the replay's progress bar, in video milliseconds: a product explanation
    or a highlight, found automatically or set by the host."""

    __tablename__ = "replay_markers"
    __table_args__ = (
        CheckConstraint("kind IN ('product', 'highlight')", name="kind_known"),
        CheckConstraint("source IN ('auto', 'host')", name="source_known"),
        CheckConstraint("start_ms >= 0", name="start_nonneg"),
        CheckConstraint("end_ms IS NULL OR end_ms >= start_ms", name="end_after_start"),
    )
    show_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("shows.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(5), default="auto")
    product_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("products.id", ondelete="SET NULL")
    )
    start_ms: Mapped[int] = mapped_column(Integer)
    end_ms: Mapped[int | None] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(80), default="")
    score: Mapped[float] = mapped_column(Float, default=0.0)
