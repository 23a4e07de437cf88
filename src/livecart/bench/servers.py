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
BIND_TRIES = 3


class ServerFailed(RuntimeError):
    """The server exited or did not answer in time; the message carries its log."""


class PortTaken(ServerFailed):
    """The server exited because one of its ports was taken meanwhile."""


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports. All sockets stay open until every port is chosen: closing
    one before asking for the next lets the kernel hand out the same port twice."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


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
    """`python -m livecart serve --no-demo` on free ports; stopped (SIGTERM) on exit.

    Another process may take a chosen port before the server binds it; the start is then
    tried again on new ports (up to BIND_TRIES times)."""
    for attempt in range(1, BIND_TRIES + 1):
        try:
            started = _start(database_url, data_dir, log_level, env)
        except PortTaken:
            if attempt == BIND_TRIES:
                raise
            continue
        break
    proc, server = started
    try:
        yield server
    finally:
        _stop(proc)


def _start(
    database_url: str, data_dir: Path, log_level: str, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], Server]:
    port, room_port, rtmp_port = free_ports(3)
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
    except ServerFailed:
        _stop(proc)
        raise
    return proc, server


def _stop(proc: subprocess.Popen[bytes]) -> None:
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
            log = server.log.read_text()
            if "address already in use" in log:
                raise PortTaken(log)
            raise ServerFailed(f"the server exited early:\n{log}")
        with contextlib.suppress(httpx.HTTPError):  # not listening yet
            if httpx.get(server.base + "/openapi.json", timeout=1.0).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise ServerFailed(f"the server did not answer in time:\n{server.log.read_text()}")
        time.sleep(0.2)
