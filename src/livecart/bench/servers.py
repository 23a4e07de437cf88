"""Starting real `livecart serve` processes on free ports (benchmarks and tests)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT_SECS = 30.0


class ServerFailed(RuntimeError):
    """The server exited or did not answer in time; the message carries its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    base: str  # http://127.0.0.1:PORT
    room_base: str  # ws://127.0.0.1:ROOM_PORT
    log: Path
    pid: int
    rtmp_port: int = 0  # nginx-rtmp's, when live video is on

    def rss_bytes(self) -> int:
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return 0


@contextmanager
def serve(
    database_url: str, data_dir: Path, *, log_level: str = "info", **env: str
) -> Iterator[Server]:
    """`python -m livecart serve --no-demo` on free ports; stopped (SIGTERM) on exit."""
    port, room_port, rtmp_port = free_port(), free_port(), free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"server-{port}.log"
    full_env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LIVECART_DATA_DIR": str(data_dir),
        "LIVECART_ROOM_PORT": str(room_port),
        "LIVECART_RTMP_PORT": str(rtmp_port),
        # Replays are encoded on demand in tests and benchmarks: the encoder takes both cores.
        "LIVECART_REPLAY_ENCODE_AUTO": "false",
        **env,
    }
    command = [
        sys.executable,
        "-m",
        "livecart",
        "serve",
        "--no-demo",
        "--port",
        str(port),
        "--log-level",
        log_level,
    ]
    with log_path.open("wb") as log:
        # Our own interpreter and module with fixed arguments: no untrusted input here.
        proc = subprocess.Popen(command, env=full_env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    server = Server(
        f"http://127.0.0.1:{port}",
        f"ws://127.0.0.1:{room_port}",
        log_path,
        proc.pid,
        int(full_env["LIVECART_RTMP_PORT"]),
    )
    try:
        _wait_until_up(proc, server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_up(proc: subprocess.Popen[bytes], server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECS
    while True:
        if proc.poll() is not None:
            raise ServerFailed(f"the server exited early:\n{server.log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):  # not listening yet
            if httpx.get(server.base + "/openapi.json", timeout=1.0).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise ServerFailed(f"the server did not answer in time:\n{server.log.read_text()}")
        time.sleep(0.2)
