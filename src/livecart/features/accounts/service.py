"""Accounts: sign up, log in, host profiles and follows. Services never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError

from livecart.errors import AppError, Conflict, Forbidden, NotFound, Unauthorized
from livecart.features.accounts import security
from livecart.features.accounts.models import ApiToken, HostProfile, Merchant, Role, User
from livecart.features.accounts.repository import AccountsRepository
from livecart.features.accounts.schemas import HostProfileIn, SignUpIn
from livecart.kit.clock import utcnow
from livecart.kit.ids import hash_secret, new_token
from livecart.kit.images import CheckedImage
from livecart.kit.storage import Storage

SIGNUP_ROLES = {
    "viewer": Role.VIEWER,
    "host": Role.HOST,
    "merchant": Role.MERCHANT_STAFF,
    "agency": Role.AGENCY,
}


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_at: datetime
    user: User


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def sign_up(repo: AccountsRepository, data: SignUpIn, *, ttl: timedelta) -> IssuedToken:
    email = normalise_email(data.email)
    if await repo.user_by_email(email) is not None:
        raise Conflict("email_taken", "An account with this email already exists.")
    role = SIGNUP_ROLES[data.role]
    merchant_id = None
    if role is Role.MERCHANT_STAFF:
        if not data.merchant_name:
            raise AppError(
                "merchant_name_required",
                "A merchant account needs a shop name.",
                status=422,
                data={"field": "merchant_name"},
            )
        merchant = Merchant(name=data.merchant_name)
        repo.session.add(merchant)
        await repo.session.flush()
        merchant_id = merchant.id
    elif data.merchant_name:
        raise AppError(
            "merchant_name_not_allowed",
            "Only merchant accounts have a shop name.",
            status=422,
            data={"field": "merchant_name"},
        )
    user = await create_user(
        repo,
        email=email,
        password=data.password,
        display_name=data.display_name,
        role=role,
        merchant_id=merchant_id,
    )
    return await issue_token(repo, user, ttl=ttl)


async def create_user(
    repo: AccountsRepository,
    *,
    email: str,
    password: str,
    display_name: str,
    role: Role,
    merchant_id: int | None = None,
) -> User:
    user = User(
        email=normalise_email(email),
        password_hash=security.hash_password(password),
        display_name=display_name,
        role=role.value,
        merchant_id=merchant_id,
    )
    repo.session.add(user)
    try:
        await repo.session.flush()
    except IntegrityError as exc:  # a concurrent sign-up with the same email won the race
        raise Conflict("email_taken", "An account with this email already exists.") from exc
    if role is Role.HOST:
        repo.session.add(HostProfile(user_id=user.id, bio="", categories=[], followers_count=0))
        await repo.session.flush()
    return user


async def log_in(
    repo: AccountsRepository, *, email: str, password: str, ttl: timedelta
) -> IssuedToken:
    user = await repo.user_by_email(normalise_email(email))
    if not security.verify_password(user.password_hash if user else None, password) or user is None:
        raise AppError("invalid_credentials", "Wrong email or password.", status=401)
    return await issue_token(repo, user, ttl=ttl)


async def issue_token(repo: AccountsRepository, user: User, *, ttl: timedelta) -> IssuedToken:
    token = new_token()
    expires_at = utcnow() + ttl
    repo.session.add(
        ApiToken(user_id=user.id, token_hash=hash_secret(token), expires_at=expires_at)
    )
    await repo.session.flush()
    return IssuedToken(token, expires_at, user)


async def user_for_token(repo: AccountsRepository, token: str) -> User | None:
    return await repo.user_by_token(hash_secret(token), now=utcnow())


async def log_out(repo: AccountsRepository, token: str) -> None:
    await repo.delete_token(hash_secret(token))


def require_role(user: User | None, *roles: Role) -> User:
    if user is None:
        raise Unauthorized()
    if user.role not in {r.value for r in roles} and user.role != Role.ADMIN.value:
        raise Forbidden(
            f"This needs a {' or '.join(r.value for r in roles)} account.", code="role_required"
        )
    return user


async def host(repo: AccountsRepository, host_id: int) -> tuple[User, HostProfile]:
    user = await repo.user(host_id)
    profile = await repo.host_profile(host_id)
    if user is None or profile is None:
        raise NotFound("host", host_id=host_id)
    return user, profile


async def update_host_profile(
    repo: AccountsRepository, actor: User | None, data: HostProfileIn
) -> tuple[User, HostProfile]:
    user = require_role(actor, Role.HOST)
    _, profile = await host(repo, user.id)
    if data.display_name is not None:
        user.display_name = data.display_name
    if data.bio is not None:
        profile.bio = data.bio
    if data.categories is not None:
        profile.categories = list(dict.fromkeys(data.categories))
    await repo.session.flush()
    return user, profile


async def set_host_avatar(
    repo: AccountsRepository, actor: User | None, image: CheckedImage, storage: Storage
) -> tuple[User, HostProfile]:
    user = require_role(actor, Role.HOST)
    _, profile = await host(repo, user.id)
    profile.avatar_key = storage.save_image(image, folder="avatars")
    await repo.session.flush()
    return user, profile


async def set_following(
    repo: AccountsRepository, actor: User | None, host_id: int, *, follow: bool
) -> HostProfile:
    if actor is None:
        raise Unauthorized("Log in to follow hosts.")
    if actor.id == host_id:
        raise AppError("cannot_follow_self", "You cannot follow yourself.", status=422)
    _, profile = await host(repo, host_id)
    if follow:
        await repo.follow(actor.id, host_id)
    else:
        await repo.unfollow(actor.id, host_id)
    await repo.session.refresh(profile)
    return profile


async def link_host_to_merchant(
    repo: AccountsRepository, actor: User | None, email: str
) -> tuple[User, HostProfile]:
    """A merchant's staff make an existing host one of the merchant's own hosts."""
    staff = require_role(actor, Role.MERCHANT_STAFF)
    if staff.merchant_id is None:
        raise Forbidden("Only a merchant's staff can add hosts to it.", code="merchant_required")
    user = await repo.user_by_email(normalise_email(email))
    if user is None or user.role != Role.HOST.value:
        raise NotFound("host", email=normalise_email(email))
    _, profile = await host(repo, user.id)
    if profile.merchant_id not in (None, staff.merchant_id):
        raise Conflict("host_has_merchant", "This host already streams for another merchant.")
    profile.merchant_id = staff.merchant_id
    await repo.session.flush()
    return user, profile
