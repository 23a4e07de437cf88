"""The show state machine and the schedule rules, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livecart.features.shows.rules import (
    MAX_SCHEDULE_AHEAD,
    SCHEDULE_GRACE,
    ShowAction,
    ShowRuleError,
    ShowState,
    check_editable,
    check_lineup,
    check_planned_start,
    next_state,
)

S, A = ShowState, ShowAction
ALLOWED = {
    (S.SCHEDULED, A.GO_LIVE): S.LIVE,
    (S.LIVE, A.END): S.ENDED,
    (S.SCHEDULED, A.CANCEL): S.CANCELLED,
}
TERMINAL = {S.ENDED, S.CANCELLED}


@given(st.lists(st.sampled_from(list(ShowAction)), max_size=25))
def test_random_action_sequences_follow_the_state_machine(actions: list[ShowAction]) -> None:
    state = S.SCHEDULED
    history = [state]
    for action in actions:
        try:
            new = next_state(state, action)
        except ShowRuleError as exc:
            assert exc.code == "invalid_transition"
            assert (state, action) not in ALLOWED
            continue
        assert ALLOWED[(state, action)] == new
        assert state not in TERMINAL
        state = new
        history.append(state)
    # the states visited are a prefix of one of the two lives a show can have
    assert history in (
        [S.SCHEDULED],
        [S.SCHEDULED, S.LIVE],
        [S.SCHEDULED, S.LIVE, S.ENDED],
        [S.SCHEDULED, S.CANCELLED],
    )


@pytest.mark.parametrize("state", sorted(TERMINAL))
@pytest.mark.parametrize("action", list(ShowAction))
def test_terminal_states_stay_terminal(state: ShowState, action: ShowAction) -> None:
    with pytest.raises(ShowRuleError) as info:
        next_state(state, action)
    assert info.value.code == "invalid_transition"


@pytest.mark.parametrize("state", list(ShowState))
@pytest.mark.parametrize("action", list(ShowAction))
def test_every_pair(state: ShowState, action: ShowAction) -> None:
    if (state, action) in ALLOWED:
        assert next_state(state, action) is ALLOWED[(state, action)]
    else:
        with pytest.raises(ShowRuleError):
            next_state(state, action)


def test_editable_states() -> None:
    check_editable(S.SCHEDULED)
    check_editable(S.LIVE)
    for state in TERMINAL:
        with pytest.raises(ShowRuleError) as info:
            check_editable(state)
        assert info.value.code == "show_not_editable"


NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


@given(st.timedeltas(min_value=-timedelta(days=800), max_value=timedelta(days=800)))
def test_planned_start_window(offset: timedelta) -> None:
    planned = NOW + offset
    try:
        check_planned_start(planned, now=NOW)
    except ShowRuleError as exc:
        if offset < -SCHEDULE_GRACE:
            assert exc.code == "planned_start_in_past"
        else:
            assert offset > MAX_SCHEDULE_AHEAD
            assert exc.code == "planned_start_too_far"
    else:
        assert -SCHEDULE_GRACE <= offset <= MAX_SCHEDULE_AHEAD


@given(st.lists(st.integers(1, 30), max_size=12), st.integers(1, 10))
def test_lineup_rule(ids: list[int], max_items: int) -> None:
    try:
        check_lineup(ids, max_items=max_items)
    except ShowRuleError as exc:
        assert exc.code in {"duplicate_product", "lineup_too_long"}
        assert len(set(ids)) != len(ids) or len(ids) > max_items
    else:
        assert len(set(ids)) == len(ids) <= max_items
