"""Wire shapes of room things: product cards and chat lines."""

from __future__ import annotations

from livecart.features.accounts.models import User
from livecart.features.catalog.models import Product
from livecart.features.rooms.models import ChatMessage
from livecart.kit.clock import to_ms
from livecart.kit.money import Money
from livecart.kit.storage import current_storage
from livecart.realtime import events as ev


def product_card(product: Product) -> ev.ProductCard:
    """The card as viewers see it: the cheapest variant on sale, and the stock of all of them."""
    live = [v for v in product.variants if not v.archived]
    cheapest = min(live, key=lambda v: v.price_minor, default=None)
    price = Money.from_minor(cheapest.price_minor, product.currency) if cheapest else None
    list_price = (
        Money.from_minor(cheapest.list_price_minor, product.currency)
        if cheapest is not None and cheapest.list_price_minor is not None
        else None
    )
    image = product.images[0].storage_key if product.images else None
    return ev.ProductCard(
        id=product.id,
        title=product.title,
        image_url=current_storage().url(image),
        currency=product.currency,
        price=str(price.amount) if price else "0",
        list_price=str(list_price.amount) if list_price else None,
        stock=sum(v.stock for v in live),
    )


def _ref(users: dict[int, User], user_id: int | None) -> ev.UserRef | None:
    if user_id is None:
        return None
    user = users.get(user_id)
    return ev.UserRef(id=user_id, name=user.display_name if user else "?")


def chat_line(message: ChatMessage, users: dict[int, User]) -> ev.ChatLine:
    author = _ref(users, message.user_id)
    assert author is not None
    return ev.ChatLine(
        id=message.id,
        user=author,
        text=message.text,
        question=message.is_question,
        at_ms=to_ms(message.created_at),
        state=message.question_state,
        claimed_by=_ref(users, message.claimed_by),
        answer=message.answer,
        pinned=message.pinned,
    )
