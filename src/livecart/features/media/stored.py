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


def signed_playlist(storage: Storage, key: str, *, expires_s: int) -> str:
    """A stored playlist with each segment line replaced by its presigned URL (a private
    bucket: a presigned playlist's relative segment names would not be signed)."""
    prefix = key.rsplit("/", 1)[0]
    lines = []
    for line in storage.get_bytes(key).decode().splitlines():
        name = line.strip()
        if name and not name.startswith("#"):
            line = storage.signed_url(f"{prefix}/{name}", expires_s=expires_s)
        lines.append(line)
    return "\n".join(lines) + "\n"
