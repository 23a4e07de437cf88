"""Reading a show's run playlists from disk into one playlist and one timeline (see rules.py)."""

from __future__ import annotations

import os
from collections import OrderedDict
from datetime import UTC, datetime
from pathlib import Path

from livecart.features.media import rules

REPLAY_FILE = "replay.m3u8"
_CACHE_SIZE = 256
# (folder, run file, mtime_ns, size) → corrected segments of that run
_cache: OrderedDict[tuple[str, str, int, int], list[rules.Segment]] = OrderedDict()


def _run_segments(folder: Path, name: str, run: int) -> list[rules.Segment]:
    path = folder / name
    try:
        stat = path.stat()
        text = path.read_text()
    except (FileNotFoundError, UnicodeDecodeError):
        return []
    key = (str(folder), name, stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(key)
    if cached is not None:
        _cache.move_to_end(key)
        return cached
    parsed = rules.parse_run_playlist(text, run)
    segments = []
    for segment in parsed.segments:
        try:
            mtime = os.stat(folder / segment.uri).st_mtime
        except FileNotFoundError:
            continue  # listed but gone: leave it out rather than serve a hole
        written = datetime.fromtimestamp(mtime, UTC)
        segments.append(rules.Segment(segment.uri, segment.duration, segment.pdt, run, written))
    result = rules.corrected(segments)
    _cache[key] = result
    if len(_cache) > _CACHE_SIZE:
        _cache.popitem(last=False)
    return result


def runs(folder: Path) -> list[list[rules.Segment]]:
    """Every run's segments, in run order, with corrected program date-times."""
    if not folder.is_dir():
        return []
    found = []
    for entry in os.scandir(folder):
        match = rules.RUN_PLAYLIST.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name))
    return [_run_segments(folder, name, run) for run, name in sorted(found)]


def show_playlist(folder: Path, *, ended: bool) -> str:
    return rules.render_playlist(runs(folder), ended=ended)


def timeline(folder: Path) -> rules.Timeline:
    return rules.Timeline.of(s for run in runs(folder) for s in run)


def write_replay(folder: Path) -> rules.Timeline:
    """Write the finished show's VOD playlist (ENDLIST) next to its segments, atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    all_runs = runs(folder)
    tmp = folder / (REPLAY_FILE + ".tmp")
    tmp.write_text(rules.render_playlist(all_runs, ended=True))
    os.replace(tmp, folder / REPLAY_FILE)
    return rules.Timeline.of(s for run in all_runs for s in run)


def replay_timeline(folder: Path) -> rules.Timeline:
    """The timeline of the written replay playlist (its PDTs are already corrected)."""
    try:
        text = (folder / REPLAY_FILE).read_text()
    except FileNotFoundError:
        return rules.Timeline.of([])
    return rules.Timeline.of(rules.parse_run_playlist(text, 0).segments)
