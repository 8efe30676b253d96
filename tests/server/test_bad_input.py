"""Issue 4, acceptance 5: bad client input gets the real error codes; the session survives.

Every case ends with a normal request on the same connection, answered, and the error must
carry the ``event_id`` of the event that caused it. A hypothesis test throws random frames at
a session: no event may fail the SDK's validation, no error may be a ``server_error`` (an
internal failure), and the session must still answer afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from realtime_desktop.server import DeltaPacing, OfflineServerThread, start_in_thread

from .helpers import TOKEN, asyncio_test, running, user_text
from .sdk_client import RealtimeClient

CLIENT_TYPES = [
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "output_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "conversation.item.delete",
    "response.create",
    "response.cancel",
]


async def _still_alive(client: RealtimeClient) -> None:
    """A normal request on the same connection is answered (errors caused by earlier frames
    are skipped; an error for this request fails)."""
    marker = "still there?"
    event_id = await client.send("conversation.item.create", item=user_text(marker))
    while True:
        event = await client.next()
        if event["type"] == "error":
            assert event["error"]["event_id"] != event_id, event
        if event["type"] == "conversation.item.added" and event["item"].get("content") == [
            {"type": "input_text", "text": marker}
        ]:
            break
    await client.send("conversation.item.retrieve", item_id=event["item"]["id"])
    retrieved = await client.next_of("conversation.item.retrieved")
    assert retrieved["item"]["id"] == event["item"]["id"]


BAD_FRAMES: list[tuple[str, str | bytes, str, str | None]] = [
    # (case, frame, code, param)
    ("garbage", "this is not json", "invalid_json", None),
    ("truncated json", '{"type": "response.create"', "invalid_json", None),
    ("nan", '{"type": "response.create", "x": NaN}', "invalid_json", None),
    ("binary", b"\x00\x01\x02 binary audio", "invalid_event", None),
    ("binary json", b'{"type": "response.create"}', "invalid_event", None),
    ("array", "[1, 2, 3]", "invalid_event", None),
    ("no type", '{"event_id": "e"}', "invalid_event", "type"),
    ("type not a string", '{"type": 7}', "invalid_event", "type"),
    ("unknown type", '{"type": "response.explode"}', "invalid_value", "type"),
    ("missing item", '{"type": "conversation.item.create"}', "missing_required_parameter", "item"),
    (
        "missing audio",
        '{"type": "input_audio_buffer.append"}',
        "missing_required_parameter",
        "audio",
    ),
    (
        "missing item_id",
        '{"type": "conversation.item.truncate", "content_index": 0, "audio_end_ms": 1}',
        "missing_required_parameter",
        "item_id",
    ),
    (
        "missing session",
        '{"type": "session.update"}',
        "missing_required_parameter",
        "session",
    ),
    (
        "missing role",
        '{"type": "conversation.item.create", "item": {"type": "message", "content": []}}',
        "missing_required_parameter",
        "item.role",
    ),
    (
        "missing call_id",
        '{"type": "conversation.item.create", "item": {"type": "function_call_output", '
        '"output": "x"}}',
        "missing_required_parameter",
        "item.call_id",
    ),
    (
        "unknown call_id",
        '{"type": "conversation.item.create", "item": {"type": "function_call_output", '
        '"call_id": "call_nope", "output": "x"}}',
        "invalid_value",
        "item.call_id",
    ),
    (
        "wrong type",
        '{"type": "conversation.item.truncate", "item_id": "x", "content_index": "zero", '
        '"audio_end_ms": 1}',
        "invalid_value",
        "content_index",
    ),
    (
        "not base64",
        '{"type": "input_audio_buffer.append", "audio": "%%% not base64 %%%"}',
        "invalid_value",
        "audio",
    ),
    (
        "assistant audio",
        '{"type": "conversation.item.create", "item": {"type": "message", "role": "assistant",'
        ' "content": [{"type": "output_audio", "audio": "AAAA"}]}}',
        "invalid_value",
        "item.content[0].type",
    ),
    (
        "unknown item key",
        '{"type": "conversation.item.create", "item": {"type": "message", "role": "user", '
        '"content": [{"type": "input_text", "text": "x", "colour": "red"}]}}',
        "unknown_parameter",
        "item.content[0].colour",
    ),
    (
        "bad tool choice",
        '{"type": "response.create", "response": {"tool_choice": "sometimes"}}',
        "invalid_value",
        "response.tool_choice",
    ),
    (
        "webrtc only",
        '{"type": "output_audio_buffer.clear"}',
        "invalid_value",
        "type",
    ),
]


@pytest.mark.parametrize(
    ("frame", "code", "param"),
    [pytest.param(frame, code, param, id=case) for case, frame, code, param in BAD_FRAMES],
)
@asyncio_test
async def test_bad_frame_gets_the_real_error_and_the_session_survives(
    frame: str | bytes, code: str, param: str | None
) -> None:
    async with running() as server, RealtimeClient.open(server.url, TOKEN) as c:
        await c.next()
        await c.send_raw(frame)
        error = (await c.next_of("error"))["error"]
        assert (error["code"], error["param"]) == (code, param), error
        assert error["type"] == "invalid_request_error"
        await _still_alive(c)


@asyncio_test
async def test_errors_carry_the_client_event_id() -> None:
    async with running() as server, RealtimeClient.open(server.url, TOKEN) as c:
        await c.next()
        await c.send_raw(json.dumps({"type": "conversation.item.create", "event_id": "mine_1"}))
        assert (await c.error_for("mine_1"))["code"] == "missing_required_parameter"
        event_id = await c.send("response.explode")
        assert (await c.error_for(event_id))["code"] == "invalid_value"


@asyncio_test
async def test_a_20_mib_append_is_refused_and_the_session_survives() -> None:
    twenty_mib = base64.b64encode(bytes(15 * 1024 * 1024)).decode()
    assert len(twenty_mib) == 20 * 1024 * 1024
    async with running() as server, RealtimeClient.open(server.url, TOKEN) as c:
        await c.next()
        event_id = await c.send("input_audio_buffer.append", audio=twenty_mib)
        error = await c.error_for(event_id)
        assert error["code"] == "string_above_max_length"
        assert error["param"] == "audio"
        assert "maximum length 15728640" in error["message"]
        assert server.sessions[0].input.buffered_ms == 0
        await _still_alive(c)


# Random frames ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_server() -> Iterator[OfflineServerThread]:
    """One server for every hypothesis example (a fresh connection each)."""
    with start_in_thread(token=TOKEN, pacing=DeltaPacing.fast()) as server:
        yield server


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["audio/pcm", "audio/pcmu", "root", "message", "user", "assistant", "text"]),
)
_json_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "role",
                    "content",
                    "text",
                    "audio",
                    "item_id",
                    "id",
                    "session",
                    "audio_end_ms",
                    "content_index",
                    "turn_detection",
                    "input",
                    "output",
                    "format",
                    "voice",
                    "call_id",
                    "name",
                    "arguments",
                    "output_modalities",
                    "tools",
                ]
            )
            | st.text(max_size=8),
            inner,
            max_size=5,
        ),
    ),
    max_leaves=12,
)
_events = st.builds(
    lambda kind, body: json.dumps({**body, "type": kind}),
    st.sampled_from(CLIENT_TYPES) | st.text(max_size=20),
    st.dictionaries(st.text(max_size=12), _json_values, max_size=4)
    | st.fixed_dictionaries(
        {"item": _json_values, "session": _json_values, "response": _json_values}
    ),
)
# Events shaped like real ones with random values inside, to reach the deeper checks.
_session_fields = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["realtime", "transcription", "other"]) | _scalars,
        "instructions": _json_values,
        "output_modalities": st.lists(st.sampled_from(["audio", "text", "video"]), max_size=3)
        | _json_values,
        "audio": st.fixed_dictionaries(
            {},
            optional={
                "input": st.fixed_dictionaries(
                    {},
                    optional={
                        "format": st.fixed_dictionaries(
                            {},
                            optional={
                                "type": st.sampled_from(["audio/pcm", "audio/pcmu", "pcm16"])
                                | _scalars,
                                "rate": _scalars,
                            },
                        )
                        | _json_values,
                        "turn_detection": st.fixed_dictionaries(
                            {},
                            optional={
                                "type": st.sampled_from(["server_vad", "semantic_vad"]) | _scalars,
                                "threshold": _scalars,
                                "silence_duration_ms": _scalars,
                                "prefix_padding_ms": _scalars,
                                "idle_timeout_ms": _scalars,
                                "eagerness": _scalars,
                                "create_response": _scalars,
                            },
                        )
                        | st.none(),
                        "transcription": _json_values,
                        "noise_reduction": _json_values,
                    },
                ),
                "output": st.fixed_dictionaries(
                    {}, optional={"voice": _json_values, "speed": _scalars, "format": _json_values}
                ),
            },
        ),
        "tools": st.lists(
            st.fixed_dictionaries(
                {}, optional={"type": _scalars, "name": _scalars, "parameters": _json_values}
            ),
            max_size=2,
        )
        | _json_values,
        "tool_choice": _json_values,
        "max_output_tokens": _scalars,
        "truncation": _json_values,
        "include": _json_values,
    },
)
_content_part = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["input_text", "input_audio", "output_text", "input_image"])
        | _scalars,
        "text": _scalars,
        "audio": st.binary(max_size=400).map(lambda b: base64.b64encode(b).decode()) | _scalars,
        "transcript": _scalars,
        "image_url": _scalars,
    },
)
_item = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["message", "function_call", "function_call_output"]) | _scalars,
        "role": st.sampled_from(["user", "assistant", "system"]) | _scalars,
        "content": st.lists(_content_part, max_size=3) | _scalars,
        "id": _scalars,
        "call_id": _scalars,
        "name": _scalars,
        "arguments": _scalars,
        "output": _scalars,
    },
)
_shaped = st.one_of(
    st.builds(
        lambda session: json.dumps({"type": "session.update", "session": session}), _session_fields
    ),
    st.builds(
        lambda item, previous: json.dumps(
            {"type": "conversation.item.create", "item": item, **previous}
        ),
        _item,
        st.fixed_dictionaries({}, optional={"previous_item_id": _scalars}),
    ),
    st.builds(
        lambda response: json.dumps({"type": "response.create", "response": response}),
        st.fixed_dictionaries(
            {},
            optional={
                "output_modalities": _json_values,
                "conversation": _scalars,
                "input": st.lists(_item, max_size=2) | _json_values,
                "tools": _json_values,
                "tool_choice": _json_values,
                "max_output_tokens": _scalars,
                "metadata": _json_values,
                "instructions": _scalars,
                "audio": _json_values,
            },
        ),
    ),
    st.builds(
        lambda fields: json.dumps({"type": "conversation.item.truncate", **fields}),
        st.fixed_dictionaries(
            {}, optional={"item_id": _scalars, "content_index": _scalars, "audio_end_ms": _scalars}
        ),
    ),
)
_frames = st.one_of(
    _events,
    _shaped,
    st.text(max_size=40),
    st.binary(max_size=40),
    _json_values.map(json.dumps),
    st.builds(
        lambda audio: json.dumps({"type": "input_audio_buffer.append", "audio": audio}),
        st.binary(max_size=2000).map(lambda b: base64.b64encode(b).decode()),
    ),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(frames=st.lists(_frames, min_size=1, max_size=8))
def test_random_frames_never_break_a_session(
    shared_server: OfflineServerThread, frames: list[str | bytes]
) -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with RealtimeClient.open(shared_server.url, TOKEN) as c:
            await c.next()
            for frame in frames:
                await c.send_raw(frame)
            await _still_alive(c)
            return c.log

    log = asyncio.run(scenario())
    errors = [e["error"] for e in log if e["type"] == "error"]
    assert not [e for e in errors if e["type"] == "server_error"], errors
    assert shared_server.server.is_running
