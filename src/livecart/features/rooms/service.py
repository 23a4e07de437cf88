"""The live room's operations. Each checks who may act, changes data, and publishes its event
after commit. Services never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from livecart.db.uow import UnitOfWork
from livecart.errors import AppError, Forbidden, NotFound, Unauthorized
from livecart.features.accounts import service as accounts_service
from livecart.features.accounts.models import Role, User
from livecart.features.accounts.repository import AccountsRepository
from livecart.features.catalog.models import Product
from livecart.features.catalog.repository import CatalogRepository
from livecart.features.rooms import rules
from livecart.features.rooms.cards import chat_line, product_card
from livecart.features.rooms.models import ChatMessage, Explanation, LinkDrop, Restriction
from livecart.features.rooms.repository import RoomsRepository
from livecart.features.shows import service as shows_service
from livecart.features.shows.models import Show
from livecart.features.shows.repository import ShowsRepository
from livecart.features.shows.rules import ShowAction, ShowState
from livecart.kit.clock import to_ms, utcnow
from livecart.realtime import events as ev
from livecart.realtime.hub import Hub


class RoomRole(StrEnum):
    HOST = "host"
    MODERATOR = "moderator"
    VIEWER = "viewer"
    ANONYMOUS = "anonymous"


STAFF = frozenset({RoomRole.HOST, RoomRole.MODERATOR})


class RoomContext:
    """Repositories over one unit of work, and the hub to publish to after it commits."""

    def __init__(self, uow: UnitOfWork, hub: Hub) -> None:
        self.uow = uow
        self.hub = hub
        session = uow.session
        self.rooms = RoomsRepository(session)
        self.shows = ShowsRepository(session)
        self.catalog = CatalogRepository(session)
        self.accounts = AccountsRepository(session)

    def publish(self, show_id: int, event: ev.ServerEvent) -> None:
        body = event.body()

        async def send() -> None:
            await self.hub.publish(show_id, body)

        self.uow.after_commit(send)


@dataclass(frozen=True, slots=True)
class Member:
    """Who is acting in a room, and as what."""

    show: Show
    user: User | None
    role: RoomRole

    def require_user(self) -> User:
        if self.user is None:
            raise Unauthorized("Log in to take part in the room.")
        return self.user

    def require_staff(self) -> User:
        user = self.require_user()
        if self.role not in STAFF:
            raise Forbidden(
                "Only the host and the show's moderators can do this.", code="not_room_staff"
            )
        return user


async def member(ctx: RoomContext, show_id: int, user: User | None) -> Member:
    show = await ctx.shows.show(show_id)
    if show is None:
        raise NotFound("show", show_id=show_id)
    return Member(show, user, await role_in(ctx, show, user))


async def role_in(ctx: RoomContext, show: Show, user: User | None) -> RoomRole:
    if user is None:
        return RoomRole.ANONYMOUS
    if user.id == show.host_id or user.role == Role.ADMIN.value:
        return RoomRole.HOST
    if await ctx.rooms.is_moderator(show.id, user.id):
        return RoomRole.MODERATOR
    return RoomRole.VIEWER


def _refused(exc: rules.ChatRefusal) -> AppError:
    data = {"retry_after_ms": exc.retry_after_ms} if exc.retry_after_ms is not None else {}
    return AppError(exc.code, str(exc), status=422 if exc.code == "chat_empty" else 403, data=data)


# --- chat and questions ---------------------------------------------------------------------


async def post_chat(
    ctx: RoomContext, m: Member, text: str, *, question: bool
) -> tuple[ev.ChatLine, bool]:
    """Post a line; returns it and whether it is hidden. A shadow-banned author's line is stored
    hidden and not published: the caller echoes it to its author alone."""
    user = m.require_user()
    now = utcnow()
    restriction = await ctx.rooms.restriction(m.show.id, user.id)
    settings = await ctx.rooms.settings(m.show.id)
    try:
        verdict, clean = rules.judge_chat(
            text,
            standing=rules.Standing(restriction.kind, restriction.until)
            if restriction
            else rules.Standing(),
            blocked=await ctx.rooms.blocked_words(m.show.host_id),
            slow_mode_secs=settings.slow_mode_secs,
            last_post_at=await ctx.rooms.last_post_at(m.show.id, user.id),
            now=now,
            privileged=m.role in STAFF,
            show_state=m.show.state,
        )
    except rules.ChatRefusal as exc:
        raise _refused(exc) from exc
    message = ChatMessage(
        show_id=m.show.id,
        user_id=user.id,
        text=clean,
        is_question=question,
        question_state="open" if question else None,
        pinned=False,
        hidden=verdict is rules.ChatVerdict.SHADOW,
        deleted=False,
        created_at=now,
    )
    ctx.rooms.session.add(message)
    await ctx.rooms.session.flush()
    line = chat_line(message, {user.id: user})
    if not message.hidden:
        ctx.publish(m.show.id, ev.ChatPosted(message=line))
    return line, message.hidden


async def delete_chat(ctx: RoomContext, m: Member, message_id: int) -> None:
    m.require_staff()
    message = await ctx.rooms.message(m.show.id, message_id)
    if message is None or message.deleted:
        raise NotFound("message", message_id=message_id)
    message.deleted = True
    ctx.publish(m.show.id, ev.ChatDeleted(message_ids=[message.id]))


async def restrict(
    ctx: RoomContext, m: Member, user_id: int, kind: str, minutes: int | None
) -> None:
    staff = m.require_staff()
    target = await ctx.accounts.user(user_id)
    if target is None:
        raise NotFound("user", user_id=user_id)
    if await role_in(ctx, m.show, target) in STAFF:
        raise Forbidden("The host and moderators cannot be restricted.", code="target_is_staff")
    if kind == "lift":
        await ctx.rooms.lift_restriction(m.show.id, user_id)
        ctx.publish(m.show.id, ev.UserRestricted(user_id=user_id, kind="lift", until_ms=None))
        return
    if kind == "mute" and minutes is None:
        minutes = 10
    until = utcnow() + timedelta(minutes=minutes) if minutes is not None else None
    await ctx.rooms.set_restriction(
        Restriction(show_id=m.show.id, user_id=user_id, kind=kind, until=until, by_user_id=staff.id)
    )
    if kind == "shadow":
        return  # the point of a shadow ban is that nobody, its target least, is told
    ctx.publish(
        m.show.id,
        ev.UserRestricted.model_validate(
            {"user_id": user_id, "kind": kind, "until_ms": to_ms(until) if until else None}
        ),
    )
    if kind == "ban":
        removed = await ctx.rooms.delete_user_messages(m.show.id, user_id)
        if removed:
            ctx.publish(m.show.id, ev.ChatDeleted(message_ids=removed))


async def set_slow_mode(ctx: RoomContext, m: Member, seconds: int) -> None:
    m.require_staff()
    settings = await ctx.rooms.settings(m.show.id)
    settings.slow_mode_secs = seconds
    ctx.publish(m.show.id, ev.SlowModeChanged(seconds=seconds))


async def act_on_question(
    ctx: RoomContext, m: Member, message_id: int, action: str, answer: str | None
) -> ev.ChatLine:
    staff = m.require_staff()
    message = await ctx.rooms.message(m.show.id, message_id)
    if message is None or message.deleted or not message.is_question:
        raise NotFound("question", message_id=message_id)
    if action in ("pin", "unpin"):
        message.pinned = action == "pin"
    else:
        try:
            state = rules.next_question_state(
                message.question_state or "open",
                action,
                claimed_by=message.claimed_by,
                actor_id=staff.id,
            )
        except rules.ChatRefusal as exc:
            raise AppError(exc.code, str(exc), status=409) from exc
        if action == "answer":
            clean = rules.normalise_text(answer or "")
            if not clean:
                raise AppError("answer_required", "Write the answer first.", status=422)
            message.answer, message.answered_by = clean, staff.id
        message.question_state = state
        message.claimed_by = (
            staff.id
            if state == "claimed"
            else (message.claimed_by if state == "answered" else None)
        )
    await ctx.rooms.session.flush()
    line = chat_line(message, await ctx.rooms.users(_people(message)))
    ctx.publish(m.show.id, ev.QuestionUpdated(message=line))
    return line


def _people(message: ChatMessage) -> set[int]:
    return {i for i in (message.user_id, message.claimed_by, message.answered_by) if i}


# --- host console ---------------------------------------------------------------------------


async def lineup_product(ctx: RoomContext, show: Show, product_id: int) -> Product:
    lineup = (await ctx.shows.lineups([show.id]))[show.id]
    if product_id not in {item.product_id for item in lineup}:
        raise AppError(
            "product_not_in_lineup",
            "This product is not in the show's lineup.",
            status=422,
            data={"product_id": product_id},
        )
    product = await ctx.catalog.product(product_id)
    if product is None or product.archived:
        raise NotFound("product", product_id=product_id)
    return product


def _require_live(show: Show) -> None:
    if show.state != ShowState.LIVE.value:
        raise AppError("show_not_live", "Go live first.", status=409, data={"state": show.state})


async def explain(ctx: RoomContext, m: Member, product_id: int | None) -> None:
    """Start explaining a product (closing the current explanation), or stop (`None`)."""
    m.require_staff()
    _require_live(m.show)
    now = utcnow()
    await _close_explanation(ctx, m.show, now)
    if product_id is None:
        return
    product = await lineup_product(ctx, m.show, product_id)
    segment = Explanation(show_id=m.show.id, product_id=product.id, started_at=now)
    ctx.rooms.session.add(segment)
    await ctx.rooms.session.flush()
    ctx.publish(
        m.show.id,
        ev.ExplainStarted(
            explanation_id=segment.id, product=product_card(product), t_event=to_ms(now)
        ),
    )


async def _close_explanation(ctx: RoomContext, show: Show, now: datetime) -> None:
    current = await ctx.rooms.open_explanation(show.id)
    if current is not None:
        current.ended_at = now
        ctx.publish(show.id, ev.ExplainStopped(explanation_id=current.id, t_event=to_ms(now)))


async def pin(ctx: RoomContext, m: Member, product_id: int | None) -> None:
    m.require_staff()
    settings = await ctx.rooms.settings(m.show.id)
    product = await lineup_product(ctx, m.show, product_id) if product_id else None
    settings.pinned_product_id = product.id if product else None
    ctx.publish(m.show.id, ev.ProductPinned(product=product_card(product) if product else None))


async def drop(
    ctx: RoomContext,
    m: Member,
    product_id: int,
    countdown_ms: int,
    *,
    now: datetime | None = None,
    sale: ev.SaleOffer | None = None,
) -> ev.DropOpened:
    """上链接: the card goes to everyone with the server time of this action and its opening.
    A flash sale passes its own `now` (so both agree on the opening) and its offer."""
    staff = m.require_staff()
    _require_live(m.show)
    product = await lineup_product(ctx, m.show, product_id)
    card = product_card(product)
    now = now or utcnow()
    opens_at = now + timedelta(milliseconds=countdown_ms)
    cheapest = min((v.price_minor for v in product.variants if not v.archived), default=None)
    if cheapest is None:
        raise AppError("product_unavailable", "This product has no variant on sale.", status=409)
    record = LinkDrop(
        show_id=m.show.id,
        product_id=product.id,
        price_minor=cheapest,
        stock_shown=card.stock,
        t_event=now,
        opens_at=opens_at,
        by_user_id=staff.id,
    )
    ctx.rooms.session.add(record)
    await ctx.rooms.session.flush()
    event = ev.DropOpened(
        drop_id=record.id, product=card, t_event=to_ms(now), opens_at=to_ms(opens_at), sale=sale
    )
    ctx.publish(m.show.id, event)
    return event


SHOW_ACTIONS = {"go_live": ShowAction.GO_LIVE, "end": ShowAction.END, "cancel": ShowAction.CANCEL}


async def control_show(ctx: RoomContext, m: Member, action: str) -> Show:
    """Go live, end or cancel; the room hears of it, and an open explanation ends with the show."""
    m.require_staff()
    show_action = SHOW_ACTIONS[action]
    now = utcnow()
    if show_action is ShowAction.END:
        await _close_explanation(ctx, m.show, now)
    show = await shows_service.apply_transition(
        shows_service.ShowsContext(ctx.shows), m.show, show_action
    )
    ctx.publish(
        show.id, ev.ShowStateChanged.model_validate({"state": show.state, "t_event": to_ms(now)})
    )
    return show


async def follow_host(ctx: RoomContext, m: Member, *, on: bool) -> int:
    user = m.require_user()
    profile = await accounts_service.set_following(ctx.accounts, user, m.show.host_id, follow=on)
    return profile.followers_count


def recent_window() -> datetime:
    return utcnow() - timedelta(minutes=30)


async def drops_for_snapshot(ctx: RoomContext, show: Show) -> Sequence[LinkDrop]:
    return await ctx.rooms.recent_drops(show.id, since=recent_window())
