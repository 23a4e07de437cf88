"""Every error leaves as JSON `{code, message, data}` (API), except an unknown page asked for by a
browser, which gets the 404 page."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from livecart.db.uow import UnitOfWork
from livecart.errors import AppError
from livecart.web.view import render, viewer

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
}


class PayloadTooLarge(StarletteHTTPException):
    """A request body over the limit. An HTTPException so that FastAPI, which turns any other
    error met while reading the body into a 400, lets it through to the handler."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, "The request body is too large.")
        self.max_bytes = max_bytes


def error_body(code: str, message: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "data": data or {}}


def error_response(
    status: int,
    code: str,
    message: str,
    data: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(code, message, data), status_code=status, headers=headers)


def _clean(errors: list[Any]) -> list[dict[str, Any]]:
    """Validation errors without the offending input (it may be huge or secret)."""
    return [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in errors
    ]


async def _app_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return error_response(exc.status, exc.code, exc.message, exc.data)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = _clean(list(exc.errors()))
    if any(e["type"] == "json_invalid" for e in errors):
        return error_response(
            400, "malformed_json", "The request body is not valid JSON.", {"errors": errors}
        )
    return error_response(
        422, "validation_error", "Some fields are missing or wrong.", {"errors": errors}
    )


def wants_html(request: Request) -> bool:
    """A browser asking for a page: GET/HEAD, `text/html` accepted, and not an API path."""
    path = request.url.path
    if path == "/api" or path.startswith(("/api/", "/static/", "/media/")):
        return False
    if request.method not in ("GET", "HEAD"):
        return False
    return "text/html" in request.headers.get("accept", "").lower()


async def _not_found_page(request: Request) -> Response:
    async with UnitOfWork(request.app.state.session_factory) as uow:
        who = await viewer(request, uow)
        return render(
            request,
            who,
            "message.html",
            status=404,
            title=who.t("notfound.page_title"),
            message=who.t("notfound.page"),
            glyph="compass",
        )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404 and wants_html(request):
        return await _not_found_page(request)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    data = {"max_bytes": exc.max_bytes} if isinstance(exc, PayloadTooLarge) else None
    return error_response(exc.status_code, code, message, data, headers=exc.headers)


async def _integrity_error(request: Request, exc: Exception) -> Response:
    """A constraint the services did not foresee (usually a race): a conflict, not a crash."""
    log.warning("integrity error on %s %s: %s", request.method, request.url.path, exc)
    return error_response(409, "conflict", "This conflicts with the current state; try again.")


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "Something went wrong on our side.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(Exception, _unexpected)
