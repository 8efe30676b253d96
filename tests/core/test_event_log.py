"""The inspector's event log: collapsing runs, eliding audio, bounded memory, export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from realtime_desktop.core.event_log import Direction, EventLog


class RecordingListener:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def rows_appending(self, first: int, last: int) -> None:
        self.calls.append(("appending", (first, last)))

    def rows_appended(self, first: int, last: int) -> None:
        self.calls.append(("appended", (first, last)))

    def row_changed(self, index: int) -> None:
        self.calls.append(("changed", index))

    def rows_dropping(self, count: int) -> None:
        self.calls.append(("dropping", count))

    def rows_dropped(self, count: int) -> None:
        self.calls.append(("dropped", count))

    def clearing(self) -> None:
        self.calls.append(("clearing", None))

    def cleared(self) -> None:
        self.calls.append(("cleared", None))


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _delta(n: int) -> dict[str, Any]:
    return {"type": "response.output_audio.delta", "event_id": f"e{n}", "delta": "A" * 2560}


def test_runs_of_one_type_collapse_into_one_row() -> None:
    clock = FakeClock()
    log = EventLog(clock=clock)
    listener = RecordingListener()
    log.add_listener(listener)
    log.record(Direction.RECEIVED, {"type": "response.created", "event_id": "e0"})
    for n in range(1, 51):
        clock.now += 0.04
        log.record(Direction.RECEIVED, _delta(n))
    log.record(Direction.SENT, {"type": "response.cancel", "event_id": "c1"})
    assert [(row.type, row.count) for row in log] == [
        ("response.created", 1),
        ("response.output_audio.delta", 50),
        ("response.cancel", 1),
    ]
    delta_row = log[1]
    assert abs(delta_row.first_at - 0.04) < 1e-9
    assert abs(delta_row.last_at - 2.0) < 1e-9
    assert delta_row.payload["event_id"] == "e1"
    assert delta_row.last_payload["event_id"] == "e50"
    assert listener.calls[:5] == [
        ("appending", (0, 0)),
        ("appended", (0, 0)),
        ("appending", (1, 1)),
        ("appended", (1, 1)),
        ("changed", 1),
    ]
    assert listener.calls.count(("changed", 1)) == 49


def test_the_same_type_in_the_other_direction_is_a_new_row() -> None:
    log = EventLog()
    log.record(Direction.SENT, {"type": "session.update"})
    log.record(Direction.RECEIVED, {"type": "session.update"})
    assert len(log) == 2


def test_audio_and_images_are_elided_but_short_text_is_kept() -> None:
    log = EventLog()
    log.record(Direction.RECEIVED, _delta(1))
    log.record(
        Direction.SENT,
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "content": [
                    {"type": "input_image", "image_url": "data:image/png;base64," + "B" * 5000},
                    {"type": "input_text", "text": "what is this?"},
                ],
            },
        },
    )
    assert log[0].payload["delta"] == "<2560 base64 chars elided>"
    content = log[1].payload["item"]["content"]
    assert content[0]["image_url"].endswith("chars elided>")
    assert content[1]["text"] == "what is this?"


def test_memory_is_bounded_oldest_dropped_first() -> None:
    log = EventLog(capacity=10)
    listener = RecordingListener()
    log.add_listener(listener)
    for n in range(25):
        log.record(Direction.RECEIVED, {"type": f"t{n}"})
    assert len(log) == 10
    assert [row.type for row in log] == [f"t{n}" for n in range(15, 25)]
    assert [row.serial for row in log] == list(range(16, 26))
    assert listener.calls.count(("dropped", 1)) == 15
    first_drop = listener.calls.index(("dropping", 1))
    assert listener.calls[first_drop : first_drop + 4] == [
        ("dropping", 1),
        ("dropped", 1),
        ("appending", (9, 9)),
        ("appended", (9, 9)),
    ]


def test_filter_matches_type_and_event_id() -> None:
    log = EventLog()
    log.record(Direction.RECEIVED, {"type": "error", "event_id": "event_9"})
    log.record(Direction.SENT, {"type": "response.create", "event_id": "cli_42"})
    assert [i for i, _ in log.matching("ERR")] == [0]
    assert [i for i, _ in log.matching("cli_4")] == [1]


def test_export_jsonl(tmp_path: Path) -> None:
    log = EventLog()
    log.record(Direction.RECEIVED, _delta(1))
    log.record(Direction.RECEIVED, _delta(2))
    log.record(Direction.SENT, {"type": "response.cancel"})
    target = tmp_path / "events.jsonl"
    assert log.export_jsonl(target) == 2
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert lines[0]["count"] == 2
    assert lines[0]["last_event"]["event_id"] == "e2"
    assert lines[1] == {
        "t": lines[1]["t"],
        "direction": "sent",
        "type": "response.cancel",
        "count": 1,
        "event": {"type": "response.cancel"},
    }
    assert not list(tmp_path.glob("*.part"))


def test_interleaved_streaming_events_stay_in_their_runs() -> None:
    log = EventLog()
    log.record(Direction.RECEIVED, {"type": "response.created"})
    for n in range(20):
        log.record(Direction.RECEIVED, _delta(n))
        log.record(Direction.RECEIVED, {"type": "response.output_audio_transcript.delta"})
        log.record(Direction.SENT, {"type": "input_audio_buffer.append", "audio": "A" * 900})
    log.record(Direction.RECEIVED, {"type": "response.output_audio.done"})
    log.record(Direction.RECEIVED, _delta(99))  # a new response's audio: a new run
    assert [(row.type, row.count) for row in log] == [
        ("response.created", 1),
        ("response.output_audio.delta", 20),
        ("response.output_audio_transcript.delta", 20),
        ("input_audio_buffer.append", 20),
        ("response.output_audio.done", 1),
        ("response.output_audio.delta", 1),
    ]


def test_non_streaming_events_collapse_only_when_consecutive() -> None:
    log = EventLog()
    for event_type in ("error", "response.output_audio.delta", "error", "error"):
        log.record(Direction.RECEIVED, {"type": event_type})
    assert [(row.type, row.count) for row in log] == [
        ("error", 1),
        ("response.output_audio.delta", 1),
        ("error", 2),
    ]
