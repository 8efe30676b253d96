"""Embedding the server: its own thread, the official SDK's connect, what a test can read back,
and how text is spoken (espeak-ng, or the honest chime without it)."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from typing import Any

import pytest
from openai import AsyncOpenAI

from realtime_desktop.audio import espeak
from realtime_desktop.server import DeltaPacing, ServerConfig, start_in_thread
from realtime_desktop.server.speech import TONE_NOTICE, ToneSpeaker, choose_speaker

from .helpers import TOKEN, asyncio_test, running, user_text
from .sdk_client import RealtimeClient, validate


def test_thread_server_replay_and_read_back() -> None:
    """What issue 7's "continue in a new session" relies on: replayed items arrive in the
    server's conversation, in order, and /history reports them."""
    history = [
        user_text("What is the capital of France?"),
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Paris."}],
        },
        user_text("And of Italy?"),
    ]

    with start_in_thread(ServerConfig(token=TOKEN, pacing=DeltaPacing.fast())) as running_server:
        assert running_server.url.startswith("ws://127.0.0.1:")

        async def replay() -> tuple[str, str]:
            async with RealtimeClient.open(running_server.url, TOKEN) as c:
                session_id = (await c.next())["session"]["id"]
                await c.update_session(output_modalities=["text"])
                for item in history:
                    await c.send("conversation.item.create", item=item)
                    await c.next_of("conversation.item.done")
                await c.send("conversation.item.create", item=user_text("/history"))
                await c.send("response.create")
                done = await c.next_of("response.done")
                return session_id, done["response"]["output"][0]["content"][0]["text"]

        session_id, summary = asyncio.run(replay())

        def texts() -> list[tuple[str | None, str]]:
            session = running_server.server.session_by_id(session_id)
            assert session is not None
            return [(item.role, item.text) for item in session.conversation.items]  # type: ignore[union-attr]

        assert running_server.call(texts) == [
            ("user", "What is the capital of France?"),
            ("assistant", "Paris."),
            ("user", "And of Italy?"),
            ("user", "/history"),
            ("assistant", summary),
        ]
        assert summary.splitlines() == [
            "The conversation holds 3 earlier items: 2 from the user, 1 from the assistant, "
            "0 tool calls.",
            "1. user: What is the capital of France?",
            "2. assistant: Paris.",
            "3. user: And of Italy?",
        ]
        assert running_server.run(asyncio.sleep(0, result="on the loop")) == "on the loop"
    assert not [t for t in threading.enumerate() if t.name == "offline-realtime-server"]


@pytest.mark.parametrize("dialect", ["ga", "beta"])
@asyncio_test
async def test_the_official_sdk_connects(dialect: str) -> None:
    """The openai package's own realtime connect, pointed at the offline server."""
    async with running() as server:
        client = AsyncOpenAI(api_key=TOKEN, websocket_base_url=server.url.removesuffix("/realtime"))
        realtime = client.realtime if dialect == "ga" else client.beta.realtime
        async with realtime.connect(model="gpt-realtime") as connection:
            received: list[dict[str, Any]] = []

            async def until(event_type: str) -> dict[str, Any]:
                while True:
                    payload = json.loads(await connection.recv_bytes())
                    validate(payload, dialect)
                    received.append(payload)
                    if payload["type"] == event_type:
                        return payload

            await until("session.created")
            session: dict[str, Any] = (
                {"type": "realtime", "output_modalities": ["text"]}
                if dialect == "ga"
                else {"modalities": ["text"]}
            )
            await connection.session.update(session=session)  # type: ignore[arg-type]
            await until("session.updated")
            await connection.conversation.item.create(item=user_text("Hello from the SDK"))  # type: ignore[arg-type]
            await connection.response.create()
            done = await until("response.done")
            assert [s.dialect for s in server.sessions] == [dialect]
        assert done["response"]["output"][0]["content"][0]["text"] == "Hello from the SDK"


@asyncio_test
async def test_text_is_spoken_with_espeak(speech: Any) -> None:
    async with running(speech="espeak") as server, RealtimeClient.open(server.url, TOKEN) as c:
        assert server.speaker_name == "espeak-ng"
        await c.next()
        await c.send("conversation.item.create", item=user_text("Hello world"))
        await c.send("response.create")
        events = await c.until("response.done")
        audio = b"".join(
            base64.b64decode(e["delta"])
            for e in events
            if e["type"] == "response.output_audio.delta"
        )
        transcript = next(
            e for e in events if e["type"] == "response.output_audio_transcript.done"
        )["transcript"]
        assert transcript == "Hello world"
        # About as long as espeak-ng speaks it, and not silence.
        assert len(audio) == len(speech("Hello world", 24000)) * 2
        assert (
            max(
                abs(int.from_bytes(audio[i : i + 2], "little", signed=True))
                for i in range(0, len(audio), 2)
            )
            > 3000
        )


@asyncio_test
async def test_without_espeak_a_chime_says_what_it_is() -> None:
    async with running(speech="tone") as server, RealtimeClient.open(server.url, TOKEN) as c:
        await c.next()
        await c.send("conversation.item.create", item=user_text("Hello world"))
        await c.send("response.create")
        events = await c.until("response.done")
        transcript = next(
            e for e in events if e["type"] == "response.output_audio_transcript.done"
        )["transcript"]
        assert transcript == f"{TONE_NOTICE} Hello world"
        audio = b"".join(
            base64.b64decode(e["delta"])
            for e in events
            if e["type"] == "response.output_audio.delta"
        )
        chime = ToneSpeaker().speak("x", 24000).samples
        assert len(audio) == len(chime) * 2


def test_choose_speaker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(espeak, "espeak_available", lambda: False)
    assert choose_speaker("auto").name == "tone"
    with pytest.raises(espeak.EspeakUnavailableError):
        choose_speaker("espeak")
    monkeypatch.setattr(espeak, "espeak_available", lambda: True)
    assert choose_speaker("auto").name == "espeak-ng"
    assert choose_speaker("tone").name == "tone"
