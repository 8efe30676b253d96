"""Wire payloads generated from the official SDK's own pydantic models.

Nothing here is hand-written per event: the generator walks each SDK model's field annotations,
so a new SDK release (a new event, a new field, a new union member) extends the conformance tests
by itself. Three shapes per model:

* ``required`` — only the fields the SDK requires;
* ``full`` — every optional field set to a value;
* ``nulls`` — required fields plus every optional field explicitly ``null``.

Every union and every ``Literal`` in a model is expanded: one payload per member (or value) at each
site, the other sites taking their first, so each alternative (a transcription session, an MCP
tool, a custom voice, a G.711 format, …) appears in at least one payload.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

import pydantic

Mode = Literal["required", "full", "nulls"]
MODES: tuple[Mode, ...] = ("required", "full", "nulls")


@dataclass
class _Choices:
    """Which member to take at each union site; records the sites it meets."""

    overrides: dict[str, int] = field(default_factory=dict)
    sites: dict[str, int] = field(default_factory=dict)

    def pick(self, site: str, members: int) -> int:
        self.sites[site] = members
        return self.overrides.get(site, 0)


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _value(annotation: Any, mode: Mode, site: str, choices: _Choices) -> Any:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _value(get_args(annotation)[0], mode, site, choices)
    if _is_union(annotation):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if not members:
            return None
        index = choices.pick(site, len(members))
        return _value(members[index], mode, f"{site}|{index}", choices)
    if origin is Literal:
        values = get_args(annotation)
        return values[choices.pick(site, len(values))]
    if origin in (list, typing.List):  # noqa: UP006 - the SDK annotates with typing.List
        return [_value(get_args(annotation)[0], mode, site + "[]", choices)]
    if origin in (dict, typing.Dict):  # noqa: UP006
        return {"key": _value(get_args(annotation)[1], mode, site + "{}", choices)}
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return _model_payload(annotation, mode, site, choices)
    if annotation is str:
        return "s"
    if annotation is bool:
        return True
    if annotation is int:
        return 1
    if annotation is float:
        return 0.5
    if annotation in (object, Any):
        return {"any": [1, "two"]}
    if annotation is type(None):
        return None
    raise TypeError(f"no generator for {annotation!r} at {site}")


def _model_payload(
    model: type[pydantic.BaseModel], mode: Mode, site: str, choices: _Choices
) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        where = f"{site}.{key}"
        if info.is_required() or mode == "full":
            payload[key] = _value(info.annotation, mode, where, choices)
        elif mode == "nulls":
            payload[key] = None
    return payload


def payloads(model: type[pydantic.BaseModel], mode: Mode) -> Iterator[dict[str, Any]]:
    """Every union-expanded payload of ``model`` in ``mode``."""
    known: set[str] = set()
    pending: list[dict[str, int]] = [{}]
    while pending:
        overrides = pending.pop(0)
        choices = _Choices(overrides=overrides)
        yield _model_payload(model, mode, model.__name__, choices)
        # Site names carry the member chosen above them, so the unions nested inside a member
        # are new sites, met only once that member is chosen.
        for site, members in choices.sites.items():
            if site not in known:
                known.add(site)
                pending.extend({**overrides, site: k} for k in range(1, members))


def union_members(union: Any) -> list[type[pydantic.BaseModel]]:
    """The event classes of an SDK event union (``RealtimeServerEvent`` etc.)."""
    if get_origin(union) is typing.Annotated:
        union = get_args(union)[0]
    return list(get_args(union))


def wire_type(model: type[pydantic.BaseModel]) -> str:
    literal = model.model_fields["type"].annotation
    (value,) = get_args(literal)
    return str(value)
