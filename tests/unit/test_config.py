"""Settings passed by name are kept (not only the environment's aliases)."""

from __future__ import annotations

from pathlib import Path

import pytest

from livecart.config import Settings


def test_settings_by_name_and_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings(data_dir=Path("var/lc-data"), secret_key="k", database_url="sqlite:///x.db")
    assert (s.data_dir, s.secret_key, s.database_url) == (
        Path("var/lc-data"),
        "k",
        "sqlite:///x.db",
    )
    monkeypatch.setenv("LIVECART_DATA_DIR", "var/lc-env")
    monkeypatch.setenv("LIVECART_SECRET_KEY", "from-env")
    s = Settings()
    assert (s.data_dir, s.secret_key) == (Path("var/lc-env"), "from-env")
