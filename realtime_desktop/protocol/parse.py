"""The stable parse entry points (../shared/DESIGN.md): ``parse_server_event`` and
``parse_client_event``.

Both take ``str``, ``bytes`` or an already-decoded ``dict``, translate the dialect to GA, and return
a typed event. Unknown event types become ``UnknownServerEvent`` / ``UnknownClientEvent`` holding
the whole object; anything that is not a valid event raises :class:`ProtocolError` and nothing
else.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Annotated, Any, NoReturn, TypeVar, Union, get_args

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

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


def _one_pass_adapter(registry: Mapping[str, type[Any]]) -> TypeAdapter[Any]:
    """JSON text → typed event inside pydantic-core, dispatching on ``type`` without a Python
    dict in between: the common GA case, about four times faster than ``json.loads`` + dispatch
    for an audio delta (``realtime-desktop-bench protocol``)."""
    members = tuple(registry.values())
    # Built at run time from the registry, so typed as Any: mypy cannot see a dynamic Union.
    event_union: Any = Annotated[Union[members], Field(discriminator="type")]  # noqa: UP007
    # Built on first use, not at import: start-up is the app's slowest path to a window.
    return TypeAdapter(event_union, config=ConfigDict(defer_build=True))


_SERVER_ONE_PASS = _one_pass_adapter(SERVER_EVENT_TYPES)
_CLIENT_ONE_PASS = _one_pass_adapter(CLIENT_EVENT_TYPES)
# Errors that only mean "not a plain GA event of a known type": take the general path, which
# handles unknown and beta-spelled types and words JSON errors itself.
_NOT_ONE_PASS = frozenset({"union_tag_invalid", "union_tag_not_found", "json_invalid", "json_type"})


def _reject_constant(name: str) -> NoReturn:
    # json accepts NaN/Infinity, which are not JSON and could not be written back.
    raise ProtocolError(f"invalid JSON: {name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ProtocolError(f"invalid JSON: {text} is out of range for a number")
    return value


def _decode(raw: Raw, side: str) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        data = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
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
    one_pass: TypeAdapter[Any],
) -> EventT:
    checked = dialects.check_dialect(dialect)
    if checked == "ga" and isinstance(raw, str | bytes | bytearray):
        try:
            event: EventT = one_pass.validate_json(raw, context=WIRE_CONTEXT)
        except ValidationError as exc:
            if exc.errors(include_url=False)[0]["type"] not in _NOT_ONE_PASS:
                data = _decode(raw, side)
                raise ProtocolError.from_validation(str(data.get("type")), exc, data) from None
        else:
            return event
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
        one_pass=_SERVER_ONE_PASS,
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
        one_pass=_CLIENT_ONE_PASS,
    )
