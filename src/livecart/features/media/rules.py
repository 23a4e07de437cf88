"""Pure rules of the video path: HLS playlists, server time → video time, 看点 and chapters.

A show's video is one or more *runs* (one per time the host's encoder published); the packager
writes one EVENT playlist per run, and the show's playlist is their concatenation with a
discontinuity between runs. Every segment carries its program date-time (PDT): the server time at
which its first frame reached the packager. Tested without I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from livecart.kit.clock import as_utc

RUN_PLAYLIST = re.compile(r"^r(\d{3})\.m3u8$")
SEGMENT_NAME = re.compile(r"^r\d{3}-\d{5}\.ts$")
SEGMENT_SECS = 1.0
HIGHLIGHT_WINDOW_MS = 10_000
MAX_HIGHLIGHTS = 3


@dataclass(frozen=True, slots=True)
class Segment:
    uri: str
    duration: float  # seconds
    pdt: datetime | None  # the program date-time as written (aware UTC)
    run: int = 0
    written_at: datetime | None = None  # when the file was complete (its mtime), if known


@dataclass(frozen=True, slots=True)
class RunPlaylist:
    run: int
    segments: tuple[Segment, ...]
    ended: bool  # the packager finished this run (#EXT-X-ENDLIST)


def run_file_name(run: int) -> str:
    return f"r{run:03d}.m3u8"


def segment_pattern(run: int) -> str:
    return f"r{run:03d}-%05d.ts"


def parse_pdt(text: str) -> datetime:
    """`2026-11-25T16:46:08.377+0000` (ffmpeg) or with `Z` / `+00:00`."""
    value = text.strip().replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", value):
        value = value[:-2] + ":" + value[-2:]
    return as_utc(datetime.fromisoformat(value))


def parse_run_playlist(text: str, run: int) -> RunPlaylist:
    """The segments of one run's media playlist. Lines it does not need are ignored; a segment
    line that is not one of ours (a path, a URL) is dropped rather than served."""
    segments: list[Segment] = []
    duration: float | None = None
    pdt: datetime | None = None
    ended = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            pdt = parse_pdt(line.split(":", 1)[1])
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif line and not line.startswith("#"):
            if duration is not None and SEGMENT_NAME.match(line):
                segments.append(Segment(line, duration, pdt, run))
            duration, pdt = None, None
    return RunPlaylist(run, tuple(segments), ended)


def corrected(segments: Sequence[Segment]) -> list[Segment]:
    """Segments whose PDT is moved to the server time their frames arrived.

    ffmpeg stamps the first segment with the time its muxer started, after it spent up to a second
    or two probing the input; the frames it had buffered meanwhile are older than that. A segment
    file cannot be complete before the first frame of the next one has arrived, so
    `written_at - (pdt + duration)` is, at its smallest, how far the stamps run ahead of arrival.
    """
    offsets = [
        (s.written_at - s.pdt - timedelta(seconds=s.duration)).total_seconds()
        for s in segments
        if s.written_at is not None and s.pdt is not None
    ]
    if not offsets:
        return list(segments)
    shift = timedelta(seconds=min(offsets))
    return [replace(s, pdt=s.pdt + shift) if s.pdt is not None else s for s in segments]


def render_playlist(runs: Sequence[Sequence[Segment]], *, ended: bool) -> str:
    """The show's playlist: every run in order, a discontinuity between runs; VOD with an
    ENDLIST once the show is over, else EVENT (the whole show stays listed)."""
    all_segments = [s for run in runs for s in run]
    target = max((s.duration for s in all_segments), default=SEGMENT_SECS)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:6",
        # Each EXTINF rounded to the nearest second must not exceed it (RFC 8216 4.3.3.1).
        f"#EXT-X-TARGETDURATION:{max(1, math.floor(target + 0.5))}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-DISCONTINUITY-SEQUENCE:0",
        f"#EXT-X-PLAYLIST-TYPE:{'VOD' if ended else 'EVENT'}",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    first = True
    for run in runs:
        if not run:
            continue
        if not first:
            lines.append("#EXT-X-DISCONTINUITY")
        first = False
        for segment in run:
            if segment.pdt is not None:
                lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{format_pdt(segment.pdt)}")
            lines.append(f"#EXTINF:{segment.duration:.6f},")
            lines.append(segment.uri)
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def format_pdt(moment: datetime) -> str:
    return as_utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- server time ↔ video time ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timeline:
    """Where each segment starts in video time (ms) and in server time."""

    starts_ms: tuple[int, ...]
    pdts: tuple[datetime | None, ...]
    durations_ms: tuple[int, ...]

    @classmethod
    def of(cls, segments: Iterable[Segment]) -> Timeline:
        starts: list[int] = []
        pdts: list[datetime | None] = []
        durations: list[int] = []
        at = 0.0
        for s in segments:
            starts.append(round(at * 1000))
            pdts.append(s.pdt)
            durations.append(round(s.duration * 1000))
            at += s.duration
        return cls(tuple(starts), tuple(pdts), tuple(durations))

    @property
    def duration_ms(self) -> int:
        return self.starts_ms[-1] + self.durations_ms[-1] if self.starts_ms else 0

    @property
    def started_at(self) -> datetime | None:
        return self.pdts[0] if self.pdts else None

    def video_ms(self, moment: datetime) -> int:
        """The video time showing what reached the server at `moment`: inside a segment, its
        start plus the time since its PDT; in a gap between runs, the next run's start; before
        the video, 0; after it, its end."""
        moment = as_utc(moment)
        result = 0
        for start, pdt, duration in zip(self.starts_ms, self.pdts, self.durations_ms, strict=True):
            if pdt is None:
                continue
            offset = (moment - pdt).total_seconds() * 1000
            if offset < 0:
                return result
            result = start + min(round(offset), duration)
        return result


# --- the encoded rendition's timeline --------------------------------------------------------
# The smaller rendition is encoded from the ingest recordings, each run from its first picture
# for as long as its pictures last. The live replay's run is longer: it holds its first picture
# from t = 0 for `lead_ms` (1.7-1.8 s in the tests) before the pictures move. One entry per run:
# (live_start_ms, encoded_start_ms, lead_ms, pictures_ms).


def _run_for(ms: int, shifts: Sequence[Sequence[int]], column: int) -> Sequence[int] | None:
    found = shifts[0] if shifts else None
    for shift in shifts:
        if shift[column] <= ms:
            found = shift
    return found


def encoded_ms(live_ms: int, shifts: Sequence[Sequence[int]]) -> int:
    """The encoded rendition's time of the live replay's `live_ms` (identity without shifts);
    a moment before a run's first picture or after its last maps to that picture."""
    run = _run_for(live_ms, shifts, 0)
    if run is None:
        return live_ms
    live_start, encoded_start, lead, pictures = run[0], run[1], run[2], run[3]
    return encoded_start + min(pictures, max(0, live_ms - live_start - lead))


def live_ms(encoded: int, shifts: Sequence[Sequence[int]]) -> int:
    """The inverse of encoded_ms: a time on the encoded rendition, on the live replay."""
    run = _run_for(encoded, shifts, 1)
    if run is None:
        return encoded
    live_start, encoded_start, lead, pictures = run[0], run[1], run[2], run[3]
    return live_start + lead + min(pictures, max(0, encoded - encoded_start))


# --- 看点: product markers and automatic highlights -------------------------------------------


@dataclass(frozen=True, slots=True)
class ExplainedSpan:
    product_id: int
    started_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True, slots=True)
class MarkerDraft:
    kind: str  # product | highlight
    start_ms: int
    end_ms: int | None
    product_id: int | None
    label: str
    score: float


def product_markers(
    spans: Sequence[ExplainedSpan], timeline: Timeline, titles: dict[int, str]
) -> list[MarkerDraft]:
    """One marker per explanation segment, in video time (so corrected for the stream's delay)."""
    end_of_video = timeline.duration_ms
    out = []
    for span in spans:
        start = timeline.video_ms(span.started_at)
        end = timeline.video_ms(span.ended_at) if span.ended_at else end_of_video
        if start >= end_of_video and end_of_video > 0:
            continue  # explained after the last frame that reached us
        out.append(
            MarkerDraft(
                "product",
                start,
                max(start, end),
                span.product_id,
                titles.get(span.product_id, ""),
                float(max(start, end) - start) / 1000,
            )
        )
    return out


def rank_highlights(
    *,
    chat: Sequence[datetime],
    drops: Sequence[datetime],
    timeline: Timeline,
    taken: Sequence[MarkerDraft] = (),
    window_ms: int = HIGHLIGHT_WINDOW_MS,
    top: int = MAX_HIGHLIGHTS,
) -> list[MarkerDraft]:
    """The busiest moments of the show from its own log: windows of `window_ms` of video scored
    by chat lines (1 each) and link drops (5 each: the moment a price drops is the moment to
    watch). The best `top` windows that do not start inside another chosen window or on a product
    marker's first window are kept, best first. Likes are saved only as a total, so they cannot
    place a moment; they are not used."""
    if timeline.duration_ms <= 0:
        return []
    buckets: dict[int, float] = {}
    reasons: dict[int, dict[str, int]] = {}
    for moments, weight, reason in ((chat, 1.0, "chat"), (drops, 5.0, "drop")):
        for moment in moments:
            at = timeline.video_ms(moment)
            bucket = at // window_ms
            buckets[bucket] = buckets.get(bucket, 0.0) + weight
            reasons.setdefault(bucket, {}).setdefault(reason, 0)
            reasons[bucket][reason] += 1
    busy_starts = {m.start_ms // window_ms for m in taken}
    chosen: list[MarkerDraft] = []
    for bucket, score in sorted(buckets.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(chosen) >= top:
            break
        if bucket in busy_starts or score < 2:
            continue
        start = bucket * window_ms
        end = min(start + window_ms, timeline.duration_ms)
        label = "drop" if reasons[bucket].get("drop") else "chat"
        chosen.append(MarkerDraft("highlight", start, end, None, label, score))
        busy_starts.add(bucket)
    return chosen


# --- chapters ------------------------------------------------------------------------------


def vtt_time(ms: int) -> str:
    hours, rest = divmod(max(0, ms), 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def chapters_vtt(chapters: Sequence[tuple[int, int, str]]) -> str:
    """WebVTT chapters from (start_ms, end_ms, title); cue text cannot hold `-->` or blank lines."""
    lines = ["WEBVTT", ""]
    for n, (start, end, title) in enumerate(chapters, start=1):
        clean = " ".join(title.replace("-->", "→").split()) or f"Chapter {n}"
        lines += [str(n), f"{vtt_time(start)} --> {vtt_time(max(end, start + 1))}", clean, ""]
    return "\n".join(lines)
