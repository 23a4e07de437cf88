"""nginx-rtmp as livecart's ingest: its configuration, and running it as a child process.

OBS (or ffmpeg) publishes to `rtmp://HOST:PORT/live` with the show's stream key as the stream
name. nginx asks livecart (`on_publish`); livecart answers 302 with a non-secret name (`show-<id>`),
under which nginx-rtmp renames the stream, so the key never appears in a path or a process's
arguments. Playing from nginx is allowed from this machine only (the packager reads from it).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import shutil
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from livecart.config import Settings

log = logging.getLogger("livecart.media")

RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
APP = "live"
START_TIMEOUT_SECS = 5.0
STOP_TIMEOUT_SECS = 5.0


def hook_token(settings: Settings) -> str:
    """The secret in nginx's callback URLs: derived from the settings' secret key, so every
    livecart process behind one database agrees on it without storing it."""
    digest = hmac.new(
        settings.resolved_secret_key.encode(), b"livecart media hook v1", hashlib.sha256
    )
    return digest.hexdigest()[:40]


def stream_name(show_id: int) -> str:
    return f"show-{show_id}"


def hook_base(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.http_port}/internal/media/{hook_token(settings)}"


def nginx_dir(settings: Settings) -> Path:
    return settings.data_dir / "nginx"


CONTROL_SOCKET = "control.sock"
# sockaddr_un holds 108 bytes; a data dir deeper than this gets no control socket.
MAX_SOCKET_PATH = 100


def control_socket(settings: Settings) -> Path | None:
    """nginx-rtmp's control interface (drop a publisher) listens on this unix socket: only this
    machine's users with access to the data dir can reach it, and it needs no port."""
    path = nginx_dir(settings).resolve() / CONTROL_SOCKET
    return path if len(str(path)) <= MAX_SOCKET_PATH else None


def render_config(settings: Settings, *, module: Path = RTMP_MODULE) -> str:
    """The whole nginx.conf: nginx in the foreground, its pid and logs under the data dir, one
    RTMP application whose publishers are checked by livecart."""
    prefix = nginx_dir(settings).resolve()
    base = hook_base(settings)
    socket_path = control_socket(settings)
    control = (
        f"""http {{
    access_log off;
    server {{
        # nginx-rtmp's control module: livecart drops a show's publisher when the host ends it.
        listen unix:{socket_path};
        location /control {{
            rtmp_control all;
        }}
    }}
}}
"""
        if socket_path is not None
        else ""
    )
    return f"""# Written by `livecart media config`; livecart serve writes and runs it itself.
load_module {module};
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
# notice and above only: nginx-rtmp logs the stream name (the key) at "info".
error_log {prefix}/logs/error.log warn;
events {{
    worker_connections 1024;
}}
rtmp {{
    access_log off;
    server {{
        listen {settings.rtmp_host}:{settings.rtmp_port};
        chunk_size 4096;
        application {APP} {{
            live on;
            record off;
            # Players are dropped when the publisher leaves, so the packager sees the end.
            idle_streams off;
            drop_idle_publisher 10s;
            notify_method post;
            on_publish {base}/publish;
            on_publish_done {base}/publish_done;
            allow publish all;
            allow play 127.0.0.1;
            deny play all;
        }}
    }}
}}
{control}"""


@dataclass(frozen=True, slots=True)
class Availability:
    ok: bool
    reason: str = ""


def check_installed(module: Path = RTMP_MODULE) -> Availability:
    missing = [name for name in ("nginx", "ffmpeg") if shutil.which(name) is None]
    if not module.exists():
        missing.append(f"the RTMP module ({module}, Debian package libnginx-mod-rtmp)")
    if missing:
        return Availability(
            False,
            "live video is off: missing "
            + ", ".join(missing)
            + " (on Debian: apt-get install nginx libnginx-mod-rtmp ffmpeg)",
        )
    return Availability(True)


def port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def stop_stale(settings: Settings) -> bool:
    """Stop an nginx that an earlier livecart left running on this data dir (it was killed
    before it could stop it). True when there was one."""
    prefix = nginx_dir(settings).resolve()
    try:
        pid = int((prefix / "nginx.pid").read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    if b"nginx" not in cmdline or str(prefix).encode() not in cmdline:
        return False  # the pid was reused by something else
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.05)
    log.warning("stopped nginx %d left over from an earlier run", pid)
    return True


class NginxProcess:
    """nginx in the foreground as a child of this process; stopped (gracefully) with it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        prefix = nginx_dir(self.settings)
        (prefix / "logs").mkdir(parents=True, exist_ok=True)
        conf = prefix / "nginx.conf"
        socket_path = control_socket(self.settings)
        if socket_path is not None:  # left by an nginx that was killed: it would not bind
            socket_path.unlink(missing_ok=True)
        conf.write_text(render_config(self.settings))
        conf.chmod(0o600)  # it holds the hook token
        error_log = prefix / "logs" / "error.log"
        self.proc = await asyncio.create_subprocess_exec(
            "nginx",
            "-p",
            str(prefix.resolve()),
            "-c",
            str(conf.resolve()),
            "-e",
            str(error_log.resolve()),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C in the terminal reaches livecart, which stops it
        )
        if not await self._listening():
            await self.stop()
            tail = error_log.read_text()[-2000:] if error_log.exists() else ""
            raise RuntimeError(f"nginx-rtmp did not start; its log says:\n{tail}")
        log.info(
            "RTMP ingest on rtmp://%s:%d/%s (nginx pid %d)",
            self.settings.rtmp_host,
            self.settings.rtmp_port,
            APP,
            self.proc.pid,
        )

    async def drop_publisher(self, name: str) -> bool:
        """Disconnect whoever publishes stream `name` (the host ended the show while the
        encoder still streams). True when nginx dropped someone."""
        import httpx

        path = control_socket(self.settings)
        if not self.running or path is None or not path.exists():
            return False
        transport = httpx.AsyncHTTPTransport(uds=str(path))
        async with httpx.AsyncClient(transport=transport, timeout=2.0) as client:
            try:
                response = await client.get(
                    "http://nginx/control/drop/publisher", params={"app": APP, "name": name}
                )
            except httpx.HTTPError as exc:
                log.warning("could not drop the publisher of %s: %s", name, exc)
                return False
        # nginx-rtmp answers with the number of clients it dropped.
        return response.status_code == 200 and response.text.strip() not in ("", "0")

    async def _listening(self) -> bool:
        host = self.settings.rtmp_host
        if host in ("0.0.0.0", ""):  # noqa: S104 - listening everywhere: ask the loopback
            host = "127.0.0.1"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_SECS
        while loop.time() < deadline:
            if self.proc is None or self.proc.returncode is not None:
                return False
            try:
                _, writer = await asyncio.open_connection(host, self.settings.rtmp_port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return True
        return False

    async def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)  # fast shutdown: livecart is going away too
        try:
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_SECS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
