"""Issue 4, acceptance 1 and 2: a client written against the SDK's types runs every scenario.

Each scenario runs in both dialects: GA, validated against ``openai.types.realtime``, and the
retired beta shape, validated against ``openai.types.beta.realtime`` (the client does that for
every event it receives, see ``sdk_client``). Response structure is checked against
PROTOCOL.md §6.
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import numpy as np
import pytest

from realtime_desktop.server import OfflineServer

from .helpers import (
    AUDIO_RESPONSE,
    FUNCTION_CALL_RESPONSE,
    TEXT_RESPONSE,
    TOKEN,
    TRICKLE,
    asyncio_test,
    decode_deltas,
    expected,
    manual_turns,
    response_structure,
    running,
    silence,
    text_mode,
    tools_config,
    user_text,
    wire_bytes,
)
from .sdk_client import RealtimeClient

DIALECTS = pytest.mark.parametrize("dialect", ["ga", "beta"])
TEXT_PART = {"ga": "output_text", "beta": "text"}


async def _start(client: RealtimeClient) -> dict[str, Any]:
    created = await client.next()
    assert created["type"] == "session.created"
    if client.dialect == "beta":
        assert (await client.next())["type"] == "conversation.created"
    return created


async def _create_item(client: RealtimeClient, item: dict[str, Any]) -> dict[str, Any]:
    """Creates an item; returns the server's copy once the conversation holds it."""
    await client.send("conversation.item.create", item=item)
    added = await client.next_of("conversation.item.added")
    if client.dialect == "ga":
        done = await client.next_of("conversation.item.done")
        assert done["item"] == added["item"]
    return added


def _server_session(server: OfflineServer, created: dict[str, Any]) -> Any:
    session = server.session_by_id(created["session"]["id"])
    assert session is not None
    return session


@DIALECTS
@asyncio_test
async def test_text_turn(dialect: str) -> None:
    async with running() as server, RealtimeClient.open(server.url, TOKEN, dialect=dialect) as c:
        created = await _start(c)
        session = created["session"]
        assert session["expires_at"] > 0
        if dialect == "ga":
            assert session["type"] == "realtime"
            assert session["audio"]["input"]["turn_detection"]["silence_duration_ms"] == 200
        else:
            assert "type" not in session
            assert session["modalities"] == ["audio", "text"]
            assert session["turn_detection"]["type"] == "server_vad"
        await c.update_session(**text_mode(dialect))
        user = await _create_item(c, user_text("Hello there, echo"))
        assert user["previous_item_id"] is None
        assert user["item"]["status"] == "completed"

        await c.send("response.create")
        events = await c.until("response.done")
        response = events[-1]["response"]
        assert response_structure(events, response["id"]) == expected(TEXT_RESPONSE, dialect)
        assert response["status"] == "completed"
        assert response["output"][0]["content"] == [
            {"type": TEXT_PART[dialect], "text": "Hello there, echo"}
        ]
        deltas = [e["delta"] for e in events if e["type"] == c.name("response.output_text.delta")]
        assert "".join(deltas) == "Hello there, echo"
        assert len(deltas) > 1
        # Documented at the start of a response, observed after response.done (§8).
        limits = await c.next()
        assert limits["type"] == "rate_limits.updated"
        assert {limit["name"] for limit in limits["rate_limits"]} == {"requests", "tokens"}

        items = _server_session(server, created).conversation.items
        assert [item.role for item in items] == ["user", "assistant"]
        assert items[1].text == "Hello there, echo"
        assert items[0].id == user["item"]["id"]


@DIALECTS
@asyncio_test
async def test_manual_audio_turn_echoes_the_committed_audio(dialect: str, speech: Any) -> None:
    audio = wire_bytes(np.concatenate((speech("Testing one two three", 24000), silence(0.2))))
    async with running() as server, RealtimeClient.open(server.url, TOKEN, dialect=dialect) as c:
        created = await _start(c)
        await c.update_session(**manual_turns(dialect))
        await c.append_audio(audio)
        await c.send("input_audio_buffer.commit")
        committed = await c.next_of("input_audio_buffer.committed")
        user = await c.next_of("conversation.item.added")
        assert user["item"]["id"] == committed["item_id"]
        assert user["item"]["content"] == [{"type": "input_audio", "transcript": None}]
        assert not [e for e in c.log if e["type"] == "input_audio_buffer.speech_started"]

        await c.send("response.create")
        events = await c.until("response.done")
        response = events[-1]["response"]
        assert response_structure(events, response["id"]) == expected(AUDIO_RESPONSE, dialect)
        assert decode_deltas(events, c.name("response.output_audio.delta")) == audio
        seconds = len(audio) / 48000
        transcript = f"Echo of {seconds:.1f} s of your audio"
        done = [e for e in events if e["type"] == c.name("response.output_audio_transcript.done")]
        assert done[0]["transcript"] == transcript

        # Usage from the published rates: user audio 10 tokens/s in, assistant audio 20 out.
        usage = response["usage"]
        assert usage["input_token_details"]["audio_tokens"] == math.ceil(seconds * 10)
        assert usage["output_token_details"]["audio_tokens"] == math.ceil(seconds * 20)
        assert usage["output_token_details"]["text_tokens"] == math.ceil(len(transcript) / 4)
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]

        await c.send("conversation.item.retrieve", item_id=committed["item_id"])
        retrieved = await c.next_of("conversation.item.retrieved")
        assert base64.b64decode(retrieved["item"]["content"][0]["audio"]) == audio
        clip = _server_session(server, created).conversation.audio(committed["item_id"])
        assert clip.data == audio


@DIALECTS
@asyncio_test
async def test_server_vad_voice_turn_from_espeak_speech(dialect: str, speech: Any) -> None:
    sentence = speech("Hello there, how are you today?", 24000)
    audio = wire_bytes(np.concatenate((silence(0.5), sentence, silence(1.0))))
    async with running() as server, RealtimeClient.open(server.url, TOKEN, dialect=dialect) as c:
        await _start(c)  # the default session: server_vad, create_response, audio answers
        await c.append_audio(audio)
        events = await c.until("response.done")
        kinds = [e["type"] for e in events]
        head = [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
            "response.created",
        ]
        want = expected(head, dialect)
        assert [k for k in kinds if k in set(want)][: len(want)] == want
        started, stopped = events[0], events[1]
        assert started["item_id"] == stopped["item_id"]
        response = events[-1]["response"]
        assert response_structure(events, response["id"]) == expected(AUDIO_RESPONSE, dialect)
        # The echo is exactly the committed audio: prefix padding through the silence that
        # ended the turn.
        start = started["audio_start_ms"] * 48
        end = stopped["audio_end_ms"] * 48
        assert decode_deltas(events, c.name("response.output_audio.delta")) == audio[start:end]
        assert server.sessions[0].conversation.items[0].id == started["item_id"]


@DIALECTS
@asyncio_test
async def test_function_call_round_trip(dialect: str) -> None:
    async with running() as server, RealtimeClient.open(server.url, TOKEN, dialect=dialect) as c:
        created = await _start(c)
        await c.update_session(**text_mode(dialect), **tools_config(dialect, "get_current_time"))
        await _create_item(c, user_text('/call get_current_time {"timezone":"UTC"}'))
        await c.send("response.create")
        events = await c.until("response.done")
        response = events[-1]["response"]
        assert response_structure(events, response["id"]) == expected(
            FUNCTION_CALL_RESPONSE, dialect
        )
        call = response["output"][0]
        assert call["type"] == "function_call"
        assert call["name"] == "get_current_time"
        assert json.loads(call["arguments"]) == {"timezone": "UTC"}
        streamed = "".join(
            e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"
        )
        assert streamed == call["arguments"]
        await c.next_of("rate_limits.updated")

        output = '{"time": "12:00", "timezone": "UTC"}'
        await _create_item(
            c, {"type": "function_call_output", "call_id": call["call_id"], "output": output}
        )
        await c.send("response.create")
        events = await c.until("response.done")
        answer = events[-1]["response"]["output"][0]["content"][0]["text"]
        assert answer == f"The get_current_time tool returned: {output}"
        kinds = [item.type for item in _server_session(server, created).conversation.items]
        assert kinds == ["message", "function_call", "function_call_output", "message"]


@DIALECTS
@asyncio_test
async def test_barge_in_cancels_and_truncate_drops_the_transcript(
    dialect: str, speech: Any
) -> None:
    first = wire_bytes(np.concatenate((speech("Good morning everybody.", 24000), silence(0.6))))
    second = wire_bytes(np.concatenate((speech("Open the window please.", 24000), silence(0.6))))
    async with running(pacing=TRICKLE) as server:
        async with RealtimeClient.open(server.url, TOKEN, dialect=dialect) as c:
            session = await _start(c)
            await c.append_audio(first)
            delta = await c.next_of("response.output_audio.delta")
            answer_id = delta["item_id"]
            # The user talks over the answer, which is still trickling out.
            await c.append_audio(second)
            events = await c.until("response.done")
            response = events[-1]["response"]
            assert events[0]["type"] == "input_audio_buffer.speech_started"
            assert response["status"] == "cancelled"
            assert response["status_details"]["reason"] == "turn_detected"
            assert response["output"][0]["status"] == "incomplete"
            tail = [e["type"] for e in events if e["type"] != "input_audio_buffer.speech_started"]
            want = expected(
                [
                    "response.output_audio.done",
                    "response.output_audio_transcript.done",
                    "response.content_part.done",
                    "response.output_item.done",
                    "conversation.item.done",
                    "response.done",
                ],
                dialect,
            )
            assert tail[-len(want) :] == want

            await c.send(
                "conversation.item.truncate", item_id=answer_id, content_index=0, audio_end_ms=40
            )
            truncated = await c.next_of("conversation.item.truncated")
            assert truncated["audio_end_ms"] == 40
            await c.send("conversation.item.retrieve", item_id=answer_id)
            retrieved = await c.next_of("conversation.item.retrieved")
            part = retrieved["item"]["content"][0]
            assert "transcript" not in part or part["transcript"] in (None, "")
            assert len(base64.b64decode(part["audio"])) == 40 * 48

            # The second turn still ends and gets its own answer; its first events may have
            # arrived while the truncation was answered.
            created = [e for e in c.log if e["type"] == "response.created"]
            if len(created) < 2:
                created.append(await c.next_of("response.created"))
            assert any(e["type"] == "input_audio_buffer.speech_stopped" for e in c.log)
            await c.send("response.cancel")
            done = await c.next_of("response.done")
            assert done["response"]["id"] == created[1]["response"]["id"]
            assert done["response"]["status_details"]["reason"] == "client_cancelled"
        items = _server_session(server, session).conversation.items
        assert [item.role for item in items] == ["user", "assistant", "user", "assistant"]


@DIALECTS
@asyncio_test
async def test_cancel(dialect: str) -> None:
    async with (
        running(pacing=TRICKLE) as server,
        RealtimeClient.open(server.url, TOKEN, dialect=dialect) as c,
    ):
        await _start(c)
        await c.update_session(**text_mode(dialect))
        await _create_item(c, user_text("one two three four five six seven"))
        await c.send("response.create")
        await c.next_of("response.output_text.delta")
        await c.send("response.cancel")
        events = await c.until("response.done")
        response = events[-1]["response"]
        assert response["status"] == "cancelled"
        assert response["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
        text_done = [e for e in events if e["type"] == c.name("response.output_text.done")]
        assert len(text_done) == 1
        assert "seven" not in text_done[0]["text"]
        assert response["usage"]["output_tokens"] >= 1

        cancel_id = await c.send("response.cancel")
        error = await c.error_for(cancel_id)
        assert error["code"] == "response_cancel_not_active"
        assert error["message"] == "Cancellation failed: no active response found"


@DIALECTS
@asyncio_test
async def test_active_response_and_out_of_band_response(dialect: str) -> None:
    async with (
        running(pacing=TRICKLE) as server,
        RealtimeClient.open(server.url, TOKEN, dialect=dialect) as c,
    ):
        created = await _start(c)
        await c.update_session(**text_mode(dialect))
        # Forty words at TRICKLE's pace keep the answer running for the whole test.
        await _create_item(c, user_text(" ".join(["word"] * 40)))
        await c.send("response.create")
        running_response = (await c.next_of("response.created"))["response"]
        second = await c.send("response.create")
        error = await c.error_for(second)
        assert error["code"] == "conversation_already_has_active_response"
        assert running_response["id"] in error["message"]

        # An out-of-band response may run beside it and stays out of the conversation.
        await c.send(
            "response.create",
            response={
                "conversation": "none",
                "metadata": {"purpose": "summary"},
                "input": [user_text("short")],
            },
        )
        done = await c.next_of("response.done")
        assert done["response"]["id"] != running_response["id"]
        assert done["response"]["conversation_id"] is None
        assert done["response"]["metadata"] == {"purpose": "summary"}
        out_of_band_item = done["response"]["output"][0]["id"]
        assert out_of_band_item not in _server_session(server, created).conversation
        await c.send("response.cancel", response_id=running_response["id"])
        cancelled = await c.next_of("response.done")
        assert cancelled["response"]["id"] == running_response["id"]


@DIALECTS
@asyncio_test
async def test_error_cases_keep_the_session(dialect: str) -> None:
    async with running() as server, RealtimeClient.open(server.url, TOKEN, dialect=dialect) as c:
        created = await _start(c)
        await c.update_session(**text_mode(dialect), **manual_turns(dialect))

        if dialect == "ga":
            bad = await c.send("session.update", session={"instructions": "no type"})
            error = await c.error_for(bad)
            assert (error["code"], error["param"]) == ("missing_required_parameter", "session.type")
            bad = await c.send("session.update", session={"type": "realtime", "voice": "alloy"})
            error = await c.error_for(bad)
            assert (error["code"], error["param"]) == ("unknown_parameter", "session.voice")
        else:
            bad = await c.send("session.update", session={"type": "realtime"})
            error = await c.error_for(bad)
            assert (error["code"], error["param"]) == ("unknown_parameter", "session.type")

        await c.append_audio(wire_bytes(silence(0.05)))
        bad = await c.send("input_audio_buffer.commit")
        error = await c.error_for(bad)
        assert error["code"] == "input_audio_buffer_commit_empty"
        assert "but buffer only has 50.00ms of audio" in error["message"]

        bad = await c.send(
            "conversation.item.create", previous_item_id="item_missing", item=user_text("x")
        )
        error = await c.error_for(bad)
        assert (error["code"], error["param"]) == ("invalid_value", "previous_item_id")

        for event_type in ("conversation.item.retrieve", "conversation.item.delete"):
            bad = await c.send(event_type, item_id="item_missing")
            assert (await c.error_for(bad))["param"] == "item_id"

        first = await _create_item(c, user_text("first"))
        rooted = await c.send(
            "conversation.item.create", previous_item_id="root", item=user_text("before all")
        )
        added = await c.next_of("conversation.item.added")
        assert added["previous_item_id"] is None
        assert rooted
        ids = [item.id for item in _server_session(server, created).conversation.items]
        assert ids == [added["item"]["id"], first["item"]["id"]]

        bad = await c.send(
            "conversation.item.truncate",
            item_id=first["item"]["id"],
            content_index=0,
            audio_end_ms=10,
        )
        error = await c.error_for(bad)
        assert error["code"] == "unsupported_content_type"

        await c.send("conversation.item.delete", item_id=first["item"]["id"])
        deleted = await c.next_of("conversation.item.deleted")
        assert deleted["item_id"] == first["item"]["id"]

        bad = await c.send("response.create", response={"output_modalities": ["audio", "text"]})
        error = await c.error_for(bad)
        if dialect == "ga":
            assert (error["code"], error["param"]) == (
                "invalid_value",
                "response.output_modalities",
            )
        else:  # beta's audio modality is ["audio", "text"]; a GA key is unknown there
            assert error["code"] == "unknown_parameter"

        # Still alive: a normal turn works.
        await c.send("response.create")
        done = await c.next_of("response.done")
        assert done["response"]["status"] == "completed"


@DIALECTS
@asyncio_test
async def test_truncate_checks_the_audio_length(dialect: str, speech: Any) -> None:
    audio = wire_bytes(speech("Seven bright stars", 24000))
    async with running() as server, RealtimeClient.open(server.url, TOKEN, dialect=dialect) as c:
        await _start(c)
        await c.update_session(**manual_turns(dialect))
        await c.append_audio(audio)
        await c.send("input_audio_buffer.commit")
        await c.send("response.create")
        done = await c.next_of("response.done")
        answer = done["response"]["output"][0]
        length_ms = len(audio) // 48
        bad = await c.send(
            "conversation.item.truncate",
            item_id=answer["id"],
            content_index=0,
            audio_end_ms=length_ms + 500,
        )
        error = await c.error_for(bad)
        assert error["message"] == (
            f"Audio content of {length_ms}ms is already shorter than {length_ms + 500}ms"
        )
        # Voice is locked once assistant audio exists (PROTOCOL.md §9.6).
        voice = {"voice": "ash"} if dialect == "beta" else {"audio": {"output": {"voice": "ash"}}}
        session = voice if dialect == "beta" else {"type": "realtime", **voice}
        bad = await c.send("session.update", session=session)
        assert (await c.error_for(bad))["code"] == "cannot_update_voice"
        assert server.sessions[0].conversation.audio(answer["id"]).data == audio


@DIALECTS
@asyncio_test
async def test_cancel_then_truncate_at_once_keeps_the_cut(dialect: str) -> None:
    """The app's Interrupt button sends both without waiting for response.done."""
    async with (
        running(pacing=TRICKLE) as server,
        RealtimeClient.open(server.url, TOKEN, dialect=dialect) as c,
    ):
        created = await _start(c)
        await _create_item(c, user_text("Please read this sentence aloud to me."))
        await c.send("response.create")
        delta = await c.next_of("response.output_audio.delta")
        await c.send("response.cancel")
        await c.send(
            "conversation.item.truncate", item_id=delta["item_id"], content_index=0, audio_end_ms=10
        )
        done = await c.next_of("response.done")
        assert done["response"]["status"] == "cancelled"
        if not any(e["type"] == "conversation.item.truncated" for e in c.log):
            await c.next_of("conversation.item.truncated")
        item = _server_session(server, created).conversation.get(delta["item_id"])
        assert item is not None
        assert item.content[0].transcript is None  # type: ignore[union-attr]
        clip = _server_session(server, created).conversation.audio(delta["item_id"])
        assert clip is not None
        assert clip.duration_ms == 10
