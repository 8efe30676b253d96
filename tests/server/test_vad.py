"""Issue 4, acceptance 3: turn detection on real speech.

espeak-ng sentences separated by silences must give one speech_started/stopped pair per
sentence, with boundaries within 100 ms of the truth measured on the generated audio. The
reported offsets include the prefix padding and the silence window (SDK docstrings), so the
speech itself is ``audio_start_ms + prefix_padding_ms`` to ``audio_end_ms - silence_duration_ms``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from realtime_desktop.audio.codecs import WireFormat

from .helpers import (
    TOKEN,
    TRICKLE,
    asyncio_test,
    running,
    sentences_with_pauses,
    silence,
    wire_bytes,
)
from .sdk_client import RealtimeClient

SENTENCES = [
    "Hello there, how are you today?",
    "Seven bright stars shine above the quiet harbor.",
    "My name is Alice and I live in London.",
]
TOLERANCE_MS = 100


async def _turns(client: RealtimeClient, count: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    pairs = []
    for _ in range(count):
        started = await client.next_of("input_audio_buffer.speech_started")
        stopped = await client.next_of("input_audio_buffer.speech_stopped")
        assert stopped["item_id"] == started["item_id"]
        pairs.append((started, stopped))
    return pairs


@pytest.mark.parametrize(
    ("fmt", "silence_ms", "prefix_ms"),
    [
        (WireFormat.PCM16, 200, 300),  # the session defaults
        (WireFormat.PCMU, 500, 0),
        (WireFormat.PCMA, 350, 150),
    ],
)
@asyncio_test
async def test_one_turn_per_sentence_within_100_ms(
    fmt: WireFormat, silence_ms: int, prefix_ms: int, speech: Any
) -> None:
    audio, truth = sentences_with_pauses(SENTENCES, fmt.sample_rate)
    turn_detection = {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": prefix_ms,
        "silence_duration_ms": silence_ms,
        "create_response": False,
        "interrupt_response": True,
    }
    async with running() as server, RealtimeClient.open(server.url, TOKEN) as c:
        await c.next()
        await c.update_session(
            audio={"input": {"format": {"type": fmt.type}, "turn_detection": turn_detection}}
        )
        await c.append_audio(wire_bytes(audio, fmt), chunk_bytes=20 * fmt.bytes_per_ms)
        pairs = await _turns(c, len(SENTENCES))
        # One more second of silence must not produce another turn.
        await c.append_audio(wire_bytes(silence(1.0, fmt.sample_rate), fmt))
        await c.send("input_audio_buffer.clear")
        await c.next_of("input_audio_buffer.cleared")
        starts = [e for e in c.log if e["type"] == "input_audio_buffer.speech_started"]
        assert len(starts) == len(SENTENCES)

        for (started, stopped), (onset, offset) in zip(pairs, truth, strict=True):
            assert abs(started["audio_start_ms"] + prefix_ms - onset) <= TOLERANCE_MS
            assert abs(stopped["audio_end_ms"] - silence_ms - offset) <= TOLERANCE_MS
        # Each committed item holds exactly the audio between the reported offsets.
        conversation = server.sessions[0].conversation
        for started, stopped in pairs:
            clip = conversation.audio(started["item_id"])
            assert clip is not None
            assert clip.format is fmt
            span_ms = stopped["audio_end_ms"] - started["audio_start_ms"]
            assert abs(clip.duration_ms - span_ms) <= 1


@pytest.mark.parametrize(("eagerness", "window_ms"), [("high", 250), ("low", 1200)])
@asyncio_test
async def test_semantic_vad_eagerness_sets_the_silence_window(
    eagerness: str, window_ms: int, speech: Any
) -> None:
    audio, truth = sentences_with_pauses(SENTENCES[:1], 24000, gap_s=2.0)
    async with running() as server, RealtimeClient.open(server.url, TOKEN) as c:
        await c.next()
        updated = await c.update_session(
            audio={
                "input": {
                    "turn_detection": {
                        "type": "semantic_vad",
                        "eagerness": eagerness,
                        "create_response": False,
                    }
                }
            }
        )
        detection = updated["session"]["audio"]["input"]["turn_detection"]
        assert detection == {
            "type": "semantic_vad",
            "eagerness": eagerness,
            "create_response": False,
            "interrupt_response": True,
        }
        await c.append_audio(wire_bytes(audio))
        ((_started, stopped),) = await _turns(c, 1)
        assert abs(stopped["audio_end_ms"] - window_ms - truth[0][1]) <= TOLERANCE_MS


@asyncio_test
async def test_idle_timeout_commits_the_silence_and_answers() -> None:
    async with running() as server, RealtimeClient.open(server.url, TOKEN) as c:
        await c.next()
        await c.update_session(
            output_modalities=["text"],
            audio={
                "input": {
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.5,
                        "prefix_padding_ms": 300,
                        "silence_duration_ms": 200,
                        "idle_timeout_ms": 5000,
                        "create_response": True,
                        "interrupt_response": True,
                    }
                }
            },
        )
        await c.append_audio(wire_bytes(silence(4.5)))
        await c.append_audio(wire_bytes(silence(1.0)))
        triggered = await c.next_of("input_audio_buffer.timeout_triggered")
        assert triggered["audio_start_ms"] == 0
        assert 5000 <= triggered["audio_end_ms"] <= 5100
        committed = await c.next_of("input_audio_buffer.committed")
        assert committed["item_id"] == triggered["item_id"]
        done = await c.next_of("response.done")
        text = done["response"]["output"][0]["content"][0]["text"]
        assert text == "I heard nothing for 5 seconds. Say something and I will play it back."
        clip = server.sessions[0].conversation.audio(triggered["item_id"])
        assert clip is not None
        assert clip.duration_ms == triggered["audio_end_ms"] - triggered["audio_start_ms"]


@asyncio_test
async def test_without_interrupt_response_a_new_turn_cannot_start_a_response(
    speech: Any,
) -> None:
    first = wire_bytes(np.concatenate((speech("Good morning everybody.", 24000), silence(0.6))))
    second = wire_bytes(np.concatenate((speech("Open the window please.", 24000), silence(0.6))))
    async with running(pacing=TRICKLE) as server, RealtimeClient.open(server.url, TOKEN) as c:
        await c.next()
        await c.update_session(
            audio={
                "input": {
                    "turn_detection": {
                        "type": "server_vad",
                        "threshold": 0.5,
                        "prefix_padding_ms": 300,
                        "silence_duration_ms": 200,
                        "create_response": True,
                        "interrupt_response": False,
                    }
                }
            }
        )
        await c.append_audio(first)
        running_response = await c.next_of("response.created")
        await c.append_audio(second)
        await c.next_of("input_audio_buffer.speech_stopped")
        error = await c.next_of("error")
        assert error["error"]["code"] == "conversation_already_has_active_response"
        assert running_response["response"]["id"] in error["error"]["message"]
        done = [e for e in c.log if e["type"] == "response.done"]
        assert not done  # the first answer was not interrupted
        assert server.sessions[0].active_response is not None


@asyncio_test
async def test_turn_detection_off_means_manual_commits_only(speech: Any) -> None:
    audio, _ = sentences_with_pauses(SENTENCES[:2], 24000)
    async with running() as server, RealtimeClient.open(server.url, TOKEN) as c:
        await c.next()
        await c.update_session(audio={"input": {"turn_detection": None}})
        await c.append_audio(wire_bytes(audio))
        await c.send("input_audio_buffer.commit")
        committed = await c.next_of("input_audio_buffer.committed")
        kinds = {e["type"] for e in c.log}
        assert "input_audio_buffer.speech_started" not in kinds
        clip = server.sessions[0].conversation.audio(committed["item_id"])
        assert clip is not None
        assert clip.data == wire_bytes(audio)
