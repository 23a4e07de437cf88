"""Secrets never reach the logs: the media callbacks' path token is cut out of access lines."""

from __future__ import annotations

import logging
import re

HOOK_TOKEN = re.compile(r"(/internal/media/)[^/?\s\"]+")


def redact(text: str) -> str:
    return HOOK_TOKEN.sub(r"\1[redacted]", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True
