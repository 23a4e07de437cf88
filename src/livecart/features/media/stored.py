"""A finished replay's files in the configured storage (storage=s3): the live replay when it is
ready, the smaller rendition when it is encoded. With local storage nothing is copied: the files
stay in the data dir and the app serves them under /live/."""

from __future__ import annotations

from pathlib import Path

from livecart.kit.storage import Storage

PLAYLIST_NAME = "index.m3u8"


def replay_prefix(show_id: int, rendition: str) -> str:
    return f"replays/{show_id}/{rendition}"


def upload_hls(storage: Storage, playlist: Path, prefix: str) -> str:
    """Put a VOD playlist's segments, then the playlist (so it never lists a missing segment),
    under `prefix`; the segments keep their relative names. Returns the playlist's key."""
    text = playlist.read_text()
    names = [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]
    for name in names:
        if "/" in name or name.startswith("."):
            raise ValueError(f"not a segment of ours: {name!r}")
        storage.put_file(f"{prefix}/{name}", playlist.parent / name)
    key = f"{prefix}/{PLAYLIST_NAME}"
    storage.put_bytes(key, text.encode())
    return key
