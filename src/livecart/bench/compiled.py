"""The compiled room load generator (`wsbuyers.c`), built on first use with the machine's C
compiler and kept in the user's cache, one binary per version of the source."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

SOURCE = Path(__file__).with_name("wsbuyers.c")


class NoCompiler(RuntimeError):
    """No C compiler here: use the Python load generator (`--client python`)."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "livecart"


def wsbuyers() -> Path:
    """The path of the built load generator; built now if this version of it is not yet."""
    source = SOURCE.read_bytes()
    binary = cache_dir() / f"wsbuyers-{hashlib.sha256(source).hexdigest()[:16]}"
    if binary.exists():
        return binary
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if compiler is None:
        raise NoCompiler("no C compiler (cc or gcc) on PATH; use --client python")
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(f".{os.getpid()}.tmp")
    done = subprocess.run(  # noqa: S603 - our own source, the machine's compiler
        [compiler, "-O2", "-Wall", "-o", str(partial), str(SOURCE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise NoCompiler(f"building {SOURCE.name} failed:\n{done.stderr[-2000:]}")
    partial.replace(binary)  # atomic: a concurrent build leaves one whole binary
    return binary


def job_lines(urls: list[str], tokens: list[str], spread_ms: int) -> bytes:
    """The job in wsbuyers' line format (see wsbuyers.c) for room URLs ws://HOST:PORT/PATH."""
    lines = [f"spread_ms {spread_ms}"]
    for url in urls:
        rest = url.split("://", 1)[1]
        hostport, _, path = rest.partition("/")
        host, _, port = hostport.rpartition(":")
        lines.append(f"server {host} {port} /{path}")
    lines += [f"token {token}" for token in tokens]
    lines.append("end")
    return ("\n".join(lines) + "\n").encode()
