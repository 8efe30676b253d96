"""Hypothesis strategies for wire payloads, derived from this package's own models.

Each payload is what a peer could send for one of our models: required fields always, optional
ones sometimes (a value or an explicit null), plus unknown fields with arbitrary JSON values.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

import pydantic
from hypothesis import strategies as st

from realtime_desktop.protocol import WireModel

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)

# Tags the discriminated unions resolve; an "unknown" member must not wear one of them.
RESERVED_TAGS = frozenset(
    {
        "message", "function_call", "function_call_output", "mcp_list_tools", "mcp_call",
        "mcp_approval_request", "mcp_approval_response", "item_reference",
        "function", "mcp", "realtime", "transcription",
    }
)  # fmt: skip


def _unknown_tag(reserved: frozenset[str]) -> st.SearchStrategy[str]:
    return st.text(min_size=1, max_size=12).filter(lambda t: t not in reserved)


def for_annotation(annotation: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return for_annotation(get_args(annotation)[0], depth)
    if origin in (Union, types.UnionType):
        return st.one_of([for_annotation(a, depth) for a in get_args(annotation)])
    if origin is Literal:
        return st.sampled_from(get_args(annotation))
    if origin is list:
        return st.lists(for_annotation(get_args(annotation)[0], depth + 1), max_size=2)
    if origin is dict:
        return st.dictionaries(
            st.text(max_size=8), for_annotation(get_args(annotation)[1], depth + 1), max_size=2
        )
    if isinstance(annotation, type) and issubclass(annotation, WireModel):
        return for_model(annotation, depth + 1)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        str: st.text(max_size=20),
        int: st.integers(min_value=-(2**31), max_value=2**31),
        float: st.floats(allow_nan=False, allow_infinity=False, width=32),
        bool: st.booleans(),
        type(None): st.none(),
        Any: JSON,
    }
    return simple[annotation]


def for_model(
    model: type[pydantic.BaseModel], depth: int = 0, *, reserved: frozenset[str] = RESERVED_TAGS
) -> st.SearchStrategy[dict[str, Any]]:
    fields = model.model_fields
    required: dict[str, st.SearchStrategy[Any]] = {}
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in fields.items():
        if name == "type" and isinstance(info.default, str):
            required[name] = st.just(info.default)  # a model's own tag is always on the wire
            continue
        # The type of an Unknown* model: anything but a tag some other model owns.
        value = _unknown_tag(reserved) if name == "type" else for_annotation(info.annotation, depth)
        if info.is_required():
            required[name] = value
        elif depth < 4:
            optional[name] = value
    extras = st.dictionaries(
        st.text(min_size=1, max_size=10).filter(lambda k: k not in fields), JSON, max_size=2
    )
    return st.builds(
        lambda req, opt, extra: {**extra, **req, **opt},
        st.fixed_dictionaries(required),
        st.fixed_dictionaries({}, optional=optional),
        extras,
    )
