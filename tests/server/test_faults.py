"""Fault injection: every fault does what it says, as a flag (Faults) and on a live session."""

from __future__ import annotations

import json
import math
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from realtime_desktop.server import DeltaPacing, Faults
from realtime_desktop.server.outbox import UNKNOWN_EVENT_TYPE

from .helpers import TOKEN, asyncio_test, running, user_text
from .sdk_client import RealtimeClient, validate

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def _text_turn(c: RealtimeClient, text: str = "hello") -> None:
    await c.send("conversation.item.create", item=user_text(text))
    await c.send("response.create", response={"output_modalities": ["text"]})


@asyncio_test
async def test_drop_after_events_cuts_tcp_without_a_close_frame() -> None:
    async with (
        running(faults=Faults(drop_after_events=4)) as server,
        RealtimeClient.open(server.url, TOKEN) as c,
    ):
        await c.next()
        await _text_turn(c)
        assert await c.wait_closed() == 1006  # no close frame: abnormal closure
        assert len(c.log) == 4
        assert c.ws.close_reason == ""


@asyncio_test
async def test_drop_at_a_random_moment_is_reproducible_with_a_seed() -> None:
    faults = Faults(drop_within_s=0.3, seed=7)
    async with running(faults=faults) as server, RealtimeClient.open(server.url, TOKEN) as c:
        assert await c.wait_closed() == 1006
        assert server.closed_sessions[0].events_sent == 1  # only session.created got out


@asyncio_test
async def test_session_drop_now() -> None:
    async with running() as server, RealtimeClient.open(server.url, TOKEN) as c:
        await c.next()
        server.sessions[0].drop()
        assert await c.wait_closed() == 1006


@asyncio_test
async def test_frame_delay_holds_every_frame() -> None:
    async with running(faults=Faults(frame_delay_ms=60)) as server:
        started = time.monotonic()
        async with RealtimeClient.open(server.url, TOKEN) as c:
            await c.next()
            await c.send("input_audio_buffer.clear")
            await c.next_of("input_audio_buffer.cleared")
        # A lower bound only: two frames cannot arrive before two delays have passed.
        assert time.monotonic() - started >= 0.12


@asyncio_test
async def test_malformed_frame_then_the_session_goes_on() -> None:
    async with (
        running(faults=Faults(malformed_frame_after_events=1)) as server,
        connect(server.url, additional_headers=AUTH) as ws,
    ):
        assert json.loads(await ws.recv())["type"] == "session.created"
        with pytest.raises(json.JSONDecodeError):
            json.loads(await ws.recv())
        await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
        assert json.loads(await ws.recv())["type"] == "input_audio_buffer.cleared"


@asyncio_test
async def test_unknown_event_type() -> None:
    async with (
        running(faults=Faults(unknown_event_after_events=1)) as server,
        connect(server.url, additional_headers=AUTH) as ws,
    ):
        await ws.recv()
        unknown = json.loads(await ws.recv())
        assert unknown["type"] == UNKNOWN_EVENT_TYPE
        with pytest.raises(AssertionError, match="not an SDK server event"):
            validate(unknown, "ga")


@asyncio_test
async def test_huge_event_is_5_mib_and_valid() -> None:
    async with running(faults=Faults(huge_event_after_events=1)) as server:
        async with connect(server.url, additional_headers=AUTH, max_size=None) as ws:
            await ws.recv()
            frame = await ws.recv()
            assert len(frame) > 5 * 1024 * 1024
            huge = json.loads(frame)
            validate(huge, "ga")
            assert huge["type"] == "session.updated"
        # A client with websockets' default 1 MiB limit cannot take it (PROTOCOL.md §9.21).
        async with connect(server.url, additional_headers=AUTH) as ws:
            await ws.recv()
            with pytest.raises(ConnectionClosedError) as caught:
                await ws.recv()
            assert caught.value.sent is not None
            assert caught.value.sent.code == 1009


@pytest.mark.parametrize(
    ("text", "pacing"),
    [("fast", DeltaPacing.fast()), ("normal", DeltaPacing()), ("slow", DeltaPacing.slow())],
)
def test_pacing_presets(text: str, pacing: DeltaPacing) -> None:
    assert DeltaPacing.parse(text) == pacing
    assert DeltaPacing.parse("2.5").realtime_factor == 2.5
    assert DeltaPacing.fast().audio_pause_s(100) == 0
    assert DeltaPacing.slow().audio_pause_s(100) == pytest.approx(0.2)  # slower than real time
    assert DeltaPacing().audio_pause_s(100) == pytest.approx(0.025)
    with pytest.raises(ValueError, match="pace"):
        DeltaPacing.parse("sideways")
    with pytest.raises(ValueError, match="realtime_factor"):
        DeltaPacing(realtime_factor=0)
    assert math.isinf(DeltaPacing.fast().realtime_factor)


def test_fault_values_are_checked() -> None:
    with pytest.raises(ValueError, match="drop_after_events"):
        Faults(drop_after_events=0)
    with pytest.raises(ValueError, match="frame_delay_ms"):
        Faults(frame_delay_ms=-1)
    assert not Faults().any
    assert Faults(reject_auth=True).any


@asyncio_test
async def test_faults_changed_at_run_time_apply_to_new_connections() -> None:
    async with running() as server:
        async with RealtimeClient.open(server.url, TOKEN) as first:
            await first.next()
            server.faults = Faults(drop_after_events=1)
            await first.send("input_audio_buffer.clear")
            await first.next_of("input_audio_buffer.cleared")  # the open session is unaffected
        async with RealtimeClient.open(server.url, TOKEN) as second:
            assert await second.wait_closed() == 1006
            assert len(second.log) == 1
