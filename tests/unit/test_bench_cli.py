"""The benchmarks are part of the product: each runs from the CLI at a tiny size and prints one
JSON line with its figures. (Their numbers are not checked here: tests never fail on speed.)"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CASES = [
    (
        ["fanout", "--viewers", "20", "--clients", "1"],
        {"viewers", "p50_ms", "p99_ms", "max_ms", "server_rss_bytes_per_viewer", "lost"},
    ),
    (
        ["drop-skew", "--viewers", "5", "--rtt-spread", "10:100"],
        {"skew_p50_ms", "skew_p99_ms", "unsynced_skew_p99_ms", "delay"},
    ),
    (
        ["flash-sale", "--buyers", "40", "--stock", "5"],
        {
            "attempts_per_s",
            "p50_ms",
            "p99_ms",
            "won",
            "oversold",
            "lost_acknowledged",
            "duplicates",
        },
    ),
    (
        [
            "flash-sale",
            "--buyers",
            "40",
            "--stock",
            "5",
            "--transport",
            "room",
            "--spread-ms",
            "300",
            "--client",
            "python",
        ],
        {"attempts_per_s", "winner_p99_ms", "won", "oversold", "spread_ms", "send_ms"},
    ),
    (
        ["flash-sale", "--buyers", "40", "--stock", "5", "--transport", "room"],
        {"attempts_per_s", "winner_p99_ms", "won", "oversold", "client", "client_cpu_s"},
    ),
    (
        ["replay-encode", "--quick"],
        {"clips", "saving_pct", "saving_pct_all_clips", "clips_below_baseline_vmaf"},
    ),
]


@pytest.mark.parametrize(
    ("args", "keys"),
    CASES,
    ids=[
        c[0][0] + ("-spread-python" if "--spread-ms" in c[0] else "-room" if "room" in c[0] else "")
        for c in CASES
    ],
)
def test_bench_prints_one_json_line(args: list[str], keys: set[str], tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    dump = tmp_path / "attempts.csv"
    if args[0] == "flash-sale":
        args = [*args, "--dump", str(dump)]
    done = subprocess.run(
        [sys.executable, "-m", "livecart", "bench", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, done.stdout
    figures = json.loads(lines[0])
    assert keys <= figures.keys()
    if args[0] == "flash-sale":
        assert (
            figures["won"],
            figures["oversold"],
            figures["lost_acknowledged"],
            figures["duplicates"],
            figures["claims_without_order"],
        ) == (5, 0, 0, 0, 0)
        assert figures["spread_ms"] == (300 if "--spread-ms" in args else 0)
        _check_dump(dump, figures)
        if "room" in args:  # the compiled load generator unless asked for the Python one
            assert figures["client"].startswith("python" if "python" in args else "compiled C")
            assert figures["outcomes"] == {"won": 5, "sold_out": 35}
    if args[0] == "fanout":
        assert figures["lost"] == 0
    if args[0] == "replay-encode":
        assert [c["clip"] for c in figures["clips"]] == [
            "talking_head",
            "product_closeup",
            "low_light",
        ]
        assert all(c["ours_kbps"] > 0 and c["ours_vmaf"] > 0 for c in figures["clips"])


def _check_dump(dump: Path, figures: dict[str, object]) -> None:
    """`--dump`: one row per attempt in the order sent, each answered after it was sent, its
    latency the difference, and the winners' rows holding the claims."""
    with dump.open() as rows:
        attempts = list(csv.DictReader(rows))
    assert len(attempts) == figures["attempts"] == 40
    sent = [float(a["sent_ms"]) for a in attempts]
    assert sent == sorted(sent) and sent[0] >= 0
    for a in attempts:
        answered, latency = float(a["answered_ms"]), float(a["latency_ms"])
        assert answered >= float(a["sent_ms"])
        assert latency == pytest.approx(answered - float(a["sent_ms"]), abs=0.002)
    won = [a for a in attempts if a["outcome"] in ("won", "201")]
    assert len(won) == 5 and all(a["claim_id"].isdigit() for a in won)
    assert len({a["claim_id"] for a in won}) == 5
    assert all(a["claim_id"] == "" for a in attempts if a not in won)


def test_a_dump_needs_a_directory_that_exists(tmp_path: Path) -> None:
    dump = str(tmp_path / "nowhere" / "attempts.csv")
    done = subprocess.run(
        [sys.executable, "-m", "livecart", "bench", "flash-sale", "--json", "--dump", dump],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "--dump: no directory" in done.stderr


def test_a_spread_needs_the_room_transport() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "livecart", "bench", "flash-sale", "--spread-ms", "100", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "--spread-ms needs --transport room" in done.stderr


@pytest.mark.redis
def test_flash_sale_spreads_buyers_over_server_processes_behind_redis() -> None:
    """`--servers 2`: two real servers share the Redis gate (and a throwaway PostgreSQL
    database); the buyers are spread over both, and the output says so."""
    import redis

    from tests.conftest import IN_CI, pg_reachable

    url = "redis://127.0.0.1:6379/14"  # a benchmark database: the run flushes it
    try:
        redis.Redis.from_url(url).ping()
    except redis.RedisError:
        if IN_CI:
            pytest.fail("Redis is not reachable and CI is set")
        pytest.skip("Redis is not reachable")
    if not pg_reachable():
        if IN_CI:
            pytest.fail("PostgreSQL is not reachable and CI is set")
        pytest.skip("PostgreSQL is not reachable")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    args = ["--buyers", "40", "--stock", "5", "--backend", "redis", "--transport", "room"]
    args += ["--servers", "2", "--redis-url", url, "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "livecart", "bench", "flash-sale", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["server_processes"] == 2
    assert "spread" in figures["client"]
    assert figures["server_cpu_s"] >= 0 and figures["client_cpu_s"] >= 0
    assert (
        figures["won"],
        figures["oversold"],
        figures["lost_acknowledged"],
        figures["duplicates"],
        figures["gate_agrees"],
        figures["claims_without_order"],
    ) == (5, 0, 0, 0, 1, 0)
