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


def test_the_media_hook_token_never_reaches_the_access_log() -> None:
    import logging

    from livecart.web.logs import RedactSecrets

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/internal/media/s3cr3tT0ken/publish?x=1", "1.1", 302),
        None,
    )
    assert RedactSecrets().filter(record)
    assert "s3cr3tT0ken" not in record.getMessage()
    assert "/internal/media/[redacted]/publish" in record.getMessage()
