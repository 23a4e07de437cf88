"""`livecart bench flash-sale`: N buyers race for S units over real HTTP against a running server.

Buyers are real accounts with real tokens, written straight into the database (signing up 100,000
accounts through argon2 would take an hour). The load generator is Python (asyncio, keep-alive
HTTP/1.1 connections) in separate processes; the output says so. Afterwards the database is
checked: nothing oversold, every acknowledged purchase stored, no buyer over the limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlparse

import httpx
from sqlalchemy import exists, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from livecart.bench.ceiling import eval_ceiling
from livecart.bench.compiled import NoCompiler, job_lines, wsbuyers
from livecart.bench.fanout import percentile
from livecart.bench.servers import Server, serve
from livecart.bench.stage import PASSWORD, Stage, live_show
from livecart.config import Settings
from livecart.db.engine import make_engine, make_session_factory
from livecart.features.accounts.models import ApiToken, User
from livecart.features.accounts.security import hash_password
from livecart.features.orders.models import Order
from livecart.features.sales.models import FlashSale, SaleClaim
from livecart.kit.clock import utcnow
from livecart.kit.ids import hash_secret

BATCH = 5000
LIVE = ("awaiting_payment", "paid")
ORDERS_WAIT_SECS = 3.0
Process = asyncio.subprocess.Process


@dataclass(frozen=True)
class FlashSaleOptions:
    buyers: int = 10_000
    stock: int = 1000
    backend: str = "embedded"  # embedded | redis
    mode: str = "first_come"  # first_come | fair_window
    transport: str = "http"  # http | room
    window_ms: int = 200
    database_url: str = ""  # default: SQLite (embedded) or a throwaway PostgreSQL database (redis)
    redis_url: str = "redis://127.0.0.1:6379/10"
    processes: int = 2  # load-generator processes
    connections: int = 32
    servers: int = 1  # server processes (more than one: the Redis gate only)
    spread_ms: int = 0  # room transport: buyers press at random moments within this; 0: at once
    client: str = "c"  # room transport: c (wsbuyers.c, compiled here) | python (room_buyers.py)
    dump: str = ""  # a CSV file for one row per attempt (write_dump)


@contextmanager
def _database(o: FlashSaleOptions, data: Path) -> Iterator[str]:
    """The database to run on: as given, a SQLite file, or (Redis gate) a throwaway PostgreSQL
    database that is dropped afterwards."""
    if o.database_url:
        yield o.database_url
    elif o.backend == "embedded":
        yield f"sqlite:///{data / 'bench.db'}"
    else:
        admin = os.environ.get(
            "LIVECART_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        )
        name = f"lc_bench_{secrets.token_hex(4)}"
        _psql(admin, f'CREATE DATABASE "{name}"')
        try:
            yield admin.rsplit("/", 1)[0] + f"/{name}"
        finally:
            _psql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _psql(url: str, sql: str) -> None:
    # Our fixed statements on the maintenance database; no untrusted input.
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True, timeout=60)  # noqa: S603, S607


def _flush(redis_url: str) -> None:
    """Start from an empty Redis database (the benchmark's own: db 10 by default)."""
    import redis

    redis.Redis.from_url(redis_url).flushdb()


async def make_buyers(database_url: str, count: int) -> list[str]:
    """`count` viewer accounts with bearer tokens, inserted in bulk; returns the tokens."""
    engine = make_engine(Settings(database_url=database_url).resolved_database_url)
    password_hash = hash_password(PASSWORD)
    tag = secrets.token_hex(3)
    tokens = [secrets.token_urlsafe(24) for _ in range(count)]
    expires = datetime(2100, 1, 1, tzinfo=UTC)
    try:
        async with make_session_factory(engine)() as session:
            for start in range(0, count, BATCH):
                chunk = range(start, min(count, start + BATCH))
                ids = (
                    (
                        await session.execute(
                            insert(User).returning(User.id),
                            [
                                {
                                    "email": f"buyer{i}-{tag}@bench.example.com",
                                    "password_hash": password_hash,
                                    "display_name": f"buyer {i}",
                                    "role": "viewer",
                                    "created_at": utcnow(),
                                }
                                for i in chunk
                            ],
                        )
                    )
                    .scalars()
                    .all()
                )
                await session.execute(
                    insert(ApiToken),
                    [
                        {
                            "user_id": uid,
                            "token_hash": hash_secret(tokens[i]),
                            "expires_at": expires,
                            "created_at": utcnow(),
                        }
                        for uid, i in zip(ids, chunk, strict=True)
                    ],
                )
            await session.commit()
    finally:
        await engine.dispose()
    return tokens


async def _claims_without_order(session: AsyncSession, sale_id: int) -> int:
    missing = await session.scalar(
        select(func.count())
        .select_from(SaleClaim)
        .where(SaleClaim.sale_id == sale_id, ~exists().where(Order.claim_id == SaleClaim.id))
    )
    return int(missing or 0)


async def check(database_url: str, sale_id: int, acknowledged: list[int]) -> dict[str, int]:
    """Correctness from the database alone: nothing oversold, every acknowledged claim stored,
    no claim twice and no buyer over the limit, and sold + reserved + left = allotted."""
    engine = make_engine(Settings(database_url=database_url).resolved_database_url)
    try:
        async with make_session_factory(engine)() as session:
            sale = await session.get(FlashSale, sale_id)
            assert sale is not None
            rows = (
                await session.execute(
                    select(
                        SaleClaim.id, SaleClaim.buyer_id, SaleClaim.quantity, SaleClaim.status
                    ).where(SaleClaim.sale_id == sale_id)
                )
            ).all()
            # Orders follow their claims (on PostgreSQL 0.1 s after the last winners' commit):
            # claims still without one after up to ORDERS_WAIT_SECS.
            orderless = await _claims_without_order(session, sale_id)
            for _ in range(int(ORDERS_WAIT_SECS / 0.1)):
                if not orderless:
                    break
                await asyncio.sleep(0.1)
                orderless = await _claims_without_order(session, sale_id)
    finally:
        await engine.dispose()
    stored = {claim_id for claim_id, _, _, _ in rows}
    live = [(buyer, qty, status) for _, buyer, qty, status in rows if status in LIVE]
    sold = sum(qty for _, qty, status in live if status == "paid")
    reserved = sum(qty for _, qty, status in live if status == "awaiting_payment")
    per_buyer: dict[int, int] = {}
    for buyer, qty, _ in live:
        per_buyer[buyer] = per_buyer.get(buyer, 0) + qty
    over_limit = sum(1 for units in per_buyer.values() if units > sale.per_buyer_limit)
    left = sale.allotted - sale.taken
    return {
        "oversold": max(0, sold + reserved - sale.allotted, sale.taken - sale.allotted),
        "lost_acknowledged": len(set(acknowledged) - stored),
        "duplicates": len(acknowledged) - len(set(acknowledged)) + over_limit,
        "sold": sold,
        "reserved": reserved,
        "left": left,
        "stock_conserved": int(sold + reserved + left == sale.allotted),
        "counters_agree": int(sale.taken == sold + reserved),
        "claims_without_order": orderless,
    }


async def _start_clients(jobs: list[tuple[list[str], bytes]]) -> list[Process]:
    """Each load-generator process (its command, its job on stdin) started, and ready."""
    procs = []
    for command, job in jobs:
        proc = await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=256 * 1024 * 1024,
        )
        assert proc.stdin is not None
        proc.stdin.write(job)
        await proc.stdin.drain()
        procs.append(proc)
    for proc in procs:
        assert proc.stdout is not None
        line = (await proc.stdout.readline()).strip()
        if line != b"ready":
            raise RuntimeError(f"a buyer process failed to start: {line.decode()[:500]}")
    return procs


@dataclass
class Fired:
    results: list[Any]
    elapsed: float  # the slowest load-generator process's, first send to last answer
    client_cpu_s: float  # CPU the load generators used meanwhile (all processes)
    send_s: float  # the slowest load-generator process's, first send to last send
    server_cpu_s: float  # CPU the servers used from the go to the last report


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _fire(
    procs: list[Process], servers: list[Server], sale_id: int, opens_at: datetime
) -> Fired:
    await asyncio.sleep(max(0.0, (opens_at - datetime.now(UTC)).total_seconds()))
    server_cpu = sum(cpu_seconds(s.pid) for s in servers)
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(f"go {sale_id}\n".encode())
        await proc.stdin.drain()
    fired = Fired([], 0.0, 0.0, 0.0, 0.0)
    reports = []
    for proc in procs:
        assert proc.stdout is not None
        reports.append(report := json.loads(await proc.stdout.readline()))
        fired.elapsed = max(fired.elapsed, report["elapsed"])
        fired.client_cpu_s += report["cpu"]
        fired.send_s = max(fired.send_s, report.get("sent", 0.0))
    # Each result's send time, from the first send of any process (each counts from its own).
    first = min(r["t0"] for r in reports)
    for report in reports:
        late = report["t0"] - first
        fired.results += [[*r[:-1], r[-1] + late] for r in report["results"]]
    # Read before the clients hang up (their disconnects are not the sale's work).
    fired.server_cpu_s = sum(cpu_seconds(s.pid) for s in servers) - server_cpu
    for proc in procs:
        await proc.wait()
    return fired


def _jobs(
    o: FlashSaleOptions, servers: list[Server], show_id: int, tokens: list[str]
) -> list[tuple[list[str], bytes]]:
    """Each load-generator process's command and job. Room buyers, and HTTP connections, are
    spread over every server process, round robin; the compiled room client is one process."""
    if o.transport == "room":
        urls = [f"{s.room_base}/rooms/{show_id}" for s in servers]
        if o.client == "c":
            return [([str(wsbuyers())], job_lines(urls, tokens, o.spread_ms))]
        return [
            (
                [sys.executable, "-m", "livecart.bench.room_buyers"],
                _json_line(
                    {"urls": urls, "tokens": tokens[i :: o.processes], "spread_ms": o.spread_ms}
                ),
            )
            for i in range(o.processes)
        ]
    targets = [(urlparse(s.base).hostname, urlparse(s.base).port) for s in servers]
    return [
        (
            [sys.executable, "-m", "livecart.bench.buyers"],
            _json_line(
                {
                    "targets": targets,
                    "tokens": tokens[i :: o.processes],
                    "connections": o.connections,
                }
            ),
        )
        for i in range(o.processes)
    ]


def _json_line(job: dict[str, Any]) -> bytes:
    return json.dumps(job).encode() + b"\n"


def _client(o: FlashSaleOptions) -> str:
    """What the load generator was, for the output."""
    if o.transport == "http":
        return f"python asyncio, {o.processes} processes x {o.connections} keep-alive connections"
    if o.client == "c":
        return (
            "compiled C (epoll, wsbuyers.c), 1 process, one open room connection per buyer "
            "(connect and hello not timed)"
        )
    return (
        f"python picows, {o.processes} processes, one open room connection per buyer "
        "(connect and hello not timed)"
    )


class Answer(NamedTuple):
    won: bool
    secs: float  # from the attempt's send to its answer
    claim: int | None
    outcome: str  # "won", the refusal's code (room) or the HTTP status
    sent: float  # when it was sent, seconds after the first attempt


def _normalise(transport: str, results: list[Any]) -> list[Answer]:
    """Each attempt's answer from either client's report."""
    if transport == "room":
        return [
            Answer(bool(ok), secs, claim, code or "won", sent)
            for ok, secs, claim, code, sent in results
        ]
    return [
        Answer(status == 201, secs, claim, str(status), sent)
        for status, secs, claim, sent in results
    ]


def write_dump(path: Path, answers: list[Answer]) -> None:
    """One CSV row per attempt, in the order they were sent: when it was sent and answered (ms
    after the first attempt), its latency, its outcome and its claim."""
    with path.open("w", newline="") as out:
        rows = csv.writer(out)
        rows.writerow(["sent_ms", "answered_ms", "latency_ms", "outcome", "claim_id"])
        for a in sorted(answers, key=lambda a: a.sent):
            rows.writerow(
                [
                    f"{a.sent * 1000:.3f}",
                    f"{(a.sent + a.secs) * 1000:.3f}",
                    f"{a.secs * 1000:.3f}",
                    a.outcome,
                    "" if a.claim is None else a.claim,
                ]
            )


def flash_sale(options: FlashSaleOptions) -> dict[str, Any]:
    o = options
    if o.spread_ms and o.transport != "room":
        raise SystemExit("error: --spread-ms needs --transport room")
    if o.dump and not Path(o.dump).resolve().parent.is_dir():
        raise SystemExit(f"error: --dump: no directory {Path(o.dump).resolve().parent}")
    if o.servers > 1 and o.backend != "redis":
        raise SystemExit("error: more than one server process needs the Redis gate (--backend)")
    if o.transport == "room" and o.client == "c":
        try:
            wsbuyers()  # built now, before any server starts, or a clear error
        except NoCompiler as exc:
            raise SystemExit(f"error: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="livecart-bench-") as tmp:
        data = Path(tmp)
        with _database(o, data) as database_url, contextlib.ExitStack() as stack:
            env = {"REDIS_URL": "", "LIVECART_SALE_GATE": o.backend}
            if o.backend == "redis":
                _flush(o.redis_url)
                env["REDIS_URL"] = o.redis_url  # the gate, and the rooms' pub/sub across servers
            servers = [
                stack.enter_context(serve(database_url, data, log_level="warning", **env))
                for _ in range(o.servers)
            ]
            stage = live_show(servers[0].base, stock=max(o.stock, 1000))
            tokens = asyncio.run(make_buyers(database_url, o.buyers))
            jobs = _jobs(o, servers, stage.show_id, tokens)
            figures = asyncio.run(_run_sale(o, servers, stage, jobs, database_url))
            figures["server_log_errors"] = sum(
                s.log.read_text().count("Traceback") for s in servers
            )
    if o.backend == "redis":
        figures["redis_eval_ceiling_per_s"] = eval_ceiling(o.redis_url)
        figures["us_per_attempt_at_ceiling"] = round(1e6 / figures["redis_eval_ceiling_per_s"], 1)
    return figures


async def _run_sale(
    o: FlashSaleOptions,
    servers: list[Server],
    stage: Stage,
    jobs: list[tuple[list[str], bytes]],
    database_url: str,
) -> dict[str, Any]:
    procs = await _start_clients(jobs)  # connected (and greeted) before the sale
    async with httpx.AsyncClient(base_url=servers[0].base, timeout=30) as http:
        body: dict[str, Any] = {
            "variant_id": stage.variant_id,
            "price": "1.00",
            "units": o.stock,
            "per_buyer_limit": 1,
            "countdown_ms": 2000,
            "duration_secs": 3600,
            "payment_window_secs": 3600,  # no claim expires (and is sold again) during a run
            "mode": o.mode,
        }
        if o.mode == "fair_window":
            body["window_ms"] = o.window_ms
        resp = await http.post(
            f"/api/v1/shows/{stage.show_id}/sales",
            headers={"Authorization": f"Bearer {stage.host_token}"},
            json=body,
        )
        resp.raise_for_status()
        sale = resp.json()
    fired = await _fire(procs, servers, sale["id"], datetime.fromisoformat(sale["opens_at"]))
    elapsed = fired.elapsed
    answers = _normalise(o.transport, fired.results)
    acknowledged = [a.claim for a in answers if a.won and a.claim is not None]
    verdict = await check(database_url, sale["id"], acknowledged)
    if o.backend == "redis":
        verdict.update(await _gate_agrees(database_url, o.redis_url, sale["id"]))
    if o.dump:
        write_dump(Path(o.dump), answers)
    latencies = [a.secs * 1000 for a in answers]
    wins = [a.secs * 1000 for a in answers if a.won]
    outcomes: dict[str, int] = {}
    for a in answers:
        outcomes[a.outcome] = outcomes.get(a.outcome, 0) + 1
    client = _client(o)
    spread = "" if o.servers == 1 else ", buyers spread round robin over the server processes"
    return {
        "backend": o.backend,
        "database": "postgresql" if database_url.startswith("postgres") else "sqlite",
        "mode": o.mode,
        "transport": o.transport,
        # 0: every buyer presses at once; else each at a random moment within this window.
        "spread_ms": o.spread_ms,
        "buyers": o.buyers,
        "stock": o.stock,
        "client": client + spread,
        "server_processes": o.servers,
        "client_processes": len(jobs),
        # CPU seconds used during the sale: is the load generator or the server the limit?
        "server_cpu_s": round(fired.server_cpu_s, 2),
        "client_cpu_s": round(fired.client_cpu_s, 2),
        # How long the load generators took to send every attempt (the burst's length).
        "send_ms": round(fired.send_s * 1000, 1),
        "attempts": len(answers),
        "attempts_per_s": round(len(answers) / elapsed) if elapsed else None,
        "us_per_attempt": round(elapsed * 1e6 / len(answers), 1) if answers else None,
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "winner_p99_ms": round(percentile(wins, 99), 2) if wins else None,
        "won": len(acknowledged),
        "outcomes": outcomes,
        **verdict,
        "elapsed_s": round(elapsed, 3),
        "machine": f"{os.cpu_count()} cores, shared with other work during measurement",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **({"dump": o.dump} if o.dump else {}),
    }


async def _gate_agrees(database_url: str, redis_url: str, sale_id: int) -> dict[str, int]:
    """The reconciler's verdict for the Redis gate after the run."""
    from livecart.features.sales.gate import make_gate
    from livecart.features.sales.reconcile import reconcile

    engine = make_engine(Settings(database_url=database_url).resolved_database_url)
    factory = make_session_factory(engine)
    secret = secrets.token_hex(8)  # pseudonyms play no part in reconciling
    gate = make_gate(factory, backend="redis", redis_url=redis_url, secret=secret)
    try:
        report = await reconcile(gate, sale_id)
    finally:
        await gate.close()
        await engine.dispose()
    return {"gate_agrees": int(report.agree)}
