"""``realtime-desktop-bench server``: the offline server under one live voice session.

The server runs as its own process (``realtime-desktop-server``, default pacing), so its CPU
time is its own. A client streams espeak-ng sentences separated by silences in real time
(20 ms appends on a wall-clock schedule, as a microphone would) with the default session
(server VAD, 200 ms silence window) and receives the echoes. Reported, as medians over runs:

* ``cpu_percent``: server process CPU time (user + system, from /proc) over the session's wall
  time, in percent of one core;
* ``echo_latency_ms``: per turn, from sending the append that holds the last speech sample (the
  truth measured on the generated audio) to receiving the turn's first
  ``response.output_audio.delta``. It includes the 200 ms silence window the VAD must hear
  before it may end a turn.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import selectors
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

import numpy as np
from websockets.asyncio.client import ClientConnection, connect

from realtime_desktop.audio.codecs import WireFormat
from realtime_desktop.audio.espeak import synthesize
from realtime_desktop.bench.stats import summary

SENTENCES: Final = (
    "Hello there, how are you today?",
    "Seven bright stars shine above the quiet harbor.",
    "My name is Alice and I live in London.",
)
RATE: Final = 24_000
CHUNK_MS: Final = 20  # what the app's uplink sends (audio.constants.UPLINK_CHUNK_MS)
LEAD_S: Final = 0.5
GAP_S: Final = 2.0  # room for the echo to finish before the next sentence
TOKEN: Final = "bench-token"
START_TIMEOUT_S: Final = 20.0
TURN_TIMEOUT_S: Final = 30.0
_TRUTH_DBFS: Final = -40.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=3, help="live sessions to measure")


def run(args: argparse.Namespace) -> dict[str, Any]:
    audio, speech_ends_ms = _stream_audio()
    cpu: list[float] = []
    latencies: list[float] = []
    turns_missed = 0
    for _ in range(args.runs):
        figures = asyncio.run(_one_session(audio, speech_ends_ms))
        cpu.append(figures["cpu_percent"])
        latencies.extend(figures["latencies_ms"])
        turns_missed += len(speech_ends_ms) - len(figures["latencies_ms"])
    return {
        "runs": args.runs,
        "turns_per_run": len(speech_ends_ms),
        "audio_seconds_per_run": round(len(audio) / RATE, 2),
        "cpu_percent_of_one_core": {
            "median": round(statistics.median(cpu), 2),
            "max": round(max(cpu), 2),
        },
        "echo_latency_ms": {k: round(v, 1) for k, v in summary(latencies).items()},
        "turns_missed": turns_missed,
        "vad": "server_vad defaults: threshold 0.5, prefix 300 ms, silence 200 ms",
    }


def _stream_audio() -> tuple[np.ndarray, list[float]]:
    """The sentences with silences between, and where each sentence's speech really ends."""
    parts = [np.zeros(round(LEAD_S * RATE), dtype=np.float32)]
    ends_ms = []
    position = len(parts[0])
    frame = RATE // 100
    for text in SENTENCES:
        clip = synthesize(text, RATE)
        count = len(clip) // frame
        rms = np.sqrt(np.mean(clip[: count * frame].reshape(count, frame) ** 2, axis=1))
        last_active = int(np.flatnonzero(rms > 10 ** (_TRUTH_DBFS / 20))[-1])
        ends_ms.append((position + (last_active + 1) * frame) * 1000 / RATE)
        gap = np.zeros(round(GAP_S * RATE), dtype=np.float32)
        parts += [clip, gap]
        position += len(clip) + len(gap)
    return np.concatenate(parts), ends_ms


class _ServerProcess:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "realtime_desktop.server.cli", "--token", TOKEN],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.url = self._read_url()

    def _read_url(self) -> str:
        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(START_TIMEOUT_S):
                raise TimeoutError("realtime-desktop-server printed no URL")
        return self.process.stdout.readline().strip()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (Linux /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def _one_session(audio: np.ndarray, speech_ends_ms: list[float]) -> dict[str, Any]:
    server = _ServerProcess()
    try:
        async with connect(
            server.url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, max_size=None
        ) as ws:
            first_delta_at: list[float] = []
            done = asyncio.Event()
            receiver = asyncio.create_task(_receive(ws, first_delta_at, len(speech_ends_ms), done))
            wire = WireFormat.PCM16.encode(audio)
            chunk_bytes = CHUNK_MS * WireFormat.PCM16.bytes_per_ms
            last_chunk_of_turn = [int(end_ms // CHUNK_MS) for end_ms in speech_ends_ms]
            speech_end_sent_at: list[float] = []
            cpu_start = server.cpu_seconds()
            wall_start = time.perf_counter()
            for index, start in enumerate(range(0, len(wire), chunk_bytes)):
                # A microphone delivers each chunk when it is full: pace by the wall clock.
                due = wall_start + (index + 1) * CHUNK_MS / 1000
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                chunk = base64.b64encode(wire[start : start + chunk_bytes]).decode()
                await ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": chunk}))
                if index in last_chunk_of_turn:
                    speech_end_sent_at.append(time.perf_counter())
            async with asyncio.timeout(TURN_TIMEOUT_S):
                await done.wait()
            wall = time.perf_counter() - wall_start
            cpu = server.cpu_seconds() - cpu_start
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
    finally:
        server.stop()
    latencies = [
        (delta_at - end_at) * 1000
        for delta_at, end_at in zip(first_delta_at, speech_end_sent_at, strict=False)
    ]
    return {"cpu_percent": 100 * cpu / wall, "latencies_ms": latencies}


async def _receive(
    ws: ClientConnection, first_delta_at: list[float], turns: int, done: asyncio.Event
) -> None:
    seen_responses: set[str] = set()
    finished = 0
    async for message in ws:
        event = json.loads(message)
        if event["type"] == "response.output_audio.delta":
            if event["response_id"] not in seen_responses:
                seen_responses.add(event["response_id"])
                first_delta_at.append(time.perf_counter())
        elif event["type"] == "response.done":
            finished += 1
            if finished == turns:
                done.set()
