"""/api/v1: moderators, blocked words, questions and explanations of a show's room."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from livecart.db.deps import UowDep
from livecart.errors import NotFound
from livecart.features.accounts.deps import CurrentUser
from livecart.features.accounts.models import Role, User
from livecart.features.accounts.service import require_role
from livecart.features.rooms.cards import chat_line
from livecart.features.rooms.repository import RoomsRepository
from livecart.features.rooms.rules import normalise_text
from livecart.features.rooms.schemas import (
    BlockedWordsIn,
    BlockedWordsOut,
    ExplanationOut,
    ModeratorOut,
)
from livecart.features.rooms.service import RoomContext, RoomRole, control_show, member
from livecart.features.shows.models import Show
from livecart.features.shows.presenter import show_out
from livecart.features.shows.repository import ShowsRepository
from livecart.features.shows.schemas import ShowOut
from livecart.features.shows.service import ShowsContext, hosted_show
from livecart.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, encode_cursor, page_request
from livecart.kit.params import IdPath
from livecart.kit.schemas import ERROR_RESPONSES, Page
from livecart.realtime.events import ChatLine

router = APIRouter(prefix="/api/v1", tags=["rooms"], responses=ERROR_RESPONSES)


async def _hosted(uow: UowDep, user: CurrentUser, show_id: int) -> Show:
    return await hosted_show(ShowsContext(ShowsRepository(uow.session)), user, show_id)


async def _show(uow: UowDep, show_id: int) -> Show:
    show = await ShowsRepository(uow.session).show(show_id)
    if show is None:
        raise NotFound("show", show_id=show_id)
    return show


async def _control(request: Request, show_id: int, user: User, uow: UowDep, action: str) -> ShowOut:
    """Show transitions live here, not in shows, because the room must hear of them."""
    ctx = RoomContext(uow, request.app.state.hub)
    m = await member(ctx, show_id, user)
    if m.role is RoomRole.VIEWER:  # another host's show: as if it did not exist
        raise NotFound("show", show_id=show_id)
    show = await control_show(ctx, m, action)
    return await show_out(ShowsContext(ctx.shows), show, user)


@router.post("/shows/{show_id}/go-live", tags=["shows"])
async def go_live(show_id: IdPath, request: Request, user: CurrentUser, uow: UowDep) -> ShowOut:
    """Start the show (its host or moderators). The room gets `show_state`."""
    return await _control(request, show_id, user, uow, "go_live")


@router.post("/shows/{show_id}/end", tags=["shows"])
async def end_show(show_id: IdPath, request: Request, user: CurrentUser, uow: UowDep) -> ShowOut:
    """End the show; an explanation still open ends with it."""
    return await _control(request, show_id, user, uow, "end")


@router.post("/shows/{show_id}/cancel", tags=["shows"])
async def cancel_show(show_id: IdPath, request: Request, user: CurrentUser, uow: UowDep) -> ShowOut:
    """Cancel a show that has not started."""
    return await _control(request, show_id, user, uow, "cancel")


@router.get("/shows/{show_id}/moderators")
async def list_moderators(show_id: IdPath, user: CurrentUser, uow: UowDep) -> list[ModeratorOut]:
    """The show's moderators (its host only)."""
    show = await _hosted(uow, user, show_id)
    users = await RoomsRepository(uow.session).moderators(show.id)
    return [ModeratorOut(id=u.id, display_name=u.display_name) for u in users]


@router.put("/shows/{show_id}/moderators/{user_id}")
async def add_moderator(
    show_id: IdPath, user_id: IdPath, user: CurrentUser, uow: UowDep
) -> ModeratorOut:
    """Make an account a moderator of this show (idempotent)."""
    show = await _hosted(uow, user, show_id)
    repo = RoomsRepository(uow.session)
    target = (await repo.users({user_id})).get(user_id)
    if target is None:
        raise NotFound("user", user_id=user_id)
    await repo.add_moderator(show.id, target.id)
    return ModeratorOut(id=target.id, display_name=target.display_name)


@router.delete("/shows/{show_id}/moderators/{user_id}", status_code=204)
async def remove_moderator(
    show_id: IdPath, user_id: IdPath, user: CurrentUser, uow: UowDep
) -> None:
    show = await _hosted(uow, user, show_id)
    await RoomsRepository(uow.session).remove_moderator(show.id, user_id)


@router.get("/shows/{show_id}/questions")
async def list_questions(
    show_id: IdPath,
    uow: UowDep,
    cursor: str | None = None,
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Page[ChatLine]:
    """The show's questions, newest first (deleted and shadow-banned ones left out)."""
    show = await _show(uow, show_id)
    repo = RoomsRepository(uow.session)
    page = page_request(cursor, limit)
    rows = await repo.questions(show.id, after=page.after, limit=page.limit)
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    people = {i for m in rows for i in (m.user_id, m.claimed_by, m.answered_by) if i}
    users = await repo.users(people)
    return Page[ChatLine](
        items=[chat_line(m, users) for m in rows],
        next_cursor=encode_cursor(rows[-1].id) if more and rows else None,
    )


@router.get("/shows/{show_id}/explanations")
async def list_explanations(show_id: IdPath, uow: UowDep) -> list[ExplanationOut]:
    """The show's explanation segments (讲解) in order: the replay's markers."""
    show = await _show(uow, show_id)
    rows = await RoomsRepository(uow.session).explanations(show.id)
    return [ExplanationOut.model_validate(r) for r in rows]


def _clean_words(words: list[str]) -> list[str]:
    return sorted({normalise_text(w) for w in words if normalise_text(w)})


@router.get("/hosts/me/blocked-words")
async def my_blocked_words(user: CurrentUser, uow: UowDep) -> BlockedWordsOut:
    host = require_role(user, Role.HOST)
    rows = await RoomsRepository(uow.session).own_blocked_words(host.id)
    return BlockedWordsOut(words=[r.word for r in rows])


@router.put("/hosts/me/blocked-words")
async def set_my_blocked_words(
    data: BlockedWordsIn, user: CurrentUser, uow: UowDep
) -> BlockedWordsOut:
    """Replace this host's blocked words (the global list applies as well)."""
    host = require_role(user, Role.HOST)
    words = _clean_words(data.words)
    await RoomsRepository(uow.session).replace_blocked_words(host.id, words)
    return BlockedWordsOut(words=words)


@router.get("/admin/blocked-words")
async def global_blocked_words(user: CurrentUser, uow: UowDep) -> BlockedWordsOut:
    require_role(user, Role.ADMIN)
    rows = await RoomsRepository(uow.session).own_blocked_words(None)
    return BlockedWordsOut(words=[r.word for r in rows])


@router.put("/admin/blocked-words")
async def set_global_blocked_words(
    data: BlockedWordsIn, user: CurrentUser, uow: UowDep
) -> BlockedWordsOut:
    """Replace the platform-wide blocked words (admins only)."""
    require_role(user, Role.ADMIN)
    words = _clean_words(data.words)
    await RoomsRepository(uow.session).replace_blocked_words(None, words)
    return BlockedWordsOut(words=words)
