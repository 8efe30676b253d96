"""Issue 4, acceptance 4: sessions are isolated, and nothing outlives a connection.

A client that disconnects in the middle of a response (politely or by cutting TCP) must leave
no task of its session on the server's loop, and ``stop()`` must leave no task at all.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from .helpers import TOKEN, TRICKLE, asyncio_test, running, silence, user_text, wire_bytes
from .sdk_client import RealtimeClient


async def _tasks_settle(baseline: set[asyncio.Task[Any]], within: float = 10.0) -> None:
    """Polls until only the ``baseline`` tasks are left on the loop (or fails)."""
    async with asyncio.timeout(within):
        # Polled: a task ending raises no event anyone could wait on.
        while {t for t in asyncio.all_tasks() if not t.done()} - baseline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("how", ["close", "abort"])
@asyncio_test
async def test_disconnect_mid_response_leaves_no_task(how: str) -> None:
    async with running(pacing=TRICKLE) as server:
        baseline = asyncio.all_tasks()
        async with RealtimeClient.open(server.url, TOKEN) as c:
            created = await c.next()
            await c.send("conversation.item.create", item=user_text("a long answer " * 20))
            await c.send("response.create")
            await c.next_of("response.output_audio.delta")
            session = server.session_by_id(created["session"]["id"])
            assert session is not None
            assert session.active_response is not None
            assert session.task_count >= 2  # the sender, the limit timer, the response
            if how == "abort":
                c.ws.transport.abort()
        async with asyncio.timeout(10):
            await session.closed.wait()
        await _tasks_settle(baseline)
        assert session.task_count == 0
        assert server.sessions == []
        assert list(server.closed_sessions) == [session]
        # The half-spoken answer stays in the conversation as the server held it.
        assert [item.role for item in session.conversation.items] == ["user", "assistant"]


@asyncio_test
async def test_stop_closes_sessions_and_leaves_no_task() -> None:
    server_cm = running(pacing=TRICKLE)
    server = await server_cm.__aenter__()
    try:
        async with RealtimeClient.open(server.url, TOKEN) as c:
            await c.next()
            await c.send("conversation.item.create", item=user_text("keep talking " * 20))
            await c.send("response.create")
            await c.next_of("response.output_audio.delta")
            await server.stop()
            assert await c.wait_closed() == 1001
    finally:
        await server_cm.__aexit__(None, None, None)
    assert {t for t in asyncio.all_tasks() if not t.done()} == {asyncio.current_task()}
    assert not server.is_running


@asyncio_test
async def test_sessions_are_isolated(speech: Any) -> None:
    spoken_turn = wire_bytes(
        np.concatenate(
            (silence(0.3), speech("Hello there, how are you today?", 24000), silence(0.5))
        )
    )
    async with (
        running(pacing=TRICKLE) as server,
        RealtimeClient.open(server.url, TOKEN) as a,
        RealtimeClient.open(server.url, TOKEN) as b,
    ):
        created_a, created_b = await a.next(), await b.next()
        assert created_a["session"]["id"] != created_b["session"]["id"]
        await a.update_session(instructions="only for A", output_modalities=["text"])
        await a.send("conversation.item.create", item=user_text("A's words"))
        await a.next_of("conversation.item.done")
        await a.send("response.create")
        await a.next_of("response.created")

        # B is untouched: default config, empty conversation, and free to respond while A's
        # response runs.
        session_a = server.session_by_id(created_a["session"]["id"])
        session_b = server.session_by_id(created_b["session"]["id"])
        assert session_a is not None
        assert session_b is not None
        assert session_b.config.instructions != "only for A"
        assert session_b.config.output_modalities == ["audio"]
        assert len(session_b.conversation) == 0
        await b.append_audio(spoken_turn)
        await b.next_of("input_audio_buffer.speech_stopped")
        b_answer = await b.next_of("response.created")
        assert b_answer["response"]["conversation_id"] != session_a.conversation.id

        # A's response was not interrupted by B's speech, and A heard nothing of it.
        assert session_a.active_response is not None
        assert not any(e["type"].startswith("input_audio_buffer.speech") for e in a.log)
        assert not any(e["type"] == "session.updated" for e in b.log)
        assert [item.role for item in session_a.conversation.items] == ["user", "assistant"]
        assert [item.role for item in session_b.conversation.items] == ["user", "assistant"]
        assert session_a.conversation.items[0].text == "A's words"
