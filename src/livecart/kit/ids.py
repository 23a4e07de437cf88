"""Random secrets and the hashes we store in their place."""

from __future__ import annotations

import hashlib
import secrets

TOKEN_BYTES = 32
STREAM_KEY_BYTES = 24


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_stream_key() -> str:
    return "live_" + secrets.token_urlsafe(STREAM_KEY_BYTES)


def hash_secret(secret: str) -> str:
    """Tokens and stream keys are high-entropy, so a plain SHA-256 is enough to store them."""
    return hashlib.sha256(secret.encode()).hexdigest()
