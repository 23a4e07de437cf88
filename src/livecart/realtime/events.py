"""Every message of the room connection, as closed typed models (docs/events.md lists them).

Client → server messages are validated with `parse_client_message`; unknown types and unknown
fields are errors. Server → client events that change room state are published through the hub
and carry a per-room `seq`; direct replies (snapshot, pong, error, resync, tick, notice) do not.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

MAX_CHAT_CHARS = 200
ChatText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_CHAT_CHARS)]
Id = Annotated[int, Field(ge=1, le=2**53)]


class ClientMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# --- client → server ------------------------------------------------------------------------


class Hello(ClientMessage):
    """First message: who I am (optional) and where I left off (optional)."""

    type: Literal["hello"]
    token: str | None = Field(default=None, max_length=200)
    last_seq: int | None = Field(default=None, ge=0)
    epoch: str | None = Field(default=None, max_length=32)


class Ping(ClientMessage):
    type: Literal["ping"]
    t0: float = Field(description="client clock, ms; echoed back in pong")


class ResyncRequest(ClientMessage):
    type: Literal["resync"]


class Chat(ClientMessage):
    type: Literal["chat"]
    text: ChatText
    question: bool = False


class Like(ClientMessage):
    type: Literal["like"]
    count: int = Field(default=1, ge=1, le=50)


class Follow(ClientMessage):
    type: Literal["follow"]
    on: bool = True


class Explain(ClientMessage):
    type: Literal["explain"]
    product_id: Id | None = Field(description="null stops the current explanation")


class Pin(ClientMessage):
    type: Literal["pin"]
    product_id: Id | None


class Drop(ClientMessage):
    type: Literal["drop"]
    product_id: Id
    countdown_ms: int = Field(default=3000, ge=0, le=60_000)


class ShowControl(ClientMessage):
    type: Literal["go_live", "end"]


class DeleteChat(ClientMessage):
    type: Literal["delete_chat"]
    message_id: Id


class Restrict(ClientMessage):
    """Mute (for `minutes`), ban, shadow-ban or lift a restriction of a viewer for this show."""

    type: Literal["restrict"]
    user_id: Id
    kind: Literal["mute", "ban", "shadow", "lift"]
    minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)


class SlowMode(ClientMessage):
    type: Literal["slow_mode"]
    seconds: int = Field(ge=0, le=600)


class QuestionAction(ClientMessage):
    type: Literal["question"]
    message_id: Id
    action: Literal["claim", "release", "answer", "pin", "unpin"]
    answer: ChatText | None = None


class Buy(ClientMessage):
    """Buy from a flash sale of this room's show over the open connection (logged in); the
    answer is a `buy_result` with the same key. Same gate, same rules as the HTTP purchase."""

    type: Literal["buy"]
    sale_id: Id
    quantity: int = Field(default=1, ge=1, le=100)
    key: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-:.]+$")


AnyClientMessage = Annotated[
    Hello
    | Ping
    | ResyncRequest
    | Chat
    | Like
    | Follow
    | Explain
    | Pin
    | Drop
    | ShowControl
    | DeleteChat
    | Restrict
    | SlowMode
    | QuestionAction
    | Buy,
    Field(discriminator="type"),
]
_client_adapter: TypeAdapter[AnyClientMessage] = TypeAdapter(AnyClientMessage)
CLIENT_MESSAGE_TYPES: tuple[str, ...] = (
    "hello",
    "ping",
    "resync",
    "chat",
    "like",
    "follow",
    "explain",
    "pin",
    "drop",
    "go_live",
    "end",
    "delete_chat",
    "restrict",
    "slow_mode",
    "question",
    "buy",
)


def parse_client_message(raw: bytes) -> AnyClientMessage:
    """Validate one client frame; raises pydantic.ValidationError (or ValueError for bad JSON)."""
    return _client_adapter.validate_json(raw)


# --- server → client ------------------------------------------------------------------------


class ServerEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class UserRef(BaseModel):
    id: int
    name: str


class ChatLine(BaseModel):
    id: int
    user: UserRef
    text: str
    question: bool
    at_ms: int
    state: Literal["open", "claimed", "answered"] | None = None
    claimed_by: UserRef | None = None
    answer: str | None = None
    pinned: bool = False


class ChatPosted(ServerEvent):
    type: Literal["chat_posted"] = "chat_posted"
    message: ChatLine


class ChatDeleted(ServerEvent):
    type: Literal["chat_deleted"] = "chat_deleted"
    message_ids: list[int]


class QuestionUpdated(ServerEvent):
    type: Literal["question_updated"] = "question_updated"
    message: ChatLine


class ProductCard(BaseModel):
    id: int
    title: str
    image_url: str | None
    currency: str
    price: str
    list_price: str | None
    stock: int


class ExplainStarted(ServerEvent):
    type: Literal["explain_started"] = "explain_started"
    explanation_id: int
    product: ProductCard
    t_event: int


class ExplainStopped(ServerEvent):
    type: Literal["explain_stopped"] = "explain_stopped"
    explanation_id: int
    t_event: int


class ProductPinned(ServerEvent):
    type: Literal["product_pinned"] = "product_pinned"
    product: ProductCard | None


class SaleOffer(BaseModel):
    """A flash sale opened by a drop: buy with POST /api/v1/sales/{sale_id}/purchase."""

    sale_id: int
    variant_id: int
    price: str
    units: int
    per_buyer_limit: int
    closes_at: int
    mode: Literal["first_come", "fair_window"] = "first_come"
    window_ms: int = 0
    seed_hash: str | None = None  # fair_window: SHA-256 of the seed revealed after the window


class DropOpened(ServerEvent):
    """The link drop: show the card when the video reaches t_event, unlock buying at opens_at
    (both server time, ms since the Unix epoch)."""

    type: Literal["drop_opened"] = "drop_opened"
    drop_id: int
    product: ProductCard
    t_event: int
    opens_at: int
    sale: SaleOffer | None = None


class ShowStateChanged(ServerEvent):
    type: Literal["show_state"] = "show_state"
    state: Literal["scheduled", "live", "ended", "cancelled"]
    t_event: int


class UserRestricted(ServerEvent):
    """A viewer was muted or banned (or let speak again). Shadow bans are never announced."""

    type: Literal["user_restricted"] = "user_restricted"
    user_id: int
    kind: Literal["mute", "ban", "lift"]
    until_ms: int | None


class SlowModeChanged(ServerEvent):
    type: Literal["slow_mode"] = "slow_mode"
    seconds: int


SERVER_EVENT_TYPES: tuple[str, ...] = (
    "chat_posted",
    "chat_deleted",
    "question_updated",
    "explain_started",
    "explain_stopped",
    "product_pinned",
    "drop_opened",
    "show_state",
    "slow_mode",
    "user_restricted",
)
DIRECT_MESSAGE_TYPES: tuple[str, ...] = (
    "snapshot",
    "pong",
    "error",
    "resync",
    "tick",
    "notice",
    "welcome",
    "buy_result",
)
