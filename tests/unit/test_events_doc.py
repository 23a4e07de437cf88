"""docs/events.md lists every room message, and the type lists match the models."""

from __future__ import annotations

import re
import typing
from pathlib import Path

from livecart.realtime import events as ev

DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def _literal_types(model: type) -> set[str]:
    annotation = typing.get_type_hints(model)["type"]
    return set(typing.get_args(annotation))


def test_every_message_type_is_documented() -> None:
    documented = set(re.findall(r"`([a-z_]+)`", DOC.read_text()))
    everything = (
        set(ev.CLIENT_MESSAGE_TYPES) | set(ev.SERVER_EVENT_TYPES) | set(ev.DIRECT_MESSAGE_TYPES)
    )
    assert everything - documented == set()


def test_client_type_list_matches_the_models() -> None:
    union = typing.get_args(typing.get_args(ev.AnyClientMessage)[0])
    types: set[str] = set()
    for model in union:
        types |= _literal_types(model)
    assert types == set(ev.CLIENT_MESSAGE_TYPES)


def test_server_event_list_matches_the_models() -> None:
    models = [
        m
        for m in vars(ev).values()
        if isinstance(m, type) and issubclass(m, ev.ServerEvent) and m is not ev.ServerEvent
    ]
    types: set[str] = set()
    for model in models:
        types |= _literal_types(model)
    assert types == set(ev.SERVER_EVENT_TYPES)
