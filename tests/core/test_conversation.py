"""The Conversation reducer on sequences from PROTOCOL.md §6 (issue 3, acceptance 2)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from realtime_desktop.core.conversation import (
    Conversation,
    ConversationListener,
    ItemKind,
    ItemStatus,
    ResponseState,
    TranscriptionStatus,
)
from realtime_desktop.protocol import (
    FunctionCallItem,
    FunctionCallOutputItem,
    MessageItem,
    parse_server_event,
)

from . import sequences
from .sequences import Event


class ReplicaListener(ConversationListener):
    """Mirrors the list the way a Qt model would (ids per row, from the notifications alone)
    and checks every begin/end pair."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.rows: list[str] = [item.id for item in conversation]
        self.pending: tuple[str, int] | None = None
        self.changes: list[tuple[int, frozenset[str]]] = []
        self.responses: list[tuple[str, frozenset[str]]] = []

    def item_inserting(self, index: int) -> None:
        assert self.pending is None
        assert len(self.conversation) == len(self.rows)  # not inserted yet
        self.pending = ("insert", index)

    def item_inserted(self, index: int) -> None:
        assert self.pending == ("insert", index)
        self.pending = None
        self.rows.insert(index, self.conversation[index].id)

    def item_changed(self, index: int, changed: frozenset[str]) -> None:
        assert self.pending is None
        assert changed
        assert self.rows[index] == self.conversation[index].id
        self.changes.append((index, changed))

    def item_removing(self, index: int) -> None:
        assert self.pending is None
        assert self.conversation[index].id == self.rows[index]  # still there
        self.pending = ("remove", index)

    def item_removed(self, index: int) -> None:
        assert self.pending == ("remove", index)
        self.pending = None
        del self.rows[index]

    def clearing(self) -> None:
        self.pending = ("clear", 0)

    def cleared(self) -> None:
        self.pending = None
        self.rows = []

    def response_changed(self, response: ResponseState, changed: frozenset[str]) -> None:
        self.responses.append((response.id, changed))

    def check(self) -> None:
        assert self.pending is None
        assert self.rows == [item.id for item in self.conversation]


def run(events: list[Event], dialect: str = "ga") -> tuple[Conversation, ReplicaListener]:
    conversation = Conversation()
    listener = ReplicaListener(conversation)
    conversation.add_listener(listener)
    for raw in events:
        conversation.apply(parse_server_event(raw, dialect))
    listener.check()
    return conversation, listener


def ids(conversation: Conversation) -> list[str]:
    return [item.id for item in conversation]


def test_voice_turn_with_the_user_transcript_arriving_during_the_answer() -> None:
    conversation, listener = run(sequences.voice_turn_with_late_transcript())
    assert ids(conversation) == ["item_U1", "item_A1"]
    user, assistant = conversation
    assert user.role == "user"
    assert user.has_audio
    assert user.transcription is TranscriptionStatus.COMPLETED
    assert user.transcript == "What's the weather?"
    assert assistant.role == "assistant"
    assert assistant.transcript == "It is sunny today."
    assert assistant.status is ItemStatus.COMPLETED
    assert assistant.response_id == "resp_R1"
    assert assistant.audio_ms == pytest.approx(300.0)
    response = conversation.response("resp_R1")
    assert response is not None
    assert response.status == "completed"
    assert response.item_ids == ["item_A1"]
    assert response.usage is not None
    assert response.usage.input_tokens == 120
    assert conversation.active_response is None
    # The transcript streamed into row 0 while row 1 was streaming too.
    assert (0, frozenset({"transcript", "transcription"})) in listener.changes


def test_user_transcription_before_the_item_and_after_the_answer() -> None:
    events = sequences.voice_turn_with_late_transcript()
    # A second turn whose transcription completes before its item exists (seen on beta
    # servers, PROTOCOL.md §9.15) — and a third whose transcript fails after the answer.
    events += [
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "item_id": "item_U2",
            "content_index": 0,
            "transcript": "And tomorrow?",
        },
        *sequences.user_voice_turn("item_U2", "item_A1"),
        *sequences.assistant_audio_turn("resp_R2", "item_A2", "item_U2", ["Rain."]),
        *sequences.user_voice_turn("item_U3", "item_A2"),
        *sequences.assistant_audio_turn("resp_R3", "item_A3", "item_U3", ["Sorry?"]),
        {
            "type": "conversation.item.input_audio_transcription.failed",
            "item_id": "item_U3",
            "content_index": 0,
            "error": {"type": "server_error", "message": "Audio was unintelligible."},
        },
        # a late delta after the failure changes nothing
        {
            "type": "conversation.item.input_audio_transcription.delta",
            "item_id": "item_U2",
            "delta": "zzz",
        },
    ]
    conversation, _ = run(events)
    assert ids(conversation) == ["item_U1", "item_A1", "item_U2", "item_A2", "item_U3", "item_A3"]
    u2 = conversation.item("item_U2")
    u3 = conversation.item("item_U3")
    assert u2 is not None
    assert u3 is not None
    assert u2.transcription is TranscriptionStatus.COMPLETED
    assert u2.transcript == "And tomorrow?"
    assert u3.transcription is TranscriptionStatus.FAILED
    assert u3.transcription_error == "Audio was unintelligible."


def test_transcription_status_is_pending_until_the_first_delta() -> None:
    session = {
        "type": "session.created",
        "session": {
            "type": "realtime",
            "id": "sess_1",
            "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}}},
        },
    }
    conversation, _ = run([session, *sequences.user_voice_turn("item_U1", None)])
    assert conversation[0].transcription is TranscriptionStatus.PENDING
    delta = {
        "type": "conversation.item.input_audio_transcription.delta",
        "item_id": "item_U1",
        "delta": "Hel",
    }
    conversation.apply(parse_server_event(delta))
    assert conversation[0].transcription is TranscriptionStatus.STREAMING
    assert conversation[0].transcript == "Hel"


def test_text_turn() -> None:
    conversation, _ = run(sequences.text_turn())
    assert [(i.role, i.text) for i in conversation] == [
        ("user", "Hello"),
        ("assistant", "Hi! How can I help?"),
    ]
    assert conversation[1].has_audio is False


def test_parallel_function_calls_stream_arguments_and_link_their_outputs() -> None:
    conversation, _ = run(sequences.parallel_function_calls())
    assert ids(conversation) == [
        "item_U1",
        "item_F1",
        "item_F2",
        "item_O1",
        "item_O2",
        "item_A1",
    ]
    f1 = conversation.item("item_F1")
    f2 = conversation.item("item_F2")
    assert f1 is not None
    assert f2 is not None
    assert f1.kind is ItemKind.FUNCTION_CALL
    assert (f1.call_id, f1.name, f1.arguments) == (
        "call_1",
        "get_time",
        '{"timezone":"Europe/Paris"}',
    )
    assert f2.arguments == '{"expression":"6*7"}'
    assert json.loads(f1.output or "") == {"time": "14:05"}
    assert json.loads(f2.output or "") == {"value": 42}
    r1 = conversation.response("resp_R1")
    assert r1 is not None
    assert r1.item_ids == ["item_F1", "item_F2"]
    assert conversation[3].kind is ItemKind.FUNCTION_CALL_OUTPUT


def test_barge_in_keeps_the_partial_transcript_and_marks_the_truncation() -> None:
    conversation, listener = run(sequences.barge_in_with_truncation())
    assert ids(conversation) == ["item_U1", "item_A1", "item_U2"]
    assistant = conversation[1]
    assert assistant.transcript == "I was going to say something rather long."  # kept
    assert assistant.truncated_at_ms == 150
    assert assistant.interrupted
    assert assistant.status is ItemStatus.INCOMPLETE
    # 150 ms of the 300 ms received (plus a late 100 ms delta) were heard.
    assert assistant.audio_ms == pytest.approx(400.0)
    assert assistant.heard_transcript == "I was going to"
    response = conversation.response("resp_R1")
    assert response is not None
    assert (response.status, response.reason) == ("cancelled", "turn_detected")
    assert (1, frozenset({"truncated_at_ms"})) in listener.changes
    # The model is not told what was not heard (and the user turns had no transcript).
    assert conversation.replay_items() == [
        MessageItem.assistant_text("I was going to", item_id="item_A1")
    ]


def test_cancelled_failed_and_incomplete_responses() -> None:
    cancelled, _ = run(sequences.cancelled_by_client())
    response = cancelled.response("resp_R1")
    assert response is not None
    assert (response.status, response.reason) == ("cancelled", "client_cancelled")
    assert cancelled[1].status is ItemStatus.INCOMPLETE
    assert cancelled[1].text == "Hi! "
    assert cancelled.active_response is None

    conversation, listener = run(sequences.failed_and_incomplete())
    failed = conversation.response("resp_R1")
    capped = conversation.response("resp_R2")
    assert failed is not None
    assert capped is not None
    assert failed.status == "failed"
    assert failed.error == "The server had an error while processing your request."
    assert failed.item_ids == []
    assert (capped.status, capped.reason) == ("incomplete", "max_output_tokens")
    assert conversation[1].text == "Once upon a time"
    assert conversation[1].status is ItemStatus.INCOMPLETE
    assert ("resp_R1", frozenset({"status", "error"})) in listener.responses


@pytest.mark.parametrize(
    "sequence",
    [
        sequences.voice_turn_with_late_transcript,
        sequences.text_turn,
        sequences.parallel_function_calls,
        sequences.barge_in_with_truncation,
        sequences.cancelled_by_client,
        sequences.failed_and_incomplete,
    ],
)
def test_beta_dialect_sequences_produce_the_same_state(sequence: Any) -> None:
    ga, _ = run(sequence())
    beta, _ = run(sequences.to_beta(sequence()), dialect="beta")
    assert beta.snapshot() == ga.snapshot()


def test_delete_removes_the_row_and_late_events_do_not_bring_it_back() -> None:
    conversation, listener = run(sequences.text_turn())
    conversation.apply(
        parse_server_event({"type": "conversation.item.deleted", "item_id": "item_U1"})
    )
    late = sequences.part_event("response.output_text.delta", "resp_R1", "item_U1", delta="x")
    conversation.apply(parse_server_event(late))
    done = {"type": "conversation.item.done", "item": sequences.user_text_item("item_U1", "Hello")}
    conversation.apply(parse_server_event(done))
    listener.check()
    assert ids(conversation) == ["item_A1"]


def test_items_are_ordered_by_previous_item_id_not_arrival() -> None:
    events = [
        {"type": "conversation.item.added", "item": sequences.user_text_item("item_1", "one")},
        {
            "type": "conversation.item.added",
            "previous_item_id": "item_1",
            "item": sequences.user_text_item("item_3", "three"),
        },
        # created by the client with previous_item_id=item_1: inserted before item_3
        {
            "type": "conversation.item.added",
            "previous_item_id": "item_1",
            "item": sequences.user_text_item("item_2", "two"),
        },
        {
            "type": "conversation.item.added",
            "previous_item_id": "item_unknown",
            "item": sequences.user_text_item("item_4", "four"),
        },
    ]
    conversation, _ = run(events)
    assert ids(conversation) == ["item_1", "item_2", "item_3", "item_4"]
    assert conversation.placed_after("item_2") == "item_1"


def test_connection_loss_ends_what_was_streaming() -> None:
    events = sequences.user_voice_turn("item_U1", None)
    events += sequences.assistant_audio_turn("resp_R1", "item_A1", "item_U1", ["Hel"], finish=False)
    conversation, _ = run(
        [
            {
                "type": "session.created",
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"transcription": {"model": "whisper-1"}}},
                },
            },
            *events,
        ]
    )
    assert conversation.active_response is not None
    conversation.mark_connection_lost()
    response = conversation.response("resp_R1")
    assert response is not None
    assert (response.status, response.reason) == ("failed", "connection_lost")
    assert conversation.active_response is None
    assert conversation[0].transcription is TranscriptionStatus.FAILED
    assert conversation[1].status is ItemStatus.INCOMPLETE


def test_replay_items_are_text_and_tool_state_never_audio() -> None:
    conversation, _ = run(sequences.parallel_function_calls())
    replay = conversation.replay_items()
    assert [type(item).__name__ for item in replay] == [
        "MessageItem",
        "FunctionCallItem",
        "FunctionCallItem",
        "FunctionCallOutputItem",
        "FunctionCallOutputItem",
        "MessageItem",
    ]
    assert isinstance(replay[1], FunctionCallItem)
    assert replay[1].call_id == "call_1"
    assert isinstance(replay[3], FunctionCallOutputItem)
    assert replay[3].output == '{"time":"14:05"}'
    assistant = replay[-1]
    assert isinstance(assistant, MessageItem)
    assert assistant.role == "assistant"
    assert assistant.content is not None
    assert [part.type for part in assistant.content] == ["output_text"]
    assert assistant.text == "It is 14:05 and 42."
    assert not any(isinstance(i, MessageItem) and i.has_audio for i in replay)
    # a user turn whose transcript never came is left out
    voice, _ = run(sequences.user_voice_turn("item_U9", None))
    assert voice.replay_items() == []


def test_snapshot_round_trips_through_json() -> None:
    conversation, _ = run(
        sequences.barge_in_with_truncation() + sequences.parallel_function_calls()
    )
    document = json.loads(json.dumps(conversation.snapshot()))
    restored = Conversation.from_snapshot(document)
    assert restored.snapshot() == conversation.snapshot()
    assert [i.to_dict() for i in restored] == [i.to_dict() for i in conversation]
    assert restored.replay_items() == conversation.replay_items()
    with pytest.raises(ValueError, match="version"):
        Conversation.from_snapshot({"version": 99})
