"""The `livecart` command line."""

from __future__ import annotations

import argparse
import asyncio
import copy
import getpass
import logging
import os
import resource
import socket
import sys
from collections.abc import Sequence

from livecart.config import Settings

log = logging.getLogger("livecart")


def _migrate(settings: Settings) -> None:
    from livecart.migrations.run import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)


def _seed(settings: Settings) -> None:
    from livecart import demo

    summary = asyncio.run(demo.seed_demo(settings))
    if summary.created:
        print(f"demo data: {summary.products} products, {summary.shows} shows")
        print(f"  merchant  {demo.MERCHANT_EMAIL}")
        for email in demo.HOST_EMAILS:
            print(f"  host      {email}")
        print(f"  viewer    {demo.VIEWER_EMAIL}")
        print(f"  password  {demo.DEMO_PASSWORD}")
    else:
        print("demo data: the database already has accounts; nothing added")


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from livecart.app import create_app

    if args.room_port is not None:
        settings = settings.model_copy(update={"room_port": args.room_port})
    if not settings.public_url:  # where the payment provider's notifications come back
        host = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host  # noqa: S104
        settings = settings.model_copy(update={"public_url": f"http://{host}:{args.port}"})
    # nginx-rtmp calls back on this port (see features/media/nginx.py).
    settings = settings.model_copy(update={"http_port": args.port})
    if not _port_free(settings.room_host, settings.room_port):
        print(
            f"error: the room connection's port {settings.room_port} is in use; choose another "
            "with --room-port or LIVECART_ROOM_PORT",
            file=sys.stderr,
        )
        return 2
    _migrate(settings)
    if not args.no_demo:
        _seed(settings)
    print(f"livecart on http://{args.host}:{args.port}  (API docs at /docs)")
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    for handler in log_config["handlers"].values():  # the hook token stays out of every line
        handler.setdefault("filters", []).append("redact")
    log_config["filters"] = {"redact": {"()": "livecart.web.logs.RedactSecrets"}}
    uvicorn.run(
        create_app(settings, ingest=True),
        log_config=log_config,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        proxy_headers=False,
    )
    return 0


def cmd_migrate(_args: argparse.Namespace, settings: Settings) -> int:
    _migrate(settings)
    print("database is at the latest schema")
    return 0


def cmd_seed_demo(_args: argparse.Namespace, settings: Settings) -> int:
    _migrate(settings)
    _seed(settings)
    return 0


def cmd_create_admin(args: argparse.Namespace, settings: Settings) -> int:
    from livecart.admin import create_admin

    password = args.password or os.environ.get("LIVECART_ADMIN_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = getpass.getpass("Password: ")
    if len(password) < 8:
        print("error: the password needs at least 8 characters", file=sys.stderr)
        return 2
    _migrate(settings)
    result = asyncio.run(
        create_admin(settings, email=args.email, password=password, display_name=args.name)
    )
    print(result)
    return 0


def cmd_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    """Compare the gate's counters with the database; with --repair, rebuild both from the
    claims. Also counts references of the sale's rows that do not resolve. Prints one JSON
    line; exits 1 when the counters disagree and were not repaired, or a reference does not
    resolve."""
    import json

    from livecart.db.engine import make_engine, make_session_factory
    from livecart.errors import AppError
    from livecart.features import models
    from livecart.features.orders.cart import SALE_ORDERS
    from livecart.features.sales.gate import make_gate
    from livecart.features.sales.reconcile import reconcile

    assert models  # every table is mapped (the claims refer to users)
    if args.server:
        return _reconcile_on_server(args.server, args.sale, repair=args.repair)

    async def run() -> dict[str, object]:
        engine = make_engine(settings.resolved_database_url)
        gate = make_gate(
            make_session_factory(engine),
            backend=settings.sale_gate,
            redis_url=settings.redis_url,
            secret=settings.resolved_secret_key,
        )
        gate.writer.add_hook(SALE_ORDERS)  # as in the server: the orders are checked too
        try:
            report = (await reconcile(gate, args.sale, repair=args.repair)).as_dict()
        finally:
            await gate.close()
            await engine.dispose()
        if gate.backend == "embedded":
            report["note"] = (
                "embedded: the gate's counters live in the server's memory and are rebuilt "
                "from the claims when it starts; restart it after a repair"
            )
        return report

    try:
        report = asyncio.run(run())
    except AppError as exc:  # no such sale
        print(f"error: {exc.message} ({exc.code})", file=sys.stderr)
        return 2
    print(json.dumps(report, ensure_ascii=False))
    return _reconcile_exit(report)


def _reconcile_on_server(server: str, sale_id: int, *, repair: bool) -> int:
    import json
    import os

    import httpx

    token = os.environ.get("LIVECART_TOKEN", "")
    if not token:
        print("error: --server needs LIVECART_TOKEN (a host's or admin's token)", file=sys.stderr)
        return 2
    try:
        resp = httpx.post(
            f"{server.rstrip('/')}/api/v1/sales/{sale_id}/reconcile",
            params={"repair": str(repair).lower()},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        )
    except httpx.HTTPError as exc:
        print(f"error: {server} did not answer: {exc!r}", file=sys.stderr)
        return 2
    if resp.status_code != 200:
        print(f"error: {resp.status_code} {resp.text}", file=sys.stderr)
        return 2
    report = resp.json()
    print(json.dumps(report, ensure_ascii=False))
    return _reconcile_exit(report)


def _reconcile_exit(report: dict[str, object]) -> int:
    """0 when the counters agree (or were repaired) and every reference resolves."""
    counters_ok = report["agree"] or report["repaired"]
    return 0 if counters_ok and report["references_resolve"] else 1


def cmd_replay_encode(args: argparse.Namespace, settings: Settings) -> int:
    """Encode now, showing progress on stderr; one JSON line with the result on stdout."""
    import json

    from livecart.db.engine import make_engine, make_session_factory
    from livecart.errors import AppError
    from livecart.features import models
    from livecart.features.media.encoding import encode_show_replay

    assert models  # every table is mapped
    shown = -1

    def progress(fraction: float) -> None:
        nonlocal shown
        percent = int(fraction * 100)
        if percent != shown:
            shown = percent
            print(
                f"\rencoding the replay of show {args.show}: {percent:3d}%", end="", file=sys.stderr
            )

    async def run() -> dict[str, object]:
        engine = make_engine(settings.resolved_database_url)
        try:
            report = await encode_show_replay(
                make_session_factory(engine),
                settings,
                args.show,
                target_vmaf=args.target_vmaf,
                progress=progress,
            )
        finally:
            await engine.dispose()
        data = report.to_dict()
        data.pop("scenes", None)
        return {"show_id": args.show, **data}

    _migrate(settings)
    try:
        result = asyncio.run(run())
    except AppError as exc:
        print(f"\nerror: {exc.message} ({exc.code})", file=sys.stderr)
        return 2
    print(file=sys.stderr)
    print(json.dumps(result, ensure_ascii=False))
    return 0


def cmd_replay_enqueue(args: argparse.Namespace, settings: Settings) -> int:
    """Queue the encode for `livecart worker`s (RQ), then follow its progress on the replay."""
    import json
    import time
    from dataclasses import asdict

    from livecart.features.media.encode_queue import RqQueue
    from livecart.features.media.encoding import replay_encode_state

    if not settings.redis_url:
        print("error: --queue needs REDIS_URL (the RQ queue's Redis)", file=sys.stderr)
        return 2
    _migrate(settings)
    queued = RqQueue(settings.redis_url).submit_now(args.show)
    print(
        f"show {args.show}: {'queued' if queued else 'already queued or running'}", file=sys.stderr
    )
    if not args.follow:
        return 0
    while True:
        state = asyncio.run(replay_encode_state(settings, args.show))
        if state is None:
            print(f"\nerror: show {args.show} has no replay (replay_not_found)", file=sys.stderr)
            return 2
        done = f"{state.encode_progress:4.0%}"
        print(f"\rencoding the replay of show {args.show}: {done}", end="", file=sys.stderr)
        if state.encode_status in ("ready", "failed"):
            print(file=sys.stderr)
            print(json.dumps({"show_id": args.show, **asdict(state)}, ensure_ascii=False))
            return 0 if state.encode_status == "ready" else 1
        time.sleep(1.0)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Take replay encodes from the RQ queue (REDIS_URL)."""
    from livecart.features.media.encode_queue import run_worker

    _migrate(settings)
    return run_worker(settings, burst=args.burst)


def cmd_verify_allocation(args: argparse.Namespace, _settings: Settings) -> int:
    """Recompute a fair_window sale's allocation from its published seed and log."""
    import json
    from pathlib import Path

    from livecart.features.sales.fair import verify

    source: str = args.source
    if source.startswith(("http://", "https://")):
        import httpx

        resp = httpx.get(source, timeout=30)
        resp.raise_for_status()
        document = resp.json()
    else:
        document = json.loads(Path(source).read_text())
    problems = verify(document)
    won = sum(1 for e in document["entries"] if e["outcome"] == "won")
    print(
        json.dumps(
            {
                "sale_id": document.get("sale_id"),
                "entries": len(document["entries"]),
                "won": won,
                "matches": not problems,
                "problems": problems[:20],
            },
            ensure_ascii=False,
        )
    )
    return 0 if not problems else 1


def cmd_media_config(args: argparse.Namespace, settings: Settings) -> int:
    from livecart.features.media.nginx import render_config

    if args.rtmp_port is not None:
        settings = settings.model_copy(update={"rtmp_port": args.rtmp_port})
    settings = settings.model_copy(update={"http_port": args.http_port})
    text = render_config(settings)
    if args.write:
        from pathlib import Path

        path = Path(args.write)
        path.write_text(text)
        path.chmod(0o600)  # the callback URLs carry the hook secret
        print(f"wrote {path}")
    else:
        print(text, end="")
    return 0


def cmd_demo_stream(args: argparse.Namespace, settings: Settings) -> int:
    import shutil
    import subprocess

    from livecart.errors import AppError
    from livecart.features.media.demo import demo_command, demo_target, redact, show_state

    if shutil.which("ffmpeg") is None:
        print("error: demo-stream needs ffmpeg (apt-get install ffmpeg)", file=sys.stderr)
        return 2
    if args.rtmp_port is not None:
        settings = settings.model_copy(update={"rtmp_port": args.rtmp_port})
    _migrate(settings)
    try:
        target = asyncio.run(demo_target(settings, args.show_id))
    except AppError as exc:
        print(
            f"error: {exc.message} (start `livecart serve` once to add the demo)", file=sys.stderr
        )
        return 2
    print(
        f"streaming a test picture into show {target.show_id} ({target.title}); watch it at "
        f"http://127.0.0.1:{args.http_port}/shows/{target.show_id}/live — Ctrl-C stops it. "
        "The show's stream key was rotated for this.",
        flush=True,
    )
    url = f"rtmp://127.0.0.1:{settings.rtmp_port}/live/{target.key}"
    # Our fixed ffmpeg command; the URL holds a key we just made, kept out of what it prints.
    proc = subprocess.Popen(  # noqa: S603
        demo_command(url, seconds=args.seconds), stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            print(redact(line.rstrip(), target.key), file=sys.stderr)
        returncode = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        return 0
    if returncode == 0:
        return 0
    state = asyncio.run(show_state(settings, target.show_id))
    if state in ("ended", "cancelled"):
        print(f"the show was {state} by its host; the stream stopped.", flush=True)
        return 0
    print("error: ffmpeg could not publish; is `livecart serve` running with live video on?")
    return returncode


def cmd_bench(args: argparse.Namespace, _settings: Settings) -> int:
    from livecart.bench.cli import run_bench

    print(run_bench(args), flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="livecart", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve", help="run the platform (migrates, adds demo data on first start)"
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--no-demo", action="store_true", help="do not add demo data")
    serve.add_argument(
        "--room-port",
        type=int,
        default=None,
        help="the room WebSocket port (default 8001, or LIVECART_ROOM_PORT)",
    )
    serve.add_argument("--log-level", default="info")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="bring the database to the latest schema").set_defaults(
        func=cmd_migrate
    )
    sub.add_parser(
        "seed-demo", help="add the demo merchant, hosts, products and shows"
    ).set_defaults(func=cmd_seed_demo)
    admin = sub.add_parser("create-admin", help="create an admin account (or promote one)")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default="Admin")
    admin.add_argument("--password", help="else LIVECART_ADMIN_PASSWORD, stdin or a prompt")
    admin.set_defaults(func=cmd_create_admin)
    rec = sub.add_parser(
        "reconcile", help="check a flash sale's gate counters against the database (and repair)"
    )
    rec.add_argument("sale", type=int, help="the sale id")
    rec.add_argument("--repair", action="store_true", help="rebuild the counters from the claims")
    rec.add_argument(
        "--server",
        metavar="URL",
        help="ask this running server (it sees its own memory; the token of its host or an "
        "admin in LIVECART_TOKEN)",
    )
    rec.set_defaults(func=cmd_reconcile)
    verify = sub.add_parser(
        "verify-allocation", help="recompute a fair_window sale's allocation from seed and log"
    )
    verify.add_argument(
        "source", help="a file, or the URL GET /api/v1/sales/{id}/allocation answers at"
    )
    verify.set_defaults(func=cmd_verify_allocation)
    replay = sub.add_parser("replay", help="replays").add_subparsers(dest="replay", required=True)
    encode = replay.add_parser(
        "encode", help="encode a show's replay from its ingest recording (窄带高清), with progress"
    )
    encode.add_argument("show", type=int, help="the show's id")
    encode.add_argument("--target-vmaf", type=float, default=93.0)
    encode.set_defaults(func=cmd_replay_encode)
    enqueue = replay.add_parser(
        "enqueue", help="queue a replay's encode for `livecart worker`s (RQ on REDIS_URL)"
    )
    enqueue.add_argument("show", type=int, help="the show's id")
    enqueue.add_argument("--follow", action="store_true", help="show progress until it is done")
    enqueue.set_defaults(func=cmd_replay_enqueue)
    worker = sub.add_parser("worker", help="run replay encodes from the RQ queue (REDIS_URL)")
    worker.add_argument("--burst", action="store_true", help="stop when the queue is empty")
    worker.set_defaults(func=cmd_worker)
    media = sub.add_parser("media", help="live video: the ingest's nginx-rtmp configuration")
    media_sub = media.add_subparsers(dest="media_command", required=True)
    config = media_sub.add_parser(
        "config", help="print (or --write) the nginx.conf that `livecart serve` runs"
    )
    config.add_argument("--write", metavar="PATH", help="write it to PATH instead of printing")
    config.add_argument("--rtmp-port", type=int, default=None, help="default 1935")
    config.add_argument(
        "--http-port", type=int, default=8000, help="the port livecart serve listens on"
    )
    config.set_defaults(func=cmd_media_config)
    demo = sub.add_parser(
        "demo-stream", help="stream a synthetic show (test picture, tone, clock) into a demo show"
    )
    demo.add_argument("--show-id", type=int, default=None, help="default: a live demo show")
    demo.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")
    demo.add_argument("--rtmp-port", type=int, default=None, help="default 1935")
    demo.add_argument("--http-port", type=int, default=8000, help="where livecart serve listens")
    demo.set_defaults(func=cmd_demo_stream)
    bench = sub.add_parser("bench", help="benchmarks; each prints one JSON line")
    add_bench_commands(bench)
    bench.set_defaults(func=cmd_bench)
    return parser


def add_bench_commands(bench: argparse.ArgumentParser) -> None:
    kinds = bench.add_subparsers(dest="bench", required=True)
    fan = kinds.add_parser("fanout", help="one link drop to N WebSocket viewers")
    fan.add_argument("--viewers", type=int, default=1000)
    fan.add_argument("--processes", type=int, default=1, help="server processes (Redis if > 1)")
    fan.add_argument(
        "--clients",
        type=int,
        default=0,
        help="load-generator processes (default: one per 2,500 viewers, 2 at least)",
    )
    skew = kinds.add_parser("drop-skew", help="button-unlock spread across viewers' round trips")
    skew.add_argument("--viewers", type=int, default=200)
    skew.add_argument("--rtt-spread", default="10:400", help="MIN:MAX round trip, ms")
    sale = kinds.add_parser(
        "flash-sale", help="N buyers race for S units over HTTP or their open room connections"
    )
    sale.add_argument("--buyers", type=int, default=10_000)
    sale.add_argument("--stock", type=int, default=1000)
    sale.add_argument(
        "--backend",
        choices=["embedded", "redis"],
        default="embedded",
        help="the gate's arbiter (redis: on --redis-url, db 10 by default, with PostgreSQL)",
    )
    sale.add_argument("--mode", choices=["first_come", "fair_window"], default="first_come")
    sale.add_argument("--window-ms", type=int, default=200, help="fair_window's W")
    sale.add_argument(
        "--transport",
        choices=["http", "room"],
        default="http",
        help="room: buy over room connections opened (and greeted) before the sale",
    )
    sale.add_argument("--clients", type=int, default=0, help="load-generator processes (2)")
    sale.add_argument(
        "--client",
        choices=["c", "python"],
        default="c",
        help="room transport's load generator: c (compiled here on first use, one process, "
        "little CPU) or python (picows, --clients processes)",
    )
    sale.add_argument(
        "--servers",
        type=int,
        default=1,
        help="server processes behind the Redis gate; buyers are spread over them (1)",
    )
    sale.add_argument(
        "--spread-ms",
        type=int,
        default=0,
        help="room transport: each buyer presses at a random moment within this many ms "
        "(0: all at once, as fast as the load generators can send)",
    )
    sale.add_argument(
        "--dump",
        metavar="CSV",
        default="",
        help="also write one row per attempt to this file: when it was sent and answered "
        "(ms after the first attempt), its latency, outcome and claim",
    )
    glass = kinds.add_parser(
        "glass-to-glass", help="capture → display delay of live video through nginx-rtmp and HLS"
    )
    glass.add_argument("--seconds", type=float, default=20.0, help="how long to measure")
    for kind in (fan, skew, glass):
        kind.add_argument("--redis-url", default=os.environ.get("REDIS_URL", ""))
    sale.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/10",
        help="the Redis database the benchmark may flush (default db 10)",
    )
    replay = kinds.add_parser(
        "replay-encode", help="content-adaptive replay encoding against the live rendition"
    )
    replay.add_argument("--quick", action="store_true", help="tiny clips (for tests)")
    replay.add_argument("--json", action="store_true", help="print JSON (the only format)")
    for kind in (fan, skew, sale, glass):
        kind.add_argument("--json", action="store_true", help="print JSON (the only format)")
        kind.add_argument("--database-url", default="", help="default: a throwaway SQLite file")


def raise_fd_limit() -> None:
    """A big room holds one socket per viewer: use all the descriptors the system allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    level = getattr(args, "log_level", "warning").upper()
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # picows says every room connection and disconnection at INFO: thousands a minute.
    logging.getLogger("picows").setLevel(max(logging.WARNING, logging.getLevelName(level)))
    raise_fd_limit()
    sys.exit(args.func(args, Settings()))
