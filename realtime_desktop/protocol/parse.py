"""The stable parse entry points (../shared/DESIGN.md): ``parse_server_event`` and
``parse_client_event``.

Both take ``str``, ``bytes`` or an already-decoded ``dict``, translate the dialect to GA, and return
a typed event. Unknown event types become ``UnknownServerEvent`` / ``UnknownClientEvent`` holding
the whole object; anything that is not a valid event raises :class:`ProtocolError` and nothing
else.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar, get_args

from pydantic import ValidationError

from . import client_events, dialects, server_events
from .base import WIRE_CONTEXT, Dialect, ProtocolError
from .client_events import ClientEvent, UnknownClientEvent
from .server_events import ServerEvent, UnknownServerEvent

Raw = str | bytes | bytearray | Mapping[str, Any]
EventT = TypeVar("EventT", ServerEvent, ClientEvent)


def _registry(module: object, base: type[EventT]) -> dict[str, type[EventT]]:
    registry: dict[str, type[EventT]] = {}
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, base) and "type" in value.model_fields:
            literal = get_args(value.model_fields["type"].annotation)
            if len(literal) == 1 and isinstance(literal[0], str):
                registry[literal[0]] = value
    return registry


SERVER_EVENT_TYPES: dict[str, type[ServerEvent]] = _registry(server_events, ServerEvent)
"""GA event ``type`` → model class, for every server event this package models."""
CLIENT_EVENT_TYPES: dict[str, type[ClientEvent]] = _registry(client_events, ClientEvent)
"""GA event ``type`` → model class, for every client event this package models."""


def _reject_constant(name: str) -> NoReturn:
    # json accepts NaN/Infinity, which are not JSON and could not be written back.
    raise ProtocolError(f"invalid JSON: {name} is not a JSON value")


def _decode(raw: Raw, side: str) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        data = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        # JSONDecodeError and UnicodeDecodeError are ValueErrors; deep nesting recurses.
        if isinstance(exc, ProtocolError):
            raise
        raise ProtocolError(f"{side} event is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"{side} event must be a JSON object, not {type(data).__name__}")
    return data


def _parse(
    raw: Raw,
    dialect: str,
    *,
    side: str,
    to_ga: Callable[[dict[str, Any], Dialect], dict[str, Any]],
    registry: Mapping[str, type[EventT]],
    unknown: type[EventT],
) -> EventT:
    checked = dialects.check_dialect(dialect)
    data = _decode(raw, side)
    if not isinstance(data.get("type"), str):
        raise ProtocolError(f"{side} event has no 'type' string", field="type", missing=True)
    data = to_ga(data, checked)
    event_type: str = data["type"]
    model = registry.get(event_type, unknown)
    try:
        return model.model_validate(data, context=WIRE_CONTEXT)
    except ValidationError as exc:
        raise ProtocolError.from_validation(event_type, exc, data) from None
    except RecursionError:
        raise ProtocolError(f"{event_type}: nested too deeply", event_type=event_type) from None


def parse_server_event(raw: Raw, dialect: str = "ga") -> ServerEvent:
    """A server → client event from its wire form in ``dialect`` (``"ga"`` or ``"beta"``)."""
    return _parse(
        raw,
        dialect,
        side="server",
        to_ga=dialects.server_event_to_ga,
        registry=SERVER_EVENT_TYPES,
        unknown=UnknownServerEvent,
    )


def parse_client_event(raw: Raw, dialect: str = "ga") -> ClientEvent:
    """A client → server event from its wire form in ``dialect`` (``"ga"`` or ``"beta"``)."""
    return _parse(
        raw,
        dialect,
        side="client",
        to_ga=dialects.client_event_to_ga,
        registry=CLIENT_EVENT_TYPES,
        unknown=UnknownClientEvent,
    )
