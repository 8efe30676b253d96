"""session.update semantics (PROTOCOL.md §4.2) and response.create overrides (§2.2)."""

from __future__ import annotations

import base64
import math
from typing import Any

import numpy as np
import pytest
import soxr

from realtime_desktop.audio.codecs import WireFormat

from .helpers import TOKEN, asyncio_test, running, silence, tools_config, user_text, wire_bytes
from .sdk_client import RealtimeClient


async def _client_error(c: RealtimeClient, session: dict[str, Any]) -> dict[str, Any]:
    event_id = await c.send("session.update", session=session)
    return await c.error_for(event_id)


@asyncio_test
async def test_partial_updates_change_only_what_was_sent() -> None:
    async with running() as server, RealtimeClient.open(server.url, TOKEN) as c:
        created = (await c.next())["session"]
        updated = (await c.update_session(instructions="Be brief."))["session"]
        assert updated["instructions"] == "Be brief."
        assert {k: v for k, v in updated.items() if k != "instructions"} == {
            k: v for k, v in created.items() if k != "instructions"
        }
        # A partial turn_detection resets what it leaves out (openai-realtime-console #35).
        await c.update_session(
            audio={"input": {"turn_detection": {"type": "server_vad", "threshold": 0.9}}}
        )
        updated = (
            await c.update_session(
                audio={
                    "input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 800}}
                }
            )
        )["session"]
        assert updated["audio"]["input"]["turn_detection"] == {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 800,
            "idle_timeout_ms": None,
            "create_response": True,
            "interrupt_response": True,
        }
        # noise_reduction's strength starts at 1 and is kept when a later update omits it.
        await c.update_session(
            audio={"input": {"noise_reduction": {"type": "near_field", "strength": 0.4}}}
        )
        updated = (
            await c.update_session(audio={"input": {"noise_reduction": {"type": "far_field"}}})
        )["session"]
        assert updated["audio"]["input"]["noise_reduction"] == {
            "type": "far_field",
            "strength": 0.4,
        }
        assert updated["audio"]["output"]["voice"] == "marin"
        assert server.sessions[0].config.instructions == "Be brief."


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        ({"temperature": 0.8}, "unknown_parameter", "session.temperature"),
        ({"modalities": ["text"]}, "unknown_parameter", "session.modalities"),
        ({"turn_detection": None}, "unknown_parameter", "session.turn_detection"),
        (
            {"audio": {"input": {"input_audio_noise_reduction": None}}},
            "unknown_parameter",
            "session.audio.input.input_audio_noise_reduction",
        ),
        (
            {"max_response_output_tokens": 10},
            "unknown_parameter",
            "session.max_response_output_tokens",
        ),
        ({"id": "sess_mine"}, "unknown_parameter", "session.id"),
        ({"reasoning": {"effort": "low"}}, "unknown_parameter", "session.reasoning"),
        ({"output_modalities": ["audio", "text"]}, "invalid_value", "session.output_modalities"),
        ({"audio": {"output": {"speed": 2.0}}}, "invalid_value", "session.audio.output.speed"),
        ({"audio": {"output": {"voice": "robot"}}}, "invalid_value", "session.audio.output.voice"),
        (
            {"audio": {"input": {"format": {"type": "pcm16"}}}},
            "invalid_value",
            "session.audio.input.format.type",
        ),
        (
            {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
            "invalid_value",
            "session.audio.input.format.rate",
        ),
        (
            {"audio": {"input": {"turn_detection": {"type": "server_vad", "threshold": 1.5}}}},
            "invalid_value",
            "session.audio.input.turn_detection.threshold",
        ),
        (
            {
                "audio": {
                    "input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 100}}
                }
            },
            "invalid_value",
            "session.audio.input.turn_detection.idle_timeout_ms",
        ),
        (
            {
                "audio": {
                    "input": {"turn_detection": {"type": "semantic_vad", "eagerness": "eager"}}
                }
            },
            "invalid_value",
            "session.audio.input.turn_detection.eagerness",
        ),
        ({"max_output_tokens": 0}, "invalid_value", "session.max_output_tokens"),
        ({"tools": [{"type": "function"}]}, "missing_required_parameter", "session.tools[0].name"),
        (
            {"tools": [{"type": "mcp", "server_label": "x"}]},
            "invalid_value",
            "session.tools[0].type",
        ),
        (
            {"tool_choice": {"type": "function", "name": "nope"}},
            "invalid_value",
            "session.tool_choice.name",
        ),
        ({"model": "gpt-realtime-2"}, "invalid_value", "session.model"),
        ({"type": "transcription"}, "invalid_value", "session.type"),
        ({"instructions": 12}, "invalid_value", "session.instructions"),
    ],
)
@asyncio_test
async def test_ga_updates_refused_with_the_real_codes(
    session: dict[str, Any], code: str, param: str
) -> None:
    async with running() as server, RealtimeClient.open(server.url, TOKEN) as c:
        created = (await c.next())["session"]
        error = await _client_error(
            c, {"type": "realtime", **session} if "type" not in session else session
        )
        assert (error["code"], error["param"]) == (code, param), error
        # A refused update changes nothing.
        assert server.sessions[0].settings.wire() == created


@pytest.mark.parametrize(
    ("session", "code", "param"),
    [
        ({"output_modalities": ["text"]}, "unknown_parameter", "session.output_modalities"),
        ({"audio": {}}, "unknown_parameter", "session.audio"),
        ({"modalities": ["audio"]}, "invalid_value", "session.modalities"),
        ({"temperature": 3.0}, "invalid_value", "session.temperature"),
        ({"input_audio_format": "pcm32"}, "invalid_value", "session.input_audio_format"),
        (
            {"turn_detection": {"type": "server_vad", "threshold": -1}},
            "invalid_value",
            "session.turn_detection.threshold",
        ),
    ],
)
@asyncio_test
async def test_beta_updates_refused_with_beta_paths(
    session: dict[str, Any], code: str, param: str
) -> None:
    async with running() as server, RealtimeClient.open(server.url, TOKEN, dialect="beta") as c:
        await c.next()
        await c.next()
        error = await _client_error(c, session)
        assert (error["code"], error["param"]) == (code, param), error


@asyncio_test
async def test_beta_update_round_trip() -> None:
    async with running() as server, RealtimeClient.open(server.url, TOKEN, dialect="beta") as c:
        await c.next()
        await c.next()
        updated = (
            await c.update_session(
                modalities=["text"],
                voice="shimmer",
                temperature=0.7,
                input_audio_format="g711_ulaw",
                output_audio_format="g711_alaw",
                max_response_output_tokens=200,
                tool_choice="auto",
            )
        )["session"]
        assert updated["modalities"] == ["text"]
        assert updated["voice"] == "shimmer"
        assert updated["temperature"] == 0.7
        assert updated["input_audio_format"] == "g711_ulaw"
        assert updated["output_audio_format"] == "g711_alaw"
        assert updated["max_response_output_tokens"] == 200
        settings = server.sessions[0].settings
        assert settings.input_format is WireFormat.PCMU
        assert settings.output_format is WireFormat.PCMA


@asyncio_test
async def test_reasoning_options_need_a_reasoning_model() -> None:
    async with running() as server:
        url = server.url
        async with RealtimeClient.open(url, TOKEN) as c:
            await c.next()
            assert server.sessions[0].model == "gpt-realtime"
            error = await _client_error(c, {"type": "realtime", "parallel_tool_calls": True})
            assert error["code"] == "unknown_parameter"
        from websockets.asyncio.client import connect

        async with connect(
            url + "?model=gpt-realtime-2", additional_headers={"Authorization": f"Bearer {TOKEN}"}
        ) as ws:
            import json

            await ws.recv()
            await ws.send(
                json.dumps(
                    {
                        "type": "session.update",
                        "session": {"type": "realtime", "reasoning": {"effort": "low"}},
                    }
                )
            )
            reply = json.loads(await ws.recv())
            assert reply["type"] == "session.updated"
            assert reply["session"]["reasoning"] == {"effort": "low"}


@asyncio_test
async def test_output_format_applies_to_echo_audio(speech: Any) -> None:
    audio = np.concatenate((speech("Testing one two three", 24000), silence(0.2)))
    async with running() as server, RealtimeClient.open(server.url, TOKEN) as c:
        await c.next()
        await c.update_session(
            audio={
                "input": {"turn_detection": None},
                "output": {"format": {"type": "audio/pcmu"}},
            }
        )
        await c.append_audio(wire_bytes(audio))
        await c.send("input_audio_buffer.commit")
        await c.send("response.create")
        events = await c.until("response.done")
        echoed = b"".join(
            base64.b64decode(e["delta"])
            for e in events
            if e["type"] == "response.output_audio.delta"
        )
        # 8 kHz mu-law: one byte per sample, a third of the 24 kHz samples.
        assert abs(len(echoed) - len(audio) / 3) <= 2
        decoded = WireFormat.PCMU.decode(echoed)
        reference = soxr.resample(audio, 24000, 8000, "HQ")[: len(decoded)]
        correlation = np.corrcoef(decoded[: len(reference)], reference)[0, 1]
        assert correlation > 0.99
        assert events[-1]["response"]["audio"]["output"]["format"] == {"type": "audio/pcmu"}


@asyncio_test
async def test_response_overrides() -> None:
    async with running() as server, RealtimeClient.open(server.url, TOKEN) as c:
        await c.next()
        await c.update_session(**tools_config("ga", "get_current_time", "get_weather"))
        await c.send("conversation.item.create", item=user_text("what does get_weather say"))
        user = await c.next_of("conversation.item.done")

        # tool_choice none: the tool's name is only a word.
        await c.send(
            "response.create",
            response={"output_modalities": ["text"], "tool_choice": "none", "metadata": {"k": "v"}},
        )
        done = (await c.next_of("response.done"))["response"]
        assert done["output"][0]["type"] == "message"
        assert done["output"][0]["content"][0]["text"] == "what does get_weather say"
        assert done["metadata"] == {"k": "v"}
        assert done["output_modalities"] == ["text"]

        # The tool's name as a word calls it; a forced tool_choice wins.
        await c.send("response.create", response={"output_modalities": ["text"]})
        done = (await c.next_of("response.done"))["response"]
        assert (done["output"][0]["type"], done["output"][0]["name"]) == (
            "function_call",
            "get_weather",
        )
        await c.send(
            "response.create",
            response={"tool_choice": {"type": "function", "name": "get_current_time"}},
        )
        done = (await c.next_of("response.done"))["response"]
        assert done["output"][0]["name"] == "get_current_time"
        assert done["output"][0]["arguments"] == "{}"

        # An out-of-band response over its own input leaves the conversation alone.
        before = len(server.sessions[0].conversation)
        await c.send(
            "response.create",
            response={
                "conversation": "none",
                "output_modalities": ["text"],
                "input": [
                    {"type": "item_reference", "id": user["item"]["id"]},
                    user_text("only this"),
                ],
                "tools": [],
            },
        )
        done = (await c.next_of("response.done"))["response"]
        assert done["conversation_id"] is None
        assert done["output"][0]["content"][0]["text"] == "only this"
        assert len(server.sessions[0].conversation) == before

        # Instructions are billed as input text on every response (same context both times).
        usages = []
        for instructions in ("x" * 400, ""):
            await c.send(
                "response.create",
                response={
                    "conversation": "none",
                    "output_modalities": ["text"],
                    "instructions": instructions,
                    "input": [user_text("same")],
                },
            )
            usages.append((await c.next_of("response.done"))["response"]["usage"])
        texts = [usage["input_token_details"]["text_tokens"] for usage in usages]
        assert texts == [100 + 1, 1]  # 400 characters are 100 tokens; "same" is 1

        bad = await c.send(
            "response.create", response={"input": [{"type": "item_reference", "id": "item_nope"}]}
        )
        assert (await c.error_for(bad))["param"] == "response.input[0].id"
        bad = await c.send("response.create", response={"conversation": "sideways"})
        assert (await c.error_for(bad))["param"] == "response.conversation"


@asyncio_test
async def test_max_output_tokens_ends_a_response_incomplete(speech: Any) -> None:
    async with running() as server, RealtimeClient.open(server.url, TOKEN) as c:
        await c.next()
        await c.update_session(audio={"input": {"turn_detection": None}})
        await c.append_audio(
            wire_bytes(np.concatenate((speech("Seven bright stars", 24000), silence(1.0))))
        )
        await c.send("input_audio_buffer.commit")
        await c.send("response.create", response={"max_output_tokens": 10})
        done = (await c.next_of("response.done"))["response"]
        assert done["status"] == "incomplete"
        assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
        assert done["usage"]["output_tokens"] <= 10
        assert done["output"][0]["status"] == "incomplete"
        assert done["max_output_tokens"] == 10


@asyncio_test
async def test_input_transcription_says_no_recognizer_runs(speech: Any) -> None:
    audio = wire_bytes(np.concatenate((speech("Seven bright stars", 24000), silence(0.2))))
    async with running() as server, RealtimeClient.open(server.url, TOKEN) as c:
        await c.next()
        await c.update_session(
            include=["item.input_audio_transcription.logprobs"],
            audio={
                "input": {
                    "turn_detection": None,
                    "transcription": {"model": "gpt-4o-mini-transcribe", "language": "en"},
                }
            },
        )
        await c.append_audio(audio)
        await c.send("input_audio_buffer.commit")
        events = await c.until("conversation.item.done")
        deltas = [
            e for e in events if e["type"] == "conversation.item.input_audio_transcription.delta"
        ]
        completed = (
            await c.next_of("conversation.item.input_audio_transcription.completed")
            if not [
                e
                for e in events
                if e["type"] == "conversation.item.input_audio_transcription.completed"
            ]
            else next(
                e
                for e in events
                if e["type"] == "conversation.item.input_audio_transcription.completed"
            )
        )
        seconds = len(audio) / 48000
        assert completed["transcript"] == (
            f"[Not transcribed: no speech recognizer runs offline. {seconds:.1f} s of audio.]"
        )
        assert "".join(d["delta"] for d in deltas) == completed["transcript"]
        assert completed["usage"] == {
            "type": "duration",
            "seconds": pytest.approx(seconds, abs=0.001),
        }
        assert completed["logprobs"] == []
        assert events[-1]["item"]["content"][0]["transcript"] == completed["transcript"]
        assert math.isclose(
            server.sessions[0].conversation.audio(completed["item_id"]).duration_ms, seconds * 1000
        )


@asyncio_test
async def test_a_failing_response_ends_failed_and_the_session_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from realtime_desktop.server import assistant

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in the assistant")

    async with running() as server, RealtimeClient.open(server.url, TOKEN) as c:
        await c.next()
        with monkeypatch.context() as patch:
            patch.setattr(assistant, "decide", broken)
            await c.send("response.create", response={"output_modalities": ["text"]})
            done = (await c.next_of("response.done"))["response"]
        assert done["status"] == "failed"
        assert done["status_details"]["type"] == "failed"
        assert done["status_details"]["error"]["type"] == "server_error"
        await c.send("conversation.item.create", item=user_text("again"))
        await c.send("response.create", response={"output_modalities": ["text"]})
        done = (await c.next_of("response.done"))["response"]
        assert done["status"] == "completed"
        bad = await c.send("response.create", response={"audio": {"output": {"voice": "robot"}}})
        assert (await c.error_for(bad))["param"] == "response.audio.output.voice"
