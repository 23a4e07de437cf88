"""Errors with a stable code, an HTTP status and data. Expected business outcomes raise these."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    def __init__(
        self, code: str, message: str, *, status: int = 400, data: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.data = data or {}


class NotFound(AppError):
    def __init__(self, what: str, **data: Any) -> None:
        super().__init__(f"{what}_not_found", f"No such {what}.", status=404, data=data)


class Forbidden(AppError):
    def __init__(self, message: str = "You may not do this.", *, code: str = "forbidden") -> None:
        super().__init__(code, message, status=403)


class Unauthorized(AppError):
    def __init__(self, message: str = "Log in first.") -> None:
        super().__init__("unauthorized", message, status=401)


class Conflict(AppError):
    def __init__(self, code: str, message: str, **data: Any) -> None:
        super().__init__(code, message, status=409, data=data)
