"""`livecart bench glass-to-glass` runs end to end at a tiny size and prints one JSON line.
(Its figures are not checked: tests never fail on speed.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.browser.conftest import CHROMIUM
from tests.conftest import IN_CI
from tests.media.conftest import media_tools_or_skip

pytestmark = pytest.mark.browser


def test_glass_to_glass_prints_its_figures() -> None:
    media_tools_or_skip()
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(f"{CHROMIUM} is missing and CI is set")
        pytest.skip(f"{CHROMIUM} is missing")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    done = subprocess.run(
        [sys.executable, "-m", "livecart", "bench", "glass-to-glass", "--seconds", "3", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout
    result = json.loads(lines[0])
    assert {"delay_p50_ms", "delay_p95_ms", "samples"} <= set(result)
    assert result["samples"] > 0
