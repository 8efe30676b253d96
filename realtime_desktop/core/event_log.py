"""The raw protocol log behind the event inspector: every client and server event, bounded.

A response streams dozens of audio deltas a second, so events of one type and direction collapse
into one row with a count (the Realtime console's trick, PEERS.md M7). Streaming events (deltas,
microphone appends) interleave — audio and transcript deltas alternate while the assistant talks,
appends go out meanwhile — so a streaming event joins its type's open run as long as only other
streaming events came after it; any other event closes the runs. Audio
payloads are elided before anything is stored (a 40 ms delta is 2.5 kB of base64 the inspector
never needs), and the oldest rows are dropped past a fixed count, so a long session cannot grow
the log without bound (PEERS.md pain point 11).

Plain Python, no Qt: the inspector's item model adapts the change notifications.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

DEFAULT_CAPACITY = 5_000
"""Rows kept; the oldest are dropped first."""

# Keys whose string values are audio or images: replaced by a note of their size.
_BULKY_KEYS = frozenset({"audio", "delta", "image_url"})
_BULKY_TYPES_WITH_DELTA = frozenset(
    {"response.output_audio.delta", "response.audio.delta", "input_audio_buffer.append"}
)
_ELIDE_ABOVE_CHARS = 200
# How far back a streaming event looks for its open run: streaming types that interleave are
# few (audio, transcript, text, arguments deltas and appends), so a run is never far back.
_STREAM_LOOKBACK = 8


def is_streaming(event_type: str) -> bool:
    return event_type.endswith(".delta") or event_type == "input_audio_buffer.append"


class Direction(StrEnum):
    SENT = "sent"
    RECEIVED = "received"


@dataclass
class EventRow:
    """One row of the log: an event, or a run of same-typed events collapsed into it."""

    serial: int
    """Increases by one per row ever added; stable while the row lives."""
    direction: Direction
    type: str
    first_at: float
    """Seconds since the log started, of the first event of the run."""
    last_at: float
    count: int
    payload: dict[str, Any]
    """The first event of the run, with audio and image payloads elided."""
    last_payload: dict[str, Any] = field(default_factory=dict)
    """The newest event of the run (elided), so the detail view can show both ends."""

    @property
    def event_id(self) -> str | None:
        value = self.payload.get("event_id")
        return value if isinstance(value, str) else None


class EventLogListener(Protocol):
    """Told before and after every structural change, so an item model can bracket it with
    ``begin…``/``end…`` while the log still has the old shape."""

    def rows_appending(self, first: int, last: int) -> None: ...

    def rows_appended(self, first: int, last: int) -> None: ...

    def row_changed(self, index: int) -> None: ...

    def rows_dropping(self, count: int) -> None:
        """The ``count`` oldest rows are about to go (indices will shift down by ``count``)."""

    def rows_dropped(self, count: int) -> None: ...

    def clearing(self) -> None: ...

    def cleared(self) -> None: ...


def elide_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of a wire event with audio/image data replaced by a size note, recursively."""
    return {key: _elide(key, value) for key, value in payload.items()}


def _elide(key: str, value: Any) -> Any:
    if isinstance(value, str):
        if key in _BULKY_KEYS and len(value) > _ELIDE_ABOVE_CHARS:
            return f"<{len(value)} base64 chars elided>"
        return value
    if isinstance(value, dict):
        return elide_payload(value)
    if isinstance(value, list):
        return [_elide(key, item) for item in value]
    return value


class EventLog:
    """Bounded, run-collapsing record of the protocol conversation."""

    def __init__(
        self, capacity: int = DEFAULT_CAPACITY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._clock = clock
        self._origin = clock()
        self._rows: deque[EventRow] = deque()
        self._serial = 0
        self._listeners: list[EventLogListener] = []

    @property
    def capacity(self) -> int:
        return self._capacity

    def add_listener(self, listener: EventLogListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: EventLogListener) -> None:
        self._listeners.remove(listener)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> EventRow:
        return self._rows[index]

    def __iter__(self) -> Iterator[EventRow]:
        return iter(self._rows)

    def record(self, direction: Direction, wire: dict[str, Any]) -> None:
        """Adds one event as it went over the wire (``event.to_wire(dialect)``)."""
        now = self._clock() - self._origin
        event_type = str(wire.get("type", "?"))
        index = self._open_run(direction, event_type)
        if index is not None:
            row = self._rows[index]
            row.count += 1
            row.last_at = now
            row.last_payload = self._light_copy(event_type, wire)
            for listener in self._listeners:
                listener.row_changed(index)
            return
        if len(self._rows) == self._capacity:
            for listener in self._listeners:
                listener.rows_dropping(1)
            self._rows.popleft()
            for listener in self._listeners:
                listener.rows_dropped(1)
        self._serial += 1
        payload = self._light_copy(event_type, wire)
        index = len(self._rows)
        for listener in self._listeners:
            listener.rows_appending(index, index)
        self._rows.append(
            EventRow(self._serial, direction, event_type, now, now, 1, payload, payload)
        )
        for listener in self._listeners:
            listener.rows_appended(index, index)

    def _open_run(self, direction: Direction, event_type: str) -> int | None:
        """The row this event joins: the last row if it has the same type and direction, or,
        for a streaming event, the latest row of its type with only streaming rows after it."""
        streaming = is_streaming(event_type)
        last = len(self._rows) - 1
        for index in range(last, max(-1, last - _STREAM_LOOKBACK), -1):
            row = self._rows[index]
            if row.type == event_type and row.direction is direction:
                return index
            if not streaming or not is_streaming(row.type):
                return None
        return None

    @staticmethod
    def _light_copy(event_type: str, wire: dict[str, Any]) -> dict[str, Any]:
        if event_type in _BULKY_TYPES_WITH_DELTA or any(
            isinstance(v, dict | list) or (isinstance(v, str) and len(v) > _ELIDE_ABOVE_CHARS)
            for v in wire.values()
        ):
            return elide_payload(wire)
        return dict(wire)

    def clear(self) -> None:
        for listener in self._listeners:
            listener.clearing()
        self._rows.clear()
        for listener in self._listeners:
            listener.cleared()

    def matching(self, text: str) -> Iterator[tuple[int, EventRow]]:
        """Rows whose type or event_id contains ``text`` (case-insensitive)."""
        needle = text.lower()
        for index, row in enumerate(self._rows):
            if needle in row.type.lower() or needle in (row.event_id or "").lower():
                yield index, row

    def export_jsonl(self, path: Path) -> int:
        """Writes one JSON object per row; returns the number of rows written."""
        lines = [
            json.dumps(
                {
                    "t": round(row.first_at, 6),
                    "direction": row.direction.value,
                    "type": row.type,
                    "count": row.count,
                    "event": row.payload,
                    **({"last_event": row.last_payload} if row.count > 1 else {}),
                },
                ensure_ascii=False,
            )
            for row in self._rows
        ]
        tmp = path.with_name(path.name + ".part")
        tmp.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
        tmp.replace(path)
        return len(lines)
