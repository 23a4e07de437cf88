"""/api/v1/auth, /me, /hosts, /merchants/me."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Query, Request, Response, UploadFile, status

from livecart.db.deps import UowDep
from livecart.errors import Forbidden, NotFound
from livecart.features.accounts import security, service
from livecart.features.accounts.deps import (
    SESSION_COOKIE,
    CurrentUser,
    OptionalUser,
    presented_token,
)
from livecart.features.accounts.models import HostProfile, User
from livecart.features.accounts.repository import AccountsRepository
from livecart.features.accounts.schemas import (
    FollowOut,
    HostOut,
    HostProfileIn,
    LinkHostIn,
    LogInIn,
    MerchantOut,
    SessionOut,
    SignUpIn,
    UserOut,
)
from livecart.kit.categories import Category
from livecart.kit.images import check_image
from livecart.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, encode_cursor, page_request
from livecart.kit.params import IdFilter, IdPath
from livecart.kit.schemas import ERROR_RESPONSES, Page
from livecart.kit.storage import current_storage

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)


def host_out(user: User, profile: HostProfile, *, following: bool = False) -> HostOut:
    return HostOut(
        id=user.id,
        display_name=user.display_name,
        bio=profile.bio,
        avatar_url=current_storage().url(profile.avatar_key),
        categories=profile.categories,
        followers_count=profile.followers_count,
        merchant_id=profile.merchant_id,
        following=following,
    )


def _session_out(
    issued: service.IssuedToken, request: Request, response: Response, *, cookie: bool
) -> SessionOut:
    """The token in the body; with `cookie`, also the pages' session cookie and the CSRF token
    that those pages must echo in the X-CSRF-Token header."""
    csrf = None
    if cookie:
        settings = request.app.state.settings
        response.set_cookie(
            SESSION_COOKIE,
            issued.token,
            expires=issued.expires_at,
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
            path="/",
        )
        csrf = security.csrf_token(settings.resolved_secret_key, issued.token)
    return SessionOut(
        token=issued.token,
        expires_at=issued.expires_at,
        user=UserOut.model_validate(issued.user),
        csrf_token=csrf,
    )


def _ttl(request: Request) -> timedelta:
    return timedelta(days=request.app.state.settings.token_ttl_days)


@router.post("/auth/signup", status_code=status.HTTP_201_CREATED, tags=["auth"])
async def sign_up(
    data: SignUpIn, request: Request, response: Response, uow: UowDep, cookie: bool = False
) -> SessionOut:
    """Create an account and return a bearer token (with `cookie=true`, also the pages' session
    cookie). A merchant account creates its shop too."""
    issued = await service.sign_up(AccountsRepository(uow.session), data, ttl=_ttl(request))
    return _session_out(issued, request, response, cookie=cookie)


@router.post("/auth/login", tags=["auth"])
async def log_in(
    data: LogInIn, request: Request, response: Response, uow: UowDep, cookie: bool = False
) -> SessionOut:
    """Log in; with `cookie=true`, also set the pages' session cookie."""
    issued = await service.log_in(
        AccountsRepository(uow.session),
        email=data.email,
        password=data.password,
        ttl=_ttl(request),
    )
    return _session_out(issued, request, response, cookie=cookie)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
async def log_out(request: Request, user: CurrentUser, uow: UowDep) -> Response:
    """End this session: the token stops working and the session cookie is cleared."""
    token, _ = presented_token(request)
    if token:
        await service.log_out(AccountsRepository(uow.session), token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", tags=["auth"])
async def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.get("/hosts", tags=["hosts"])
async def list_hosts(
    uow: UowDep,
    viewer: OptionalUser,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
    category: Category | None = None,
    merchant_id: IdFilter = None,
) -> Page[HostOut]:
    repo = AccountsRepository(uow.session)
    page = page_request(cursor, limit)
    rows = await repo.hosts(page, category=category, merchant_id=merchant_id)
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    followed = await repo.followed_host_ids(viewer.id, [u.id for u, _ in rows]) if viewer else set()
    return Page[HostOut](
        items=[host_out(u, p, following=u.id in followed) for u, p in rows],
        next_cursor=encode_cursor(rows[-1][0].id) if more and rows else None,
    )


@router.get("/hosts/{host_id}", tags=["hosts"])
async def get_host(host_id: IdPath, uow: UowDep, viewer: OptionalUser) -> HostOut:
    repo = AccountsRepository(uow.session)
    user, profile = await service.host(repo, host_id)
    following = await repo.is_following(viewer.id, host_id) if viewer else False
    return host_out(user, profile, following=following)


@router.patch("/hosts/me", tags=["hosts"])
async def update_my_profile(data: HostProfileIn, user: CurrentUser, uow: UowDep) -> HostOut:
    return host_out(*await service.update_host_profile(AccountsRepository(uow.session), user, data))


@router.post("/hosts/me/avatar", tags=["hosts"])
async def upload_avatar(
    file: UploadFile, request: Request, user: CurrentUser, uow: UowDep
) -> HostOut:
    settings = request.app.state.settings
    image = check_image(
        await file.read(settings.max_upload_bytes + 1), max_bytes=settings.max_upload_bytes
    )
    return host_out(
        *await service.set_host_avatar(
            AccountsRepository(uow.session), user, image, request.app.state.storage
        )
    )


async def _follow(host_id: int, user: User, uow: UowDep, *, follow: bool) -> FollowOut:
    profile = await service.set_following(
        AccountsRepository(uow.session), user, host_id, follow=follow
    )
    return FollowOut(host_id=host_id, following=follow, followers_count=profile.followers_count)


@router.put("/hosts/{host_id}/follow", tags=["hosts"])
async def follow_host(host_id: IdPath, user: CurrentUser, uow: UowDep) -> FollowOut:
    """Follow a host. Idempotent."""
    return await _follow(host_id, user, uow, follow=True)


@router.delete("/hosts/{host_id}/follow", tags=["hosts"])
async def unfollow_host(host_id: IdPath, user: CurrentUser, uow: UowDep) -> FollowOut:
    """Stop following a host. Idempotent."""
    return await _follow(host_id, user, uow, follow=False)


@router.get("/merchants/me", tags=["merchants"])
async def my_merchant(user: CurrentUser, uow: UowDep) -> MerchantOut:
    if user.merchant_id is None:
        raise Forbidden("This account does not belong to a merchant.", code="merchant_required")
    merchant = await AccountsRepository(uow.session).merchant(user.merchant_id)
    if merchant is None:
        raise NotFound("merchant")
    return MerchantOut.model_validate(merchant)


@router.post("/merchants/me/hosts", tags=["merchants"])
async def link_host(data: LinkHostIn, user: CurrentUser, uow: UowDep) -> HostOut:
    """Make an existing host one of this merchant's own hosts, who may show all its products."""
    return host_out(
        *await service.link_host_to_merchant(AccountsRepository(uow.session), user, data.email)
    )
