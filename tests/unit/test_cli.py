"""The `livecart` command line, run as a subprocess against its own SQLite database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


def run(data_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.pop("LIVECART_ADMIN_PASSWORD", None)
    env["LIVECART_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "livecart", *args],
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def count(db: Path, table: str, where: str = "1=1") -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0])


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_migrate_creates_the_schema(data_dir: Path) -> None:
    result = run(data_dir, "migrate")
    assert result.returncode == 0, result.stderr
    assert "latest schema" in result.stdout
    db = data_dir / "livecart.db"
    assert db.exists()
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "products", "variants", "shows", "alembic_version"} <= tables
    assert count(db, "users") == 0
    again = run(data_dir, "migrate")  # idempotent
    assert again.returncode == 0, again.stderr


def test_seed_demo_once(data_dir: Path) -> None:
    first = run(data_dir, "seed-demo")
    assert first.returncode == 0, first.stderr
    assert "20 products, 5 shows" in first.stdout
    db = data_dir / "livecart.db"
    snapshot = {t: count(db, t) for t in ("users", "products", "variants", "shows", "follows")}
    assert snapshot["products"] == 20
    assert snapshot["shows"] == 5
    assert count(db, "shows", "state = 'live'") == 1
    assert count(db, "product_images") == 20
    assert count(db, "users", "role = 'host'") == 2
    assert any((data_dir / "media" / "products").rglob("*.jpg"))
    second = run(data_dir, "seed-demo")
    assert second.returncode == 0, second.stderr
    assert "nothing added" in second.stdout
    assert {t: count(db, t) for t in snapshot} == snapshot


def test_create_admin(data_dir: Path) -> None:
    result = run(
        data_dir, "create-admin", "--email", "Root@Example.com", "--password", "s3cret-pass"
    )
    assert result.returncode == 0, result.stderr
    assert "created" in result.stdout
    db = data_dir / "livecart.db"
    assert count(db, "users", "role = 'admin' AND email = 'root@example.com'") == 1
    again = run(data_dir, "create-admin", "--email", "root@example.com", "--password", "another-1")
    assert again.returncode == 0, again.stderr
    assert "now an admin" in again.stdout
    assert count(db, "users") == 1
    from_stdin = run(data_dir, "create-admin", "--email", "two@example.com", stdin="piped-pass\n")
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert count(db, "users", "role = 'admin'") == 2


def test_create_admin_refusals(data_dir: Path) -> None:
    short = run(data_dir, "create-admin", "--email", "a@example.com", "--password", "short")
    assert short.returncode == 2
    assert "8 characters" in short.stderr
    bad = run(data_dir, "create-admin", "--email", "not-an-email", "--password", "long-enough")
    assert bad.returncode != 0
    assert "error" in bad.stderr
    run(data_dir, "seed-demo")
    staff = run(
        data_dir, "create-admin", "--email", "shop@demo.livecart.dev", "--password", "long-enough"
    )
    assert staff.returncode != 0
    assert "merchant" in staff.stderr
    db = data_dir / "livecart.db"
    assert count(db, "users", "role = 'admin'") == 0


def test_unknown_command_fails() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "livecart", "fly"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
