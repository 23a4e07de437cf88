"""Pure moderation and room rules, tested without I/O."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

_SPACES = re.compile(r"\s+")
# Zero-width and formatting characters people insert to slip a word past a filter.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))


class ChatVerdict(StrEnum):
    OK = "ok"
    SHADOW = "shadow"  # accepted, shown to its author only


class ChatRefusal(ValueError):
    def __init__(self, code: str, message: str, *, retry_after_ms: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after_ms = retry_after_ms


@dataclass(frozen=True, slots=True)
class Standing:
    """A viewer's restriction in one show, if any."""

    kind: str | None = None  # mute | ban | shadow
    until: datetime | None = None

    def active(self, now: datetime) -> str | None:
        if self.kind is None or (self.until is not None and self.until <= now):
            return None
        return self.kind


def normalise_text(text: str) -> str:
    """What is stored: no invisible characters, single spaces, nothing else changed."""
    return _SPACES.sub(" ", text.translate(_INVISIBLE)).strip()


def _fold(text: str) -> str:
    """For matching only: NFKC (full-width letters become ASCII), case-folded, no spaces."""
    return unicodedata.normalize("NFKC", normalise_text(text)).casefold().replace(" ", "")


def matching_word(text: str, blocked: Iterable[str]) -> str | None:
    folded = _fold(text)
    for word in blocked:
        needle = _fold(word)
        if needle and needle in folded:
            return word
    return None


def judge_chat(
    text: str,
    *,
    standing: Standing,
    blocked: Iterable[str],
    slow_mode_secs: int,
    last_post_at: datetime | None,
    now: datetime,
    privileged: bool,
    show_state: str,
) -> tuple[ChatVerdict, str]:
    """Decide whether a chat line may be posted; returns the verdict and the text to store.
    Raises ChatRefusal with a stable code otherwise. Hosts and moderators (`privileged`) skip the
    slow mode and the blocked words, never the show's state."""
    if show_state in ("ended", "cancelled"):
        raise ChatRefusal("show_over", "This show is over; chat is closed.")
    clean = normalise_text(text)
    if not clean:
        raise ChatRefusal("chat_empty", "Say something first.")
    if privileged:
        return ChatVerdict.OK, clean
    kind = standing.active(now)
    if kind == "ban":
        raise ChatRefusal("banned", "You can no longer post in this show.")
    if kind == "mute":
        wait = int((standing.until - now).total_seconds() * 1000) if standing.until else None
        raise ChatRefusal("muted", "You are muted for now.", retry_after_ms=wait)
    if slow_mode_secs and last_post_at is not None:
        ready = last_post_at + timedelta(seconds=slow_mode_secs)
        if ready > now:
            wait = int((ready - now).total_seconds() * 1000) + 1
            raise ChatRefusal(
                "slow_mode", f"Slow mode: one message every {slow_mode_secs}s.", retry_after_ms=wait
            )
    if matching_word(clean, blocked) is not None:
        raise ChatRefusal("blocked_word", "This message contains a word that is not allowed.")
    return (ChatVerdict.SHADOW if kind == "shadow" else ChatVerdict.OK), clean


QUESTION_TRANSITIONS: dict[tuple[str, str], str] = {
    ("open", "claim"): "claimed",
    ("claimed", "release"): "open",
    ("open", "answer"): "answered",
    ("claimed", "answer"): "answered",
}


def next_question_state(state: str, action: str, *, claimed_by: int | None, actor_id: int) -> str:
    """The question's next state. A claimed question is answered or released only by whoever
    claimed it, so two moderators never answer one question twice."""
    if state == "claimed" and action in ("answer", "release", "claim") and claimed_by != actor_id:
        raise ChatRefusal("question_claimed", "Someone else is answering this question.")
    try:
        return QUESTION_TRANSITIONS[(state, action)]
    except KeyError:
        raise ChatRefusal(
            "invalid_question_action", f"A question that is {state} cannot be {action}ed."
        ) from None
