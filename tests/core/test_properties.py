"""Property tests: random valid and invalid event streams for the reducer and the sequencer
(issue 3, acceptance 5). No exception escapes; the invariants hold after every event."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_desktop.core import Conversation, ResponseSequencer, SequencerState
from realtime_desktop.core.conversation import ItemKind, ItemStatus, TranscriptionStatus
from realtime_desktop.protocol import (
    SERVER_EVENT_TYPES,
    ClientEvent,
    ConversationItemCreate,
    FunctionCallOutputItem,
    ProtocolError,
    ResponseCancel,
    ResponseCreate,
    parse_server_event,
)

from .test_conversation import ReplicaListener

# A small universe of ids, so random events keep colliding with each other's items.
ITEMS = st.sampled_from([f"item_{i}" for i in range(6)])
RESPONSES = st.sampled_from(["resp_1", "resp_2", "resp_3"])
CALLS = st.sampled_from(["call_1", "call_2", "call_3"])
TEXT = st.text(max_size=12)
STATUS = st.sampled_from([None, "completed", "incomplete", "in_progress"])
RESPONSE_STATUS = st.sampled_from(["completed", "cancelled", "failed", "incomplete"])
AUDIO = st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode())

JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None}


@st.composite
def parts(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                "input_text",
                "input_audio",
                "output_text",
                "output_audio",
                "text",
                "audio",
                "input_image",
            ]
        )
    )
    return _drop_none(
        {"type": kind, "text": draw(st.none() | TEXT), "transcript": draw(st.none() | TEXT)}
    )


@st.composite
def items(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(["message", "function_call", "function_call_output", "mcp_call", "widget"])
    )
    item: dict[str, Any] = {"type": kind, "id": draw(ITEMS)}
    if kind == "message":
        item["role"] = draw(st.sampled_from(["user", "assistant", "system"]))
        item["content"] = draw(st.lists(parts(), max_size=2))
    elif kind in ("function_call", "mcp_call"):
        item.update(call_id=draw(CALLS), name=draw(TEXT), arguments=draw(TEXT))
    elif kind == "function_call_output":
        item.update(call_id=draw(CALLS), output=draw(TEXT))
    status = draw(STATUS)
    if status is not None and kind != "mcp_call":
        item["status"] = status
    return item


@st.composite
def responses(draw: st.DrawFn, status: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": draw(RESPONSES), "status": status or draw(RESPONSE_STATUS)}
    if draw(st.booleans()):
        body["conversation_id"] = draw(st.sampled_from([None, "conv_1"]))
    if status is None:
        body["output"] = draw(st.lists(items(), max_size=2))
        if draw(st.booleans()):
            body["usage"] = {
                "input_tokens": draw(st.integers(0, 500)),
                "output_tokens": draw(st.integers(0, 500)),
            }
        if draw(st.booleans()):
            body["status_details"] = {
                "reason": draw(
                    st.sampled_from(["turn_detected", "client_cancelled", "max_output_tokens"])
                )
            }
    return body


def part_event(draw: st.DrawFn, kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "response_id": draw(RESPONSES),
        "item_id": draw(ITEMS),
        "output_index": draw(st.integers(0, 2)),
        "content_index": draw(st.integers(0, 1)),
        **fields,
    }


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                "item.added", "item.created", "item.done", "item.retrieved", "committed",
                "transcription.delta", "transcription.completed", "transcription.failed",
                "response.created", "response.done", "output_item.added", "output_item.done",
                "part.added", "part.done", "text.delta", "text.done", "transcript.delta",
                "transcript.done", "audio.delta", "args.delta", "args.done", "truncated",
                "deleted", "session.created", "error", "unknown", "speech_started",
            ]
        )
    )  # fmt: skip
    previous = draw(st.none() | ITEMS)
    if kind.startswith("item."):
        name = {
            "item.added": "conversation.item.added",
            "item.created": "conversation.item.created",
            "item.done": "conversation.item.done",
            "item.retrieved": "conversation.item.retrieved",
        }[kind]
        event = {"type": name, "item": draw(items())}
        if kind != "item.retrieved" and draw(st.booleans()):
            event["previous_item_id"] = previous
        return event
    if kind == "committed":
        return _drop_none(
            {
                "type": "input_audio_buffer.committed",
                "item_id": draw(ITEMS),
                "previous_item_id": previous,
            }
        )
    if kind.startswith("transcription."):
        base = {"item_id": draw(ITEMS), "content_index": 0}
        if kind == "transcription.delta":
            return {
                "type": "conversation.item.input_audio_transcription.delta",
                **base,
                "delta": draw(TEXT),
            }
        if kind == "transcription.completed":
            return {
                "type": "conversation.item.input_audio_transcription.completed",
                **base,
                "transcript": draw(TEXT),
            }
        return {
            "type": "conversation.item.input_audio_transcription.failed",
            **base,
            "error": {"message": draw(TEXT)},
        }
    if kind == "response.created":
        return {"type": "response.created", "response": draw(responses("in_progress"))}
    if kind == "response.done":
        return {"type": "response.done", "response": draw(responses())}
    if kind.startswith("output_item."):
        return {
            "type": f"response.{kind}",
            "response_id": draw(RESPONSES),
            "output_index": 0,
            "item": draw(items()),
        }
    if kind.startswith("part."):
        return part_event(draw, f"response.content_part.{kind[5:]}", part=draw(parts()))
    simple = {
        "text.delta": ("response.output_text.delta", "delta"),
        "text.done": ("response.output_text.done", "text"),
        "transcript.delta": ("response.output_audio_transcript.delta", "delta"),
        "transcript.done": ("response.output_audio_transcript.done", "transcript"),
    }
    if kind in simple:
        name, field = simple[kind]
        return part_event(draw, name, **{field: draw(TEXT)})
    if kind == "audio.delta":
        return part_event(draw, "response.output_audio.delta", delta=draw(AUDIO))
    if kind.startswith("args."):
        event = {
            "type": f"response.function_call_arguments.{kind[5:]}",
            "response_id": draw(RESPONSES),
            "item_id": draw(ITEMS),
            "output_index": 0,
            "call_id": draw(CALLS),
        }
        event["delta" if kind == "args.delta" else "arguments"] = draw(TEXT)
        return event
    if kind == "truncated":
        return {
            "type": "conversation.item.truncated",
            "item_id": draw(ITEMS),
            "content_index": 0,
            "audio_end_ms": draw(st.integers(0, 5000)),
        }
    if kind == "deleted":
        return {"type": "conversation.item.deleted", "item_id": draw(ITEMS)}
    if kind == "session.created":
        transcription = draw(st.sampled_from([None, {"model": "whisper-1"}]))
        fmt = draw(st.sampled_from([{"type": "audio/pcm", "rate": 24000}, {"type": "audio/pcmu"}]))
        return {
            "type": "session.created",
            "session": {
                "type": "realtime",
                "audio": {"input": {"transcription": transcription}, "output": {"format": fmt}},
            },
        }
    if kind == "error":
        return {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": draw(st.none() | TEXT),
                "message": draw(TEXT),
                "event_id": draw(st.none() | TEXT),
            },
        }
    if kind == "speech_started":
        return {
            "type": "input_audio_buffer.speech_started",
            "item_id": draw(ITEMS),
            "audio_start_ms": 0,
        }
    return {"type": "future." + draw(TEXT), "payload": draw(JSON_VALUE)}


@st.composite
def invalid_events(draw: st.DrawFn) -> Any:
    """Frames a real server should not send: known types with random fields (most fail
    validation), non-objects, broken JSON."""
    choice = draw(st.integers(0, 2))
    if choice == 0:
        fields = draw(
            st.dictionaries(
                st.sampled_from(
                    [
                        "item",
                        "item_id",
                        "response",
                        "response_id",
                        "delta",
                        "call_id",
                        "error",
                        "session",
                        "part",
                    ]
                ),
                JSON_VALUE,
                max_size=4,
            )
        )
        return {"type": draw(st.sampled_from(sorted(SERVER_EVENT_TYPES))), **fields}
    if choice == 1:
        return json.dumps(draw(JSON_VALUE))
    return draw(st.text(max_size=20))


STREAMS = st.lists(
    st.one_of(valid_events(), valid_events(), valid_events(), invalid_events()), max_size=60
)


def check_conversation(conversation: Conversation, listener: ReplicaListener) -> None:
    listener.check()
    ids = [item.id for item in conversation]
    assert len(ids) == len(set(ids)), "an item is listed twice"
    positions = {item_id: index for index, item_id in enumerate(ids)}
    for index, item in enumerate(conversation):
        assert conversation.item(item.id) is item
        assert conversation.index_of(item.id) == index
        assert isinstance(item.kind, ItemKind)
        assert isinstance(item.status, ItemStatus)
        assert isinstance(item.transcription, TranscriptionStatus)
        previous = conversation.placed_after(item.id)
        if previous is not None and previous in positions:
            assert positions[previous] < index, "an item moved before the one it follows"
    active = [r for r in conversation.responses if r.active and not r.out_of_band]
    assert len(active) <= 1, "more than one active response"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STREAMS)
def test_reducer_never_raises_and_keeps_its_invariants(stream: list[Any]) -> None:
    conversation = Conversation()
    listener = ReplicaListener(conversation)
    conversation.add_listener(listener)
    for raw in stream:
        try:
            event = parse_server_event(raw)
        except ProtocolError:
            continue  # the session drops unreadable frames; the reducer never sees them
        conversation.apply(event)
        check_conversation(conversation, listener)
    for item in conversation.replay_items():  # all sendable
        ConversationItemCreate(item=item).to_wire()
    document = json.loads(json.dumps(conversation.snapshot()))
    assert Conversation.from_snapshot(document).snapshot() == conversation.snapshot()
    conversation.mark_connection_lost()
    check_conversation(conversation, listener)
    assert conversation.active_response is None


# The sequencer --------------------------------------------------------------------------------


@st.composite
def sequencer_steps(draw: st.DrawFn) -> tuple[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                "request",
                "request_oob",
                "cancel",
                "interrupt",
                "created",
                "done",
                "call",
                "submit",
                "error",
                "reset",
                "noise",
            ]
        )
    )
    if kind == "created":
        return kind, draw(responses("in_progress"))
    if kind == "done":
        return kind, draw(responses())
    if kind == "call":
        return kind, (draw(RESPONSES), draw(CALLS))
    if kind == "submit":
        return kind, (draw(CALLS), draw(TEXT))
    if kind == "error":
        code = draw(
            st.sampled_from(
                [
                    "conversation_already_has_active_response",
                    "response_cancel_not_active",
                    "invalid_value",
                    None,
                ]
            )
        )
        return kind, (code, draw(st.integers(0, 3)))  # which recent client event it names
    if kind == "interrupt":
        return kind, draw(st.booleans())
    if kind == "noise":
        return kind, draw(valid_events())
    return kind, None


def _error(code: str | None, event_id: str | None) -> Any:
    return parse_server_event(
        {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "code": code,
                "message": "x",
                "event_id": event_id,
            },
        }
    )


def run_step(
    sequencer: ResponseSequencer, step: tuple[str, Any], sent: list[ClientEvent]
) -> list[ClientEvent]:
    kind, value = step
    if kind == "request":
        return sequencer.request_response()
    if kind == "request_oob":
        from realtime_desktop.protocol import ResponseCreateParams

        return sequencer.request_response(ResponseCreateParams(conversation="none"))
    if kind == "cancel":
        return sequencer.request_cancel()
    if kind == "interrupt":
        return sequencer.interrupt(cancel=value)
    if kind in ("created", "done"):
        return sequencer.apply(parse_server_event({"type": f"response.{kind}", "response": value}))
    if kind == "call":
        response_id, call_id = value
        event = {
            "type": "response.function_call_arguments.done",
            "response_id": response_id,
            "item_id": "item_x",
            "output_index": 0,
            "call_id": call_id,
            "name": "f",
            "arguments": "{}",
        }
        return sequencer.apply(parse_server_event(event))
    if kind == "submit":
        return sequencer.submit_tool_output(*value)
    if kind == "error":
        code, back = value
        event_id = sent[-1 - back].event_id if len(sent) > back else None
        return sequencer.apply(_error(code, event_id))
    if kind == "reset":
        return sequencer.reset()
    try:
        return sequencer.apply(parse_server_event(value))
    except ProtocolError:
        return []


def _is_response_created(step: tuple[str, Any]) -> bool:
    """A ``created`` step, or a ``noise`` step that drew a response.created: to the sequencer
    both are a response starting, on which a cancel asked for before it existed is sent."""
    kind, value = step
    return kind == "created" or (
        kind == "noise" and isinstance(value, dict) and value.get("type") == "response.created"
    )


def _is_default_create(event: ClientEvent) -> bool:
    return isinstance(event, ResponseCreate) and not (
        event.response is not None and event.response.is_out_of_band
    )


@settings(max_examples=400, deadline=None)
@given(st.lists(sequencer_steps(), max_size=50))
def test_sequencer_never_raises_and_keeps_one_response_at_a_time(
    steps: list[tuple[str, Any]],
) -> None:
    sequencer = ResponseSequencer()
    sent: list[ClientEvent] = []
    for step in steps:
        before = sequencer.state
        emitted = run_step(sequencer, step, sent)
        creates = [e for e in emitted if _is_default_create(e)]
        assert len(creates) <= 1, "two response.create at once"
        if creates:
            assert sequencer.state is SequencerState.CREATE_REQUESTED
            position = emitted.index(creates[0])
            assert all(
                not isinstance(e, ConversationItemCreate) for e in emitted[position + 1 :]
            ), "output after create"
        for event in emitted:
            if isinstance(event, ResponseCancel):
                assert before is SequencerState.ACTIVE or _is_response_created(step), (
                    "cancel while idle"
                )
                assert sequencer.state is SequencerState.CANCEL_REQUESTED
        if sequencer.state is SequencerState.IDLE:
            assert sequencer.active_response_id is None
        sent += emitted
    ids = [event.event_id for event in sent]
    assert all(ids)
    assert len(ids) == len(set(ids))


class FaithfulServer:
    """Answers client events the way the service does, at once: one response at a time,
    errors for a create while one is active and for a cancel while none is."""

    def __init__(self) -> None:
        self.active: str | None = None
        self.count = 0
        self.calls_of: dict[str, list[str]] = {}
        self.status_of: dict[str, str] = {}
        self.outputs: dict[str, int] = {}  # call_id → position in the received stream
        self.received: list[ClientEvent] = []
        self.violations: list[str] = []

    def start(self, calls: int = 0) -> list[dict[str, Any]]:
        self.count += 1
        self.active = f"resp_{self.count}"
        self.calls_of[self.active] = [f"call_{self.count}_{i}" for i in range(calls)]
        events: list[dict[str, Any]] = [
            {
                "type": "response.created",
                "response": {
                    "id": self.active,
                    "status": "in_progress",
                    "conversation_id": "conv_1",
                },
            }
        ]
        for call_id in self.calls_of[self.active]:
            events.append(
                {
                    "type": "response.function_call_arguments.done",
                    "response_id": self.active,
                    "item_id": f"item_{call_id}",
                    "output_index": 0,
                    "call_id": call_id,
                    "name": "f",
                    "arguments": "{}",
                }
            )
        return events

    def finish(self, status: str = "completed") -> list[dict[str, Any]]:
        if self.active is None:
            return []
        response, self.active = self.active, None
        self.status_of[response] = status
        return [
            {
                "type": "response.done",
                "response": {"id": response, "status": status, "conversation_id": "conv_1"},
            }
        ]

    def receive(self, event: ClientEvent) -> list[dict[str, Any]]:
        self.received.append(event)
        if isinstance(event, ResponseCreate):
            if self.active is not None:
                self.violations.append("response.create while a response was active")
                return [
                    {
                        "type": "error",
                        "error": {
                            "type": "invalid_request_error",
                            "code": "conversation_already_has_active_response",
                            "message": "",
                            "event_id": event.event_id,
                        },
                    }
                ]
            return self.start()
        if isinstance(event, ResponseCancel):
            if self.active is None:
                self.violations.append("response.cancel while idle")
                return [
                    {
                        "type": "error",
                        "error": {
                            "type": "invalid_request_error",
                            "code": "response_cancel_not_active",
                            "message": "",
                            "event_id": event.event_id,
                        },
                    }
                ]
            return self.finish("cancelled")
        if isinstance(event, ConversationItemCreate) and isinstance(
            event.item, FunctionCallOutputItem
        ):
            self.outputs[event.item.call_id or ""] = len(self.received)
        return []


def deliver(
    server: FaithfulServer,
    sequencer: ResponseSequencer,
    client_events: list[ClientEvent],
    server_events: list[dict[str, Any]],
) -> None:
    """Runs both sides until nothing more is said."""
    while client_events or server_events:
        if server_events:
            client_events += sequencer.apply(parse_server_event(server_events.pop(0)))
        else:
            server_events += server.receive(client_events.pop(0))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.just(("ask", 0)),
            st.just(("cancel", 0)),
            st.tuples(st.just("vad"), st.integers(0, 3)),
            st.tuples(
                st.just("finish"),
                st.sampled_from(["completed", "completed", "cancelled", "failed"]),
            ),
            st.tuples(st.just("tool_done"), st.integers(0, 5)),
        ),
        max_size=40,
    )
)
def test_against_a_faithful_server_no_rule_is_ever_broken(script: list[tuple[str, Any]]) -> None:
    server = FaithfulServer()
    sequencer = ResponseSequencer()
    interrupted_at: list[int] = []
    for action, value in script:
        if action == "cancel":
            interrupted_at.append(len(server.received))
        if action == "ask":
            deliver(server, sequencer, sequencer.request_response(), [])
        elif action == "cancel":
            deliver(server, sequencer, sequencer.request_cancel(), [])
        elif action == "vad" and server.active is None:
            deliver(server, sequencer, [], server.start(calls=value))  # the user spoke
        elif action == "finish":
            deliver(server, sequencer, [], server.finish(value))
        elif action == "tool_done" and sequencer.pending_tool_calls:
            pending = sequencer.pending_tool_calls
            call_id = pending[value % len(pending)]
            deliver(server, sequencer, sequencer.submit_tool_output(call_id, "{}"), [])
        sequencer.take_abandoned_calls()
    # Let everything finish: every tool returns, every response ends.
    for _ in range(50):
        if sequencer.pending_tool_calls:
            deliver(
                server,
                sequencer,
                sequencer.submit_tool_output(sequencer.pending_tool_calls[0], "{}"),
                [],
            )
        elif server.active is not None:
            deliver(server, sequencer, [], server.finish("completed"))
        else:
            break
    assert server.violations == []
    assert server.active is None
    assert sequencer.state is SequencerState.IDLE
    assert sequencer.queued == 0
    # Every tool call of a completed response got its output, followed by a response.create.
    for response, calls in server.calls_of.items():
        if server.status_of.get(response) != "completed":
            continue  # cancelled: outputs only; failed: nothing (PROTOCOL.md §6.3)
        assert all(c in server.outputs for c in calls), "a completed call never got its output"
        positions = [server.outputs[c] for c in calls if c in server.outputs]
        if positions and not any(mark >= max(positions) for mark in interrupted_at):
            # (the Interrupt button drops queued responses, a tool follow-up included)
            after = server.received[max(positions) :]
            assert any(_is_default_create(e) for e in after), (
                "tool outputs with no response after them"
            )
