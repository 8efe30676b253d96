"""The base of every wire model: lenient parsing and lossless round trips.

Three rules hold for every model in this package (../shared/DESIGN.md "One data model, two wire
dialects"):

* Unknown fields are kept (``extra="allow"``) and written back, so a newer server never loses data
  passing through us and a proxy built on these models forwards what it does not understand.
* A field that was absent on the wire is absent when written back, and an explicit ``null`` stays
  ``null``. Optional wire fields therefore default to ``None`` and are written only when set.
  ``turn_detection: null`` (manual turns) and "not sent" (leave unchanged) mean different things in
  a ``session.update``, which is why this matters.
* A field with a real default (``type`` discriminators, server ``event_id`` s) is written whenever
  the model was built in code, so ``ServerVad()`` serialises with its ``type``. Models parsed from
  the wire (``parse_*`` pass :data:`WIRE_CONTEXT`) keep exactly the keys they arrived with.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, model_validator

Dialect = Literal["ga", "beta"]
DIALECTS: tuple[Dialect, ...] = ("ga", "beta")

# Passed as pydantic validation context by the parse functions: "these keys came off the wire".
WIRE_CONTEXT: dict[str, bool] = {"from_wire": True}


class ProtocolError(ValueError):
    """Input that is not a valid Realtime event. The only exception the parsers raise.

    Attributes:
        event_type: the event's ``type`` when it could be read.
        field: dotted path of the offending field (``session.audio.input.format``), if any.
        missing: True when the field is required and absent (servers answer
            ``missing_required_parameter``), False when present but invalid.
    """

    def __init__(
        self,
        message: str,
        *,
        event_type: str | None = None,
        field: str | None = None,
        missing: bool = False,
    ) -> None:
        super().__init__(message)
        self.event_type = event_type
        self.field = field
        self.missing = missing

    @classmethod
    def from_validation(cls, event_type: str, exc: ValidationError, data: Any) -> ProtocolError:
        """Names the event type and the first offending field of ``data``, the input that
        failed, the way a user can act on."""
        first = exc.errors(include_url=False)[0]
        path = ".".join(_wire_path(first["loc"], data))
        missing = first["type"] == "missing"
        what = "is required" if missing else f"is invalid: {first['msg']}"
        where = f"field '{path}'" if path else "the event"
        return cls(
            f"{event_type}: {where} {what}", event_type=event_type, field=path, missing=missing
        )


def _wire_path(loc: tuple[int | str, ...], data: Any) -> list[str]:
    """The location of a validation error as keys of the input. Discriminated unions put their
    tag into pydantic's location; a part that is not a key of the object it would index (and is
    not the last part, which may name a missing field) is such a tag and is left out."""
    path: list[str] = []
    for position, part in enumerate(loc):
        is_last = position == len(loc) - 1
        in_dict = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if in_dict or in_list:
            data = data[part]
        elif not is_last:
            continue
        path.append(str(part))
    return path


def _all_finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_all_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_all_finite(v) for v in value)
    return True


class WireModel(BaseModel):
    """A JSON object of the Realtime protocol. See the module docstring for the rules."""

    # JSON has no NaN or infinity; a peer sending 1e999 must not smuggle one into a model that
    # could then not be written back as JSON.
    model_config = ConfigDict(
        extra="allow", allow_inf_nan=False, regex_engine="python-re", defer_build=True
    )

    # Fields with a non-None default (or a default factory): written whenever built in code.
    _written_defaults: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._written_defaults = frozenset(
            name
            for name, field in cls.model_fields.items()
            if not field.is_required()
            and (field.default_factory is not None or field.default is not None)
        )

    @model_validator(mode="after")
    def _count_defaults_as_written(self, info: ValidationInfo) -> Self:
        if self._written_defaults and info.context is not WIRE_CONTEXT:
            self.__pydantic_fields_set__.update(self._written_defaults)
        if self.__pydantic_extra__ and not _all_finite(self.__pydantic_extra__):
            raise ValueError("numbers must be finite (JSON has no NaN or infinity)")
        return self

    def wire_dict(self) -> dict[str, Any]:
        """The JSON-ready dict of exactly what this object says (unknown fields included)."""
        return self.model_dump(mode="json", exclude_unset=True)

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Self:
        """Parses one wire object of this kind; raises :class:`ProtocolError`."""
        try:
            return cls.model_validate(data, context=WIRE_CONTEXT)
        except ValidationError as exc:
            raise ProtocolError.from_validation(cls.__name__, exc, data) from None
