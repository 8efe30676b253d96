"""Property tests (issue 2, acceptance 2): the parsers raise nothing but ProtocolError on any
input, and model → wire → model is the identity."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_desktop.protocol import (
    CLIENT_EVENT_TYPES,
    SERVER_EVENT_TYPES,
    ProtocolError,
    UnknownClientEvent,
    UnknownServerEvent,
    parse_client_event,
    parse_server_event,
)

from .strategies import JSON, RESERVED_TAGS, for_model

PARSERS = [parse_server_event, parse_client_event]
DIALECTS = ["ga", "beta"]
BETA_NAMES = frozenset(
    {
        "response.text.delta", "response.text.done", "response.audio.delta",
        "response.audio.done", "response.audio_transcript.delta",
        "response.audio_transcript.done", "transcription_session.updated",
        "transcription_session.created", "transcription_session.update",
    }
)  # fmt: skip
ALL_TAGS = RESERVED_TAGS | set(SERVER_EVENT_TYPES) | set(CLIENT_EVENT_TYPES) | BETA_NAMES


def _parses_or_refuses(parse: Any, raw: Any, dialect: str) -> None:
    try:
        event = parse(raw, dialect)
    except ProtocolError:
        return
    # Whatever parsed can be written back in both dialects.
    for out in DIALECTS:
        json.dumps(event.to_wire(out))


@pytest.mark.parametrize("parse", PARSERS)
@pytest.mark.parametrize("dialect", DIALECTS)
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes(parse: Any, dialect: str, raw: bytes) -> None:
    _parses_or_refuses(parse, raw, dialect)


@pytest.mark.parametrize("parse", PARSERS)
@pytest.mark.parametrize("dialect", DIALECTS)
@given(value=JSON)
def test_arbitrary_json(parse: Any, dialect: str, value: Any) -> None:
    _parses_or_refuses(parse, json.dumps(value), dialect)


EVENT_TYPES = sorted(SERVER_EVENT_TYPES) + sorted(CLIENT_EVENT_TYPES)


@pytest.mark.parametrize("parse", PARSERS)
@pytest.mark.parametrize("dialect", DIALECTS)
@given(
    event_type=st.sampled_from(EVENT_TYPES + sorted(BETA_NAMES)),
    body=st.dictionaries(
        st.sampled_from(["item", "session", "response", "delta", "item_id", "part", "error"])
        | st.text(max_size=6),
        JSON,
        max_size=5,
    ),
)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_known_types_with_arbitrary_bodies(
    parse: Any, dialect: str, event_type: str, body: dict[str, Any]
) -> None:
    _parses_or_refuses(parse, {**body, "type": event_type}, dialect)


@given(st.data())
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_server_event_model_wire_model_identity(data: st.DataObject) -> None:
    model = data.draw(st.sampled_from([*SERVER_EVENT_TYPES.values(), UnknownServerEvent]))
    payload = data.draw(for_model(model, reserved=ALL_TAGS))
    event = parse_server_event(payload)
    assert type(event) is model
    wire = event.to_wire()
    assert wire == payload  # lossless: unknown fields and explicit nulls survive
    assert parse_server_event(json.dumps(wire)) == event


@given(st.data())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_client_event_model_wire_model_identity(data: st.DataObject) -> None:
    model = data.draw(st.sampled_from([*CLIENT_EVENT_TYPES.values(), UnknownClientEvent]))
    payload = data.draw(for_model(model, reserved=ALL_TAGS))
    event = parse_client_event(payload)
    assert type(event) is model
    wire = event.to_wire()
    assert wire == payload
    assert parse_client_event(json.dumps(wire)) == event
