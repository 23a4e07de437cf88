"""`livecart media config` prints the nginx-rtmp configuration that `livecart serve` runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_media_config_prints_and_writes(tmp_path: Path) -> None:
    env = {**os.environ, "LIVECART_DATA_DIR": str(tmp_path), "LIVECART_SECRET_KEY": "k" * 32}
    command = [sys.executable, "-m", "livecart", "media", "config", "--rtmp-port", "1940"]
    printed = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    assert "listen 127.0.0.1:1940;" in printed.stdout
    assert "on_publish http://127.0.0.1:8000/internal/media/" in printed.stdout
    target = tmp_path / "nginx.conf"
    subprocess.run([*command, "--write", str(target)], env=env, check=True, capture_output=True)
    assert target.read_text() == printed.stdout
    assert target.stat().st_mode & 0o077 == 0  # it holds the hook secret
