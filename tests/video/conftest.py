"""Tiny synthetic sources (320x180, 3 s), rendered once per session with imageio-ffmpeg's binary.

These tests never skip: the binary comes with the imageio-ffmpeg wheel, libvmaf included."""

from __future__ import annotations

from pathlib import Path

import pytest

from livecart.video.clips import render_clip


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    return {
        "talking_head": render_clip("talking_head", root / "talk.mkv"),
        # Like nginx-rtmp's recording of an OBS stream: FLV, H.264 + AAC.
        "ingest": render_clip("product_closeup", root / "ingest.flv", lossless=False, audio=True),
        "low_light": render_clip("low_light", root / "dark.mkv"),
        "low_light_noisy": render_clip("low_light", root / "dark_noisy.mkv", noisy=True),
    }
