"""Creating the first admin from the command line."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from livecart.config import Settings
from livecart.db.engine import make_engine, make_session_factory
from livecart.db.uow import UnitOfWork
from livecart.features.accounts import security, service
from livecart.features.accounts.models import Role
from livecart.features.accounts.repository import AccountsRepository


async def create_admin(settings: Settings, *, email: str, password: str, display_name: str) -> str:
    try:
        email = validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise SystemExit(f"error: {exc}") from exc
    engine = make_engine(settings.resolved_database_url)
    try:
        async with UnitOfWork(make_session_factory(engine)) as uow:
            repo = AccountsRepository(uow.session)
            user = await repo.user_by_email(service.normalise_email(email))
            if user is not None:
                if user.role == Role.MERCHANT_STAFF.value:
                    raise SystemExit("error: a merchant's staff account cannot become an admin")
                user.role = Role.ADMIN.value
                user.password_hash = security.hash_password(password)
                return f"{user.email} is now an admin (password reset)"
            user = await service.create_user(
                repo, email=email, password=password, display_name=display_name, role=Role.ADMIN
            )
            return f"admin {user.email} created"
    finally:
        await engine.dispose()
