"""What every page needs: the viewer from the session cookie, the language, the template engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from livecart import __version__
from livecart.db.uow import UnitOfWork
from livecart.features.accounts import security, service
from livecart.features.accounts.deps import SESSION_COOKIE
from livecart.features.accounts.models import Role, User
from livecart.features.accounts.repository import AccountsRepository
from livecart.kit.categories import CATEGORIES
from livecart.kit.money import MINOR_UNITS, SYMBOLS, Money, MoneyError
from livecart.web import i18n

TEMPLATE_DIR = Path(__file__).parent / "templates"

env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def money(amount: Decimal | None, currency: str = "CNY") -> str:
    """¥49.00 — the amount in its currency's symbol and minor units."""
    if amount is None:
        return "—"
    try:
        return str(Money(Decimal(amount), currency))
    except MoneyError:
        return f"{currency} {amount}"


def iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""


def utc_text(moment: datetime | None) -> str:
    """A readable fallback until the script shows the time in the viewer's own zone."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


env.filters["money"] = money
env.filters["iso"] = iso
env.filters["utc_text"] = utc_text
env.globals["version"] = __version__
env.globals["currency_symbols"] = SYMBOLS
env.globals["currency_digits"] = MINOR_UNITS
env.globals["categories"] = CATEGORIES
env.globals["currencies"] = tuple(MINOR_UNITS)


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site: no scheme, no host, no `//` or backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


@dataclass(slots=True)
class Viewer:
    """The person looking at the page: their account (if any), CSRF token and language."""

    user: User | None
    csrf: str | None
    t: i18n.Translator

    @property
    def is_merchant(self) -> bool:
        return self.user is not None and self.user.role == Role.MERCHANT_STAFF.value

    @property
    def is_host(self) -> bool:
        return self.user is not None and self.user.role in (Role.HOST.value, Role.ADMIN.value)


async def viewer(request: Request, uow: UnitOfWork) -> Viewer:
    lang = i18n.choose(
        request.cookies.get(i18n.LANG_COOKIE), request.headers.get("accept-language")
    )
    t = i18n.Translator(lang)
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return Viewer(None, None, t)
    user = await service.user_for_token(AccountsRepository(uow.session), token)
    if user is None:
        return Viewer(None, None, t)
    secret = request.app.state.settings.resolved_secret_key
    return Viewer(user, security.csrf_token(secret, token), t)


def render(
    request: Request,
    who: Viewer,
    template: str,
    *,
    status: int = 200,
    page_data: dict[str, Any] | None = None,
    **context: Any,
) -> HTMLResponse:
    html = env.get_template(template).render(
        request=request,
        path=request.url.path,
        here=_here(request),
        me=who.user,
        who=who,
        csrf=who.csrf,
        lang=who.t.lang,
        t=who.t,
        js_messages=who.t.js_messages(),
        page_data={
            "lang": who.t.lang,
            "user": _user_json(who.user),
            "symbols": SYMBOLS,
            "digits": MINOR_UNITS,
            **(page_data or {}),
        },
        **context,
    )
    headers = {"Cache-Control": "no-store", "Content-Language": who.t.lang}
    return HTMLResponse(html, status_code=status, headers=headers)


def _here(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _user_json(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "display_name": user.display_name, "role": user.role}


def login_redirect(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(_here(request), safe='/')}", status_code=303)


def forbidden(request: Request, who: Viewer, needed: str) -> HTMLResponse:
    return render(
        request,
        who,
        "message.html",
        status=403,
        title=who.t("forbidden.title"),
        message=who.t("forbidden.body", role=who.t(f"role.{needed}")),
        glyph="lock",
    )
