"""The beta ↔ GA translation, case by case, against the tables of PROTOCOL.md §3.2, §4.5, §5.3
and the worked messages of its Appendix A (written out here, not derived from the code)."""

from __future__ import annotations

from typing import Any

import pytest

from realtime_desktop.protocol import (
    GA_ONLY_SERVER_EVENTS,
    ConversationItemAdded,
    ConversationItemCreated,
    MessageItem,
    ProtocolError,
    RealtimeSessionConfig,
    ResponseOutputAudioDelta,
    SessionUpdate,
    SessionUpdated,
    TranscriptionSessionConfig,
    parse_client_event,
    parse_server_event,
)

BETA_SESSION_UPDATE: dict[str, Any] = {
    "type": "session.update",
    "session": {
        "modalities": ["audio", "text"],
        "instructions": "Be brief.",
        "voice": "alloy",
        "input_audio_format": "pcm16",
        "output_audio_format": "g711_ulaw",
        "input_audio_transcription": {"model": "whisper-1"},
        "input_audio_noise_reduction": {"type": "near_field"},
        "turn_detection": {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 500,
        },
        "tools": [{"type": "function", "name": "open_app", "parameters": {"type": "object"}}],
        "tool_choice": "open_app",
        "temperature": 0.8,
        "max_response_output_tokens": "inf",
        "speed": 1.1,
    },
}

GA_SESSION_UPDATE: dict[str, Any] = {
    "type": "session.update",
    "session": {
        "type": "realtime",
        "output_modalities": ["audio"],
        "instructions": "Be brief.",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": {"model": "whisper-1"},
                "noise_reduction": {"type": "near_field"},
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                },
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": "alloy", "speed": 1.1},
        },
        "tools": [{"type": "function", "name": "open_app", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "name": "open_app"},
        "temperature": 0.8,  # no GA counterpart: kept as an unknown field
        "max_output_tokens": "inf",
    },
}


def test_beta_session_update_reads_as_the_ga_shape() -> None:
    event = parse_client_event(BETA_SESSION_UPDATE, "beta")
    assert isinstance(event, SessionUpdate)
    assert event.to_wire("ga") == GA_SESSION_UPDATE
    assert event.to_wire("beta") == BETA_SESSION_UPDATE
    session = event.session
    assert isinstance(session, RealtimeSessionConfig)
    assert session.voice == "alloy"
    assert session.output_format.sample_rate == 8000
    assert session.turn_detection is not None
    assert session.turn_detection.silence_duration_ms == 500


def test_ga_session_update_writes_as_the_beta_shape() -> None:
    event = parse_client_event(GA_SESSION_UPDATE, "ga")
    assert event.to_wire("beta") == BETA_SESSION_UPDATE


def test_a_ga_shaped_session_sent_to_the_beta_parser_is_left_alone() -> None:
    # Lenient: a peer that mixes shapes is read as it means it.
    event = parse_client_event(GA_SESSION_UPDATE, "beta")
    assert event.to_wire("ga") == GA_SESSION_UPDATE


@pytest.mark.parametrize(
    ("beta", "ga"),
    [
        (["text"], ["text"]),
        (["audio", "text"], ["audio"]),
    ],
)
def test_modalities(beta: list[str], ga: list[str]) -> None:
    event = parse_client_event({"type": "session.update", "session": {"modalities": beta}}, "beta")
    assert event.to_wire("ga")["session"]["output_modalities"] == ga
    assert event.to_wire("beta")["session"] == {"modalities": beta}


def test_audio_only_beta_modalities_keep_their_beta_spelling() -> None:
    event = parse_client_event(
        {"type": "session.update", "session": {"modalities": ["audio"]}}, "beta"
    )
    assert isinstance(event, SessionUpdate)
    assert isinstance(event.session, RealtimeSessionConfig)
    assert event.session.output_modalities == ["audio"]
    assert event.to_wire("beta")["session"] == {"modalities": ["audio"]}


def test_null_turn_detection_means_manual_turns_in_both_dialects() -> None:
    beta = {"type": "session.update", "session": {"turn_detection": None}}
    event = parse_client_event(beta, "beta")
    assert event.to_wire("ga")["session"] == {
        "type": "realtime",
        "audio": {"input": {"turn_detection": None}},
    }
    assert event.to_wire("beta") == beta


def test_transcription_session_update_is_a_ga_transcription_session() -> None:
    beta = {
        "type": "transcription_session.update",
        "session": {
            "input_audio_format": "g711_alaw",
            "input_audio_transcription": {"model": "gpt-4o-transcribe", "language": "en"},
            "turn_detection": None,
            "include": ["item.input_audio_transcription.logprobs"],
        },
    }
    event = parse_client_event(beta, "beta")
    assert isinstance(event, SessionUpdate)
    assert isinstance(event.session, TranscriptionSessionConfig)
    assert event.to_wire("ga") == {
        "type": "session.update",
        "session": {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcma"},
                    "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                    "turn_detection": None,
                }
            },
            "include": ["item.input_audio_transcription.logprobs"],
        },
    }
    assert event.to_wire("beta") == beta


def test_transcription_session_updated_server_event() -> None:
    beta = {
        "type": "transcription_session.updated",
        "event_id": "e1",
        "session": {"client_secret": {"value": "ek_x", "expires_at": 1}, "modalities": ["text"]},
    }
    event = parse_server_event(beta, "beta")
    assert isinstance(event, SessionUpdated)
    assert event.to_wire("ga")["session"]["type"] == "transcription"
    # modalities of a transcription session are not output modalities: kept as they are
    assert event.to_wire("ga")["session"]["modalities"] == ["text"]
    assert event.to_wire("beta") == beta


@pytest.mark.parametrize(
    ("beta_type", "ga_type"),
    [
        ("response.text.delta", "response.output_text.delta"),
        ("response.text.done", "response.output_text.done"),
        ("response.audio.delta", "response.output_audio.delta"),
        ("response.audio.done", "response.output_audio.done"),
        ("response.audio_transcript.delta", "response.output_audio_transcript.delta"),
        ("response.audio_transcript.done", "response.output_audio_transcript.done"),
    ],
)
def test_renamed_output_events(beta_type: str, ga_type: str) -> None:
    fields = {"response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0}
    extra = {"delta": "x", "text": "t", "transcript": "t"}
    beta = {"type": beta_type, "event_id": "e", **fields, **extra}
    event = parse_server_event(beta, "beta")
    assert event.type == ga_type
    assert event.to_wire("ga")["type"] == ga_type
    assert event.to_wire("beta") == beta


def test_ga_parser_reads_beta_spellings_of_output_events() -> None:
    # PROTOCOL.md §3.3: GA WebRTC users have received response.audio_transcript.done.
    event = parse_server_event(
        {
            "type": "response.audio.delta",
            "event_id": "e",
            "response_id": "r",
            "item_id": "i",
            "output_index": 0,
            "content_index": 0,
            "delta": "AAAA",
        }
    )
    assert isinstance(event, ResponseOutputAudioDelta)


def test_item_added_is_written_as_beta_item_created_with_beta_content() -> None:
    item = MessageItem(
        id="item_A1",
        role="assistant",
        status="completed",
        content=[
            {"type": "output_audio", "transcript": "Hi there"},
            {"type": "output_text", "text": "Hi"},
        ],
    )
    event = ConversationItemAdded(event_id="e", previous_item_id="item_U1", item=item)
    beta = event.to_wire("beta")
    assert beta == {
        "type": "conversation.item.created",
        "event_id": "e",
        "previous_item_id": "item_U1",
        "item": {
            "type": "message",
            "id": "item_A1",
            "role": "assistant",
            "status": "completed",
            "content": [
                {"type": "audio", "transcript": "Hi there"},
                {"type": "text", "text": "Hi"},
            ],
        },
    }
    back = parse_server_event(beta, "beta")
    assert isinstance(back, ConversationItemCreated)
    assert back.item == item


def test_user_content_types_are_the_same_in_both_dialects() -> None:
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "x"}]}
    event = parse_client_event({"type": "conversation.item.create", "item": item}, "beta")
    assert event.to_wire("ga")["item"] == item


def test_response_create_overrides() -> None:
    beta = {
        "type": "response.create",
        "response": {
            "modalities": ["text"],
            "voice": "echo",
            "output_audio_format": "pcm16",
            "max_response_output_tokens": 200,
            "tool_choice": "none",
            "temperature": 0.7,
            "conversation": "none",
            "input": [{"type": "item_reference", "id": "item_U1"}],
        },
    }
    event = parse_client_event(beta, "beta")
    assert event.to_wire("ga") == {
        "type": "response.create",
        "response": {
            "output_modalities": ["text"],
            "audio": {"output": {"voice": "echo", "format": {"type": "audio/pcm", "rate": 24000}}},
            "max_output_tokens": 200,
            "tool_choice": "none",
            "temperature": 0.7,
            "conversation": "none",
            "input": [{"type": "item_reference", "id": "item_U1"}],
        },
    }
    assert event.to_wire("beta") == beta


def test_response_done_carries_beta_response_fields() -> None:
    beta = {
        "type": "response.done",
        "event_id": "e",
        "response": {
            "id": "resp_1",
            "status": "cancelled",
            "status_details": {"type": "cancelled", "reason": "turn_detected"},
            "modalities": ["audio", "text"],
            "voice": "alloy",
            "output_audio_format": "pcm16",
            "max_output_tokens": "inf",
            "output": [
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "audio", "transcript": "Hel"}],
                }
            ],
            "usage": {"total_tokens": 10, "input_tokens": 4, "output_tokens": 6},
        },
    }
    event = parse_server_event(beta, "beta")
    ga = event.to_wire("ga")["response"]
    assert ga["output_modalities"] == ["audio"]
    assert ga["audio"] == {
        "output": {"voice": "alloy", "format": {"type": "audio/pcm", "rate": 24000}}
    }
    assert ga["max_output_tokens"] == "inf"  # same name in the response object
    assert ga["output"][0]["content"] == [{"type": "output_audio", "transcript": "Hel"}]
    assert event.to_wire("beta") == beta


def test_ga_only_events_are_named() -> None:
    assert "conversation.item.done" in GA_ONLY_SERVER_EVENTS
    assert "conversation.item.added" not in GA_ONLY_SERVER_EVENTS  # written as .created


def test_an_unknown_dialect_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="dialect"):
        parse_server_event({"type": "error"}, "v2")
    with pytest.raises(ProtocolError, match="dialect"):
        SessionUpdate(session=RealtimeSessionConfig()).to_wire("v2")  # type: ignore[arg-type]
