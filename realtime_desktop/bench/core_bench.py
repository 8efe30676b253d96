"""``realtime-desktop-bench core``: what the core costs the main loop, and how fast it recovers.

Three figures (issue 3's closing note):

* ``audio_delta``: main-loop time per received ``response.output_audio.delta``, timed per delta:
  parse → ``Conversation.apply`` → ``ResponseSequencer.should_play`` → base64 decode
  (``realtime_desktop.audio.codecs.b64decode_audio``) → hand-off to playback with
  ``AudioEngine.enqueue_playback`` on a running engine (the fake backend in real-time mode, so the
  DSP thread drains the queue and competes for the GIL as it does in the app). Median and p99.
* ``audio_delta_over_websocket``: the same work fed by a real :class:`RealtimeSession` over a
  loopback WebSocket from a server in another thread; the main thread's CPU time per delta
  (websockets framing, the session's bookkeeping and its event queue included).
* ``reconnect``: from the server dropping the TCP connection (no close frame) to the session
  being ``connected`` again with its configuration re-applied and the conversation replayed and
  acknowledged; median over several runs, with no backoff delay (the protocol work) and with the
  app's default backoff (what a user waits).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import statistics
import threading
import time
from collections.abc import Coroutine
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from realtime_desktop.bench.stats import summary
from realtime_desktop.core import (
    ConnectionSettings,
    Conversation,
    RealtimeSession,
    ResponseSequencer,
    SessionState,
    StateChange,
)
from realtime_desktop.protocol import (
    MessageItem,
    RealtimeSessionConfig,
    ResponseOutputAudioDelta,
    parse_server_event,
)

_BENCH_KEY = "bench-token-not-a-secret"
_quiet_server_log = logging.getLogger("realtime_desktop.bench.core_bench.server")
_quiet_server_log.propagate = False


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--deltas", type=int, default=3000, help="audio deltas timed")
    parser.add_argument("--delta-ms", type=int, default=40, help="audio per delta, 24 kHz PCM16")
    parser.add_argument("--reconnect-runs", type=int, default=7, help="drops per configuration")
    parser.add_argument("--replay-items", type=int, default=20, help="conversation replayed")
    parser.add_argument(
        "--reconnect-delay",
        type=float,
        default=ConnectionSettings().reconnect_delay,
        help="backoff base of the 'with backoff' runs (the app default)",
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    server = _BenchServer()
    server.start()
    try:
        handoff = _PlaybackHandoff()
        try:
            pipeline = _time_delta_pipeline(args.deltas, args.delta_ms, handoff)
            over_ws = await _time_deltas_over_websocket(server, args.deltas, args.delta_ms, handoff)
        finally:
            handoff.close()
        protocol_only = await _time_reconnects(server, args.reconnect_runs, args.replay_items, 0.0)
        with_backoff = await _time_reconnects(
            server, max(3, args.reconnect_runs // 2), args.replay_items, args.reconnect_delay
        )
    finally:
        server.stop()
    return {
        "audio_delta": {
            "unit": "us per delta",
            "delta_ms": args.delta_ms,
            "deltas": args.deltas,
            "handoff": handoff.description,
            **summary(pipeline),
        },
        "audio_delta_over_websocket": {
            "unit": "us main-thread CPU per delta",
            **over_ws,
        },
        "reconnect_after_drop": {
            "unit": "ms from the drop to connected + replayed",
            "replayed_items": args.replay_items,
            "no_backoff": protocol_only,
            "with_backoff": {"reconnect_delay_s": args.reconnect_delay, **with_backoff},
        },
    }


# The hand-off to playback -------------------------------------------------------------------------


class _PlaybackHandoff:
    """Decoded audio into the audio engine's playback queue, as the controller does."""

    def __init__(self) -> None:
        from realtime_desktop.audio.backends import FakeBackend
        from realtime_desktop.audio.codecs import b64decode_audio
        from realtime_desktop.audio.engine import AudioEngine, AudioEngineConfig

        self._decode = b64decode_audio
        self._engine = AudioEngine(
            AudioEngineConfig(echo_cancellation=False, noise_suppression=False),
            FakeBackend(realtime=True),
        )
        self._engine.start()
        self.description = (
            "realtime_desktop.audio.codecs.b64decode_audio + AudioEngine.enqueue_playback "
            "(running engine on FakeBackend(realtime=True): its DSP thread drains the queue)"
        )

    def __call__(self, item_id: str, delta: str) -> None:
        self._engine.enqueue_playback(item_id, self._decode(delta))

    def close(self) -> None:
        self._engine.stop()


def _delta_frames(count: int, delta_ms: int, response_id: str, item_id: str) -> list[str]:
    audio = base64.b64encode(bytes(range(256)) * (48 * delta_ms // 256 + 1))[: 64 * delta_ms]
    delta = audio.decode()
    return [
        json.dumps(
            {
                "type": "response.output_audio.delta",
                "event_id": f"event_{i}",
                "response_id": response_id,
                "item_id": item_id,
                "output_index": 0,
                "content_index": 0,
                "delta": delta,
            }
        )
        for i in range(count)
    ]


def _response_start(response_id: str, item_id: str) -> list[dict[str, Any]]:
    item = {"id": item_id, "type": "message", "role": "assistant", "status": "in_progress"}
    return [
        {"type": "response.created", "response": {"id": response_id, "status": "in_progress"}},
        {"type": "response.output_item.added", "response_id": response_id, "output_index": 0,
         "item": item},
        {"type": "conversation.item.added", "previous_item_id": None, "item": item},
    ]  # fmt: skip


def _time_delta_pipeline(count: int, delta_ms: int, handoff: _PlaybackHandoff) -> list[float]:
    conversation = Conversation()
    sequencer = ResponseSequencer()
    for raw in _response_start("resp_bench", "item_bench"):
        event = parse_server_event(raw)
        conversation.apply(event)
        sequencer.apply(event)
    warmup = 200
    frames = _delta_frames(count + warmup, delta_ms, "resp_bench", "item_bench")
    timings: list[float] = []
    clock = time.perf_counter_ns
    for index, frame in enumerate(frames):
        start = clock()
        event = parse_server_event(frame)
        conversation.apply(event)
        if isinstance(event, ResponseOutputAudioDelta) and sequencer.should_play(event):
            handoff(event.item_id, event.delta)
        elapsed = clock() - start
        if index >= warmup:
            timings.append(elapsed / 1000.0)
    return timings


async def _time_deltas_over_websocket(
    server: _BenchServer, count: int, delta_ms: int, handoff: _PlaybackHandoff
) -> dict[str, float]:
    session = RealtimeSession(server.settings(reconnect_delay=0.0))
    events = session.events()
    await session.connect()
    conversation = Conversation()
    sequencer = ResponseSequencer()
    for raw in _response_start("resp_ws", "item_ws"):
        event = parse_server_event(raw)
        conversation.apply(event)
        sequencer.apply(event)
    frames = _delta_frames(count, delta_ms, "resp_ws", "item_ws")
    streaming = server.submit(server.stream(frames))
    received = 0
    cpu_start = wall_start = 0.0
    async for event in events:
        if not isinstance(event, ResponseOutputAudioDelta):
            continue
        if received == 0:
            cpu_start, wall_start = time.thread_time(), time.perf_counter()
        conversation.apply(event)
        if sequencer.should_play(event):
            handoff(event.item_id, event.delta)
        received += 1
        if received == count:
            break
    cpu = time.thread_time() - cpu_start
    wall = time.perf_counter() - wall_start
    await streaming
    await session.close()
    return {
        "deltas": count,
        "mean": cpu / max(1, count - 1) * 1e6,
        "wall_ms_for_all": wall * 1000.0,
    }


async def _time_reconnects(
    server: _BenchServer, runs: int, items: int, reconnect_delay: float
) -> dict[str, float]:
    history = [
        MessageItem.user_text(f"question {i}", item_id=f"item_u{i}")
        if i % 2 == 0
        else MessageItem.assistant_text(f"answer {i} " * 8, item_id=f"item_a{i}")
        for i in range(items)
    ]
    config = RealtimeSessionConfig.voice_conversation(instructions="Be brief. " * 40)
    figures: list[float] = []
    for _ in range(runs):
        settings = server.settings(reconnect_delay=reconnect_delay, session_config=config)
        session = RealtimeSession(settings, replay_items=lambda: history)
        await session.connect()
        back: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        def on_change(change: StateChange, back: asyncio.Future[float] = back) -> None:
            if back.done():
                return
            if change.state is SessionState.CONNECTED and change.reconnected:
                if change.replayed_items != items:
                    back.set_exception(RuntimeError(f"replayed {change.replayed_items} items"))
                else:
                    back.set_result(time.perf_counter())
            elif change.state is SessionState.FAILED:
                back.set_exception(RuntimeError(change.message))

        session.add_state_listener(on_change)
        dropped_at = await server.submit(server.drop())
        figures.append((await back - dropped_at) * 1000.0)
        await session.close()
    return {
        "runs": runs,
        "median": statistics.median(figures),
        "min": min(figures),
        "max": max(figures),
    }


# A small Realtime server in its own thread --------------------------------------------------------


class _BenchServer:
    """Answers like the service (session.created; session.update → session.updated;
    conversation.item.create → conversation.item.added) on 127.0.0.1, in its own thread and
    event loop, so its work does not count against the client's main loop."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="bench-server", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._current: ServerConnection | None = None
        self.port = 0

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the benchmark server did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(10)

    def settings(self, **overrides: Any) -> ConnectionSettings:
        values: dict[str, Any] = {
            "provider": "offline",
            "url": f"ws://127.0.0.1:{self.port}/v1/realtime",
            "api_key": _BENCH_KEY,
            "ping_interval": None,
        }
        values.update(overrides)
        return ConnectionSettings(**values)

    def submit(self, coroutine: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        """Runs ``coroutine`` on the server's loop; await the result from the client's."""
        assert self._loop is not None
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._loop))

    async def stream(self, frames: list[str]) -> None:
        ws = self._current
        assert ws is not None
        for frame in frames:
            await ws.send(frame)

    async def drop(self) -> float:
        """Aborts the current connection (no close frame); returns when, on perf_counter."""
        ws = self._current
        assert ws is not None
        assert ws.transport is not None
        dropped_at = time.perf_counter()
        ws.transport.abort()
        return dropped_at

    def _main(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        async with serve(
            self._handle, "127.0.0.1", 0, max_size=None, logger=_quiet_server_log
        ) as server:
            self.port = next(iter(server.sockets)).getsockname()[1]
            self._ready.set()
            await self._stopped.wait()

    async def _handle(self, ws: ServerConnection) -> None:
        self._current = ws
        session = {"type": "realtime", "id": "sess_bench", "expires_at": int(time.time()) + 3600}

        async def send(event: dict[str, Any]) -> None:
            await ws.send(json.dumps(event))

        try:
            await send({"type": "session.created", "session": session})
            previous: str | None = None
            async for raw in ws:
                event = json.loads(raw)
                if event["type"] == "session.update":
                    await send({"type": "session.updated", "session": event["session"]})
                elif event["type"] == "conversation.item.create":
                    item = event["item"]
                    await send(
                        {
                            "type": "conversation.item.added",
                            "previous_item_id": previous,
                            "item": item,
                        }
                    )
                    previous = item.get("id")
        except ConnectionClosed:
            return
