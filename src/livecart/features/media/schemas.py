from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from livecart.kit.schemas import In, Out
from livecart.realtime.events import ProductCard

Label = Annotated[str, StringConstraints(strip_whitespace=True, max_length=80)]
VideoMs = Annotated[int, Field(ge=0, le=24 * 3_600_000)]


class MarkerOut(Out):
    id: int
    kind: Literal["product", "highlight"]
    source: Literal["auto", "host"]
    start_ms: int
    end_ms: int | None
    label: str
    score: float
    product: ProductCard | None


class ReplayOut(Out):
    show_id: int
    status: Literal["recording", "finishing", "ready", "failed"]
    playlist_url: str | None  # the rendition that plays (see `rendition`)
    # "encoded": the smaller rendition (窄带高清), once it exists; "live": the live recording.
    # Both share one timeline, so markers and chapters hold for either.
    rendition: Literal["live", "encoded"]
    chapters_url: str
    started_at: datetime | None  # server time of video t = 0
    duration_ms: int | None
    markers: list[MarkerOut]
    encode_status: str
    encode_progress: float
    bitrate_kbps: int | None  # the smaller rendition's video bitrate, once encoded
    vmaf: float | None


class MarkerIn(In):
    kind: Literal["product", "highlight"] = "highlight"
    start_ms: VideoMs
    end_ms: VideoMs | None = None
    label: Label = ""
    product_id: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _order(self) -> MarkerIn:
        if self.end_ms is not None and self.end_ms < self.start_ms:
            raise ValueError("end_ms must not be before start_ms")
        if self.kind == "product" and self.product_id is None:
            raise ValueError("a product marker needs product_id")
        return self


class MarkerPatch(In):
    start_ms: VideoMs | None = None
    end_ms: VideoMs | None = None
    label: Label | None = None
