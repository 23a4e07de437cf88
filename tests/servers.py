"""Real `livecart serve` processes for tests that need more than the in-process app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from livecart.bench import servers
from livecart.bench.servers import Server, free_port

__all__ = ["Server", "free_port", "serve"]


@contextmanager
def serve(database_url: str, data_dir: Path, **env: str) -> Iterator[Server]:
    """As livecart.bench.servers.serve, failing the test if the server does not come up."""
    try:
        with servers.serve(database_url, data_dir, **env) as server:
            yield server
    except servers.ServerFailed as exc:
        pytest.fail(str(exc))
