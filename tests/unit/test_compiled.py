"""The compiled room load generator: its job format and its build (cached per source)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from livecart.bench import compiled


def test_job_lines_name_each_server_and_buyer() -> None:
    job = compiled.job_lines(
        ["ws://127.0.0.1:8001/rooms/7", "ws://localhost:8002/rooms/7"], ["t1", "t2"], 250
    )
    assert job.decode().splitlines() == [
        "spread_ms 250",
        "server 127.0.0.1 8001 /rooms/7",
        "server localhost 8002 /rooms/7",
        "token t1",
        "token t2",
        "end",
    ]


def test_the_binary_is_built_once_per_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = compiled.wsbuyers()
    assert first.parent == tmp_path / "livecart" and os.access(first, os.X_OK)
    built_at = first.stat().st_mtime_ns
    assert compiled.wsbuyers() == first and first.stat().st_mtime_ns == built_at


def test_a_job_without_end_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    done = subprocess.run(
        [str(compiled.wsbuyers())], input=b"spread_ms 0\n", capture_output=True, timeout=30
    )
    assert done.returncode == 1
    assert done.stdout.startswith(b"failed: the job ended without")


def test_no_compiler_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))  # neither cc nor gcc here
    monkeypatch.delenv("CC", raising=False)
    with pytest.raises(compiled.NoCompiler, match="--client python"):
        compiled.wsbuyers()
