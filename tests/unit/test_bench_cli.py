"""The benchmarks are part of the product: each runs from the CLI at a tiny size and prints one
JSON line with its figures. (Their numbers are not checked here: tests never fail on speed.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
        ["replay-encode", "--quick"],
        {"clips", "saving_pct", "saving_pct_all_clips", "clips_below_baseline_vmaf"},
    ),
]


@pytest.mark.parametrize(("args", "keys"), CASES, ids=[c[0][0] for c in CASES])
def test_bench_prints_one_json_line(args: list[str], keys: set[str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
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
        ) == (5, 0, 0, 0)
    if args[0] == "fanout":
        assert figures["lost"] == 0
    if args[0] == "replay-encode":
        assert [c["clip"] for c in figures["clips"]] == [
            "talking_head",
            "product_closeup",
            "low_light",
        ]
        assert all(c["ours_kbps"] > 0 and c["ours_vmaf"] > 0 for c in figures["clips"])
