"""Who is asking: a bearer token (API) or the session cookie with a CSRF header (pages)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from livecart.db.deps import UowDep
from livecart.errors import AppError, Unauthorized
from livecart.features.accounts import security, service
from livecart.features.accounts.models import User
from livecart.features.accounts.repository import AccountsRepository

SESSION_COOKIE = "lc_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def presented_token(request: Request) -> tuple[str | None, bool]:
    """The token and whether it came from the cookie."""
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else (None, False)


async def optional_user(request: Request, uow: UowDep) -> User | None:
    token, from_cookie = presented_token(request)
    if token is None:
        return None
    user = await service.user_for_token(AccountsRepository(uow.session), token)
    if user is None:
        if from_cookie:
            return None  # a stale cookie just means "logged out"
        raise Unauthorized("The token is invalid or has expired.")
    if from_cookie and request.method not in SAFE_METHODS:
        secret = request.app.state.settings.resolved_secret_key
        if not security.csrf_valid(secret, token, request.headers.get(CSRF_HEADER)):
            raise AppError(
                "csrf_failed", "Missing or wrong CSRF token; reload the page.", status=403
            )
    return user


async def required_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthorized()
    return user


OptionalUser = Annotated[User | None, Depends(optional_user)]
CurrentUser = Annotated[User, Depends(required_user)]
