"""The show's state machine as pure rules: scheduled → live → ended, scheduled → cancelled."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

MAX_SCHEDULE_AHEAD = timedelta(days=366)
# A show may be scheduled a little in the past so a host can "start now" with a slow clock.
SCHEDULE_GRACE = timedelta(minutes=5)


class ShowState(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"


class ShowAction(StrEnum):
    GO_LIVE = "go_live"
    END = "end"
    CANCEL = "cancel"


TRANSITIONS: dict[tuple[ShowState, ShowAction], ShowState] = {
    (ShowState.SCHEDULED, ShowAction.GO_LIVE): ShowState.LIVE,
    (ShowState.LIVE, ShowAction.END): ShowState.ENDED,
    (ShowState.SCHEDULED, ShowAction.CANCEL): ShowState.CANCELLED,
}
EDITABLE = frozenset({ShowState.SCHEDULED, ShowState.LIVE})


class ShowRuleError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def next_state(current: ShowState, action: ShowAction) -> ShowState:
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        raise ShowRuleError(
            "invalid_transition", f"A {current.value} show cannot {action.value.replace('_', ' ')}."
        ) from None


def check_editable(state: ShowState) -> None:
    if state not in EDITABLE:
        raise ShowRuleError("show_not_editable", f"A {state.value} show can no longer be changed.")


def check_planned_start(planned: datetime, *, now: datetime) -> None:
    if planned < now - SCHEDULE_GRACE:
        raise ShowRuleError("planned_start_in_past", "The planned start is in the past.")
    if planned > now + MAX_SCHEDULE_AHEAD:
        raise ShowRuleError("planned_start_too_far", "Shows can be scheduled up to a year ahead.")


def check_lineup(product_ids: list[int], *, max_items: int) -> None:
    if len(set(product_ids)) != len(product_ids):
        raise ShowRuleError("duplicate_product", "A product appears twice in the lineup.")
    if len(product_ids) > max_items:
        raise ShowRuleError("lineup_too_long", f"A lineup has at most {max_items} products.")
