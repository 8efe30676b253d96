"""Parsing details: error messages a user can act on, hostile input, the typed accessors."""

from __future__ import annotations

import json

import pytest

from realtime_desktop.protocol import (
    ConversationItemCreate,
    ErrorEvent,
    FunctionTool,
    InputAudioBufferAppend,
    MessageItem,
    ProtocolError,
    RealtimeSessionConfig,
    ResponseCreate,
    ResponseCreateParams,
    ServerEvent,
    SessionUpdate,
    TurnDetection,
    UnknownItem,
    UnknownServerEvent,
    parse_client_event,
    parse_server_event,
)


def test_a_missing_field_is_named_with_the_event_type() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_event(
            {"type": "conversation.item.truncate", "item_id": "i", "content_index": 0}
        )
    assert str(caught.value) == "conversation.item.truncate: field 'audio_end_ms' is required"
    assert caught.value.event_type == "conversation.item.truncate"
    assert caught.value.field == "audio_end_ms"
    assert caught.value.missing


def test_an_invalid_nested_field_is_named_by_its_path() -> None:
    raw = {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"output": {"speed": "fast"}}},
    }
    with pytest.raises(ProtocolError) as caught:
        parse_client_event(raw)
    assert caught.value.field == "session.audio.output.speed"
    assert not caught.value.missing
    assert "session.update: field 'session.audio.output.speed' is invalid" in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\xff\xfe not utf-8", "not valid JSON"),
        ("{", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"type": 5}', "no 'type'"),
        ('{"event_id": "x"}', "no 'type'"),
        ('{"type": "error", "x": NaN}', "NaN is not a JSON value"),
        ('{"type": "error", "x": Infinity}', "Infinity is not a JSON value"),
        ('{"type": "input_audio_buffer.cleared", "x": NaN}', "NaN|finite"),
        ('{"type": "input_audio_buffer.cleared", "x": [1e999]}', "out of range|finite"),
        ('{"type": "rate_limits.updated", "rate_limits": [{"limit": 1e999}]}', "out of range"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ],
)
def test_hostile_input_is_a_protocol_error(raw: str | bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        parse_server_event(raw)


@pytest.mark.parametrize("tag", [[], {"a": 1}])
def test_an_item_type_that_is_not_a_string_is_a_protocol_error(tag: object) -> None:
    # Found by the offline server's fuzz test: an unhashable tag raised TypeError.
    for raw, field in (
        ({"type": "conversation.item.create", "item": {"type": tag}}, "item.type"),
        (
            {"type": "response.create", "response": {"input": [{"type": tag}]}},
            "response.input.0.type",
        ),
    ):
        with pytest.raises(ProtocolError) as caught:
            parse_client_event(raw)
        assert caught.value.field == field


def test_deeply_nested_unknown_fields_survive() -> None:
    nested: dict[str, object] = {}
    cursor = nested
    for _ in range(200):
        cursor["n"] = {}
        cursor = cursor["n"]  # type: ignore[assignment]
    event = parse_server_event({"type": "brand.new.event", "deep": nested})
    assert isinstance(event, UnknownServerEvent)
    assert event.raw == {"type": "brand.new.event", "deep": nested}


def test_unknown_fields_and_items_are_kept() -> None:
    raw = {
        "type": "conversation.item.added",
        "event_id": "e",
        "future_field": {"a": [1, 2]},
        "item": {"type": "reasoning", "id": "r1", "summary": "…"},
    }
    event = parse_server_event(raw)
    assert isinstance(event.item, UnknownItem)  # type: ignore[attr-defined]
    assert event.to_wire() == raw
    assert json.loads(json.dumps(event.to_wire())) == raw


def test_error_events_link_back_to_the_client_event() -> None:
    event = parse_server_event(
        {
            "type": "error",
            "event_id": "event_1",
            "error": {
                "type": "invalid_request_error",
                "code": "response_cancel_not_active",
                "message": "Cancellation failed: no active response found",
                "param": None,
                "event_id": "cli_7",
            },
        }
    )
    assert isinstance(event, ErrorEvent)
    assert event.error.event_id == "cli_7"
    assert event.to_wire()["error"]["param"] is None  # an explicit null stays null


def test_events_built_in_code_write_their_type_and_defaults() -> None:
    assert InputAudioBufferAppend(audio="AAAA").to_wire() == {
        "type": "input_audio_buffer.append",
        "audio": "AAAA",
    }
    server_event = ErrorEvent(error={"type": "server_error", "message": "boom"})
    wire = server_event.to_wire()
    assert wire["type"] == "error"
    assert wire["event_id"].startswith("event_")
    assert isinstance(parse_server_event(wire), ServerEvent)


def test_nested_dicts_given_in_code_get_their_type_tags() -> None:
    # The classic GA mistake (PROTOCOL.md §9.2): a session.update without session.type.
    update = SessionUpdate(session={"instructions": "x"})
    assert update.to_wire() == {
        "type": "session.update",
        "session": {"type": "realtime", "instructions": "x"},
    }


def test_a_ga_session_update_without_type_still_parses_so_it_can_be_answered() -> None:
    event = parse_client_event({"type": "session.update", "session": {"instructions": "x"}})
    assert isinstance(event, SessionUpdate)
    assert "type" not in event.session.model_fields_set
    assert event.to_wire() == {"type": "session.update", "session": {"instructions": "x"}}


def test_session_presets() -> None:
    voice = RealtimeSessionConfig.voice_conversation(instructions="Be kind.", voice="cedar")
    assert voice.output_modalities == ["audio"]
    assert voice.voice == "cedar"
    assert voice.input_format.sample_rate == 24000
    detection = voice.turn_detection
    assert detection is not None
    # every VAD field is sent, never a partial object (PROTOCOL.md §4.2)
    assert set(detection.wire_dict()) == {
        "type", "threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms",
        "create_response", "interrupt_response",
    }  # fmt: skip

    text = RealtimeSessionConfig.text_only(instructions="Answer in text.")
    assert text.output_modalities == ["text"]
    assert text.wire_dict()["audio"] == {"input": {"turn_detection": None}}

    tool = FunctionTool(name="get_time", parameters={"type": "object", "properties": {}})
    with_tools = RealtimeSessionConfig.with_tools([tool], base=voice)
    assert with_tools.tools == [tool]
    assert with_tools.tool_choice == "auto"
    assert voice.tools is None  # the base is not modified
    assert TurnDetection.semantic_vad(eagerness="low").wire_dict()["eagerness"] == "low"


def test_item_helpers() -> None:
    item = MessageItem.user_text("hello", item_id="u1")
    assert ConversationItemCreate(item=item, event_id="c1").to_wire() == {
        "type": "conversation.item.create",
        "event_id": "c1",
        "item": {
            "type": "message",
            "id": "u1",
            "role": "user",
            "content": [{"type": "input_text", "text": "hello"}],
        },
    }
    assert MessageItem.assistant_text("hi").text == "hi"
    out_of_band = ResponseCreate(response=ResponseCreateParams(conversation="none"))
    assert out_of_band.response is not None
    assert out_of_band.response.is_out_of_band
