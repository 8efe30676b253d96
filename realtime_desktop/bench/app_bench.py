"""``realtime-desktop-bench app``: the desktop app's start-up, drawing, responsiveness and memory.

* ``startup_s`` — a new process started → its main window shown, timed in this (the parent)
  process around ``realtime-desktop --exit-after-shown``; median of several runs.
* ``repaint_ms`` — one paint of the waveform with full histories (p95).
* ``append_delta_ms`` — one transcript delta taken by the reducer, the item model and the view
  with 1 000 items in the conversation (p95); the repaint that follows is coalesced per frame
  and reported separately (``append_delta_with_repaint_ms``).
* ``main_thread_stall_ms`` — the longest the GUI thread's event loop went without running during
  a spoken turn and its spoken answer (real window, offline server, audio engine on the fake
  backend's real-time clock, espeak-ng speech as the microphone).
* ``rss_growth_mb_30min`` — resident memory after 30 simulated minutes of conversation minus
  after the first minute: a turn every ten seconds (3 s of speech, a 5 s spoken answer in 100 ms
  deltas, transcripts, usage), fed through the real controller, engine (fake backend, stepped),
  window, inspector and autosaver as fast as the machine allows.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from keyring.backends.null import Keyring as NullKeyring

from realtime_desktop.bench.stats import percentile

TARGETS = {
    "startup_s": 1.5,
    "repaint_ms": 4.0,
    "append_delta_ms": 1.0,
    "main_thread_stall_ms": 50.0,
    "rss_growth_mb_30min": 20.0,
}
TURN_S = 10.0
ANSWER_S = 5.0
SPEECH_S = 3.0
DELTA_MS = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument("--soak-minutes", type=float, default=30.0)
    parser.add_argument("--repaints", type=int, default=300)
    parser.add_argument("--deltas", type=int, default=400)


def run(args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    results: dict[str, Any] = {}
    results["startup_s"], results["startup_runs_s"] = _startup(args.startup_runs)
    from PySide6.QtWidgets import QApplication

    from realtime_desktop.ui.gc_policy import MainThreadCollector

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication([])
    app.setQuitOnLastWindowClosed(False)
    # As in the app: cycles holding Qt objects must not be collected on the audio or server
    # threads (see gc_policy), and the collector's pauses belong in the stall figure.
    collector = MainThreadCollector(app)
    try:
        results["repaint_ms"] = _repaint(args.repaints)
        results["append_delta_ms"], results["append_delta_with_repaint_ms"] = _append(args.deltas)
        results["main_thread_stall_ms"] = _stall()
        results["rss_mb_after_1min"], results["rss_growth_mb_30min"] = _soak(args.soak_minutes)
    finally:
        collector.stop()
    results["targets"] = TARGETS
    results["within_targets"] = all(
        results[key] is not None and results[key] <= limit for key, limit in TARGETS.items()
    )
    return results


# Start-up -------------------------------------------------------------------------------------


def _startup(runs: int) -> tuple[float, list[float]]:
    script = Path(sys.executable).with_name("realtime-desktop")
    command = (
        [str(script)]
        if script.exists()
        else [
            sys.executable,
            "-c",
            "from realtime_desktop.app import main; raise SystemExit(main())",
        ]
    )
    figures = []
    with tempfile.TemporaryDirectory() as config_dir:
        for _ in range(runs):
            started = time.perf_counter()
            process = subprocess.Popen(
                [*command, "--exit-after-shown", "--config-dir", config_dir],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert process.stdout is not None
            line = process.stdout.readline()
            shown = time.perf_counter() - started
            process.wait(timeout=30)
            if line.strip() != "window shown":
                raise RuntimeError(f"the app did not report its window: {line!r}")
            figures.append(shown)
    return statistics.median(figures), [round(f, 3) for f in figures]


# Waveform -------------------------------------------------------------------------------------


def _repaint(repaints: int) -> float:
    from PySide6.QtGui import QImage

    from realtime_desktop.ui.widgets.waveform import WaveformView

    view = WaveformView()
    view.resize(900, 120)
    rng = np.random.default_rng(1)
    speech = (rng.standard_normal(24_000 * 10) * 0.2).astype(np.float32)
    view.mic.extend(speech)
    view.assistant.extend(speech[::-1].copy())
    view.show()
    # Rendered into an image: an offscreen platform's repaint() paints nothing, and an image
    # is the same raster paint engine a window's backing store uses.
    image = QImage(view.size(), QImage.Format.Format_ARGB32_Premultiplied)
    times = []
    for _ in range(repaints):
        started = time.perf_counter()
        view.render(image)
        times.append((time.perf_counter() - started) * 1000)
    view.close()
    return percentile(times, 0.95)


# Transcript -----------------------------------------------------------------------------------


def _append(deltas: int) -> tuple[float, float]:
    from PySide6.QtWidgets import QApplication

    from realtime_desktop.core.conversation import Conversation
    from realtime_desktop.protocol import parse_server_event
    from realtime_desktop.ui.models.transcript_model import TranscriptFilter, TranscriptModel
    from realtime_desktop.ui.widgets.transcript_view import TranscriptView

    conversation = Conversation()
    previous = None
    for n in range(500):
        for role in ("user", "assistant"):
            item_id = f"item_{role}_{n}"
            part = {
                "type": "input_text" if role == "user" else "output_text",
                "text": f"{role} " * 30,
            }
            conversation.apply(
                parse_server_event(
                    {
                        "type": "conversation.item.added",
                        "event_id": "e",
                        "previous_item_id": previous,
                        "item": {"type": "message", "id": item_id, "role": role,
                                 "status": "completed", "content": [part]},
                    }
                )
            )  # fmt: skip
            previous = item_id
    for raw in _streaming_answer_start(previous):
        conversation.apply(parse_server_event(raw))
    model = TranscriptModel()
    model.set_conversation(conversation)
    proxy = TranscriptFilter()
    proxy.setSourceModel(model)
    view = TranscriptView()
    view.setModel(proxy)
    view.resize(800, 600)
    view.show()
    QApplication.processEvents()
    view.scrollToBottom()
    QApplication.processEvents()
    taken, painted = [], []
    for n in range(deltas):
        event = parse_server_event(
            {
                "type": "response.output_audio_transcript.delta",
                "event_id": "e",
                "response_id": "resp_live",
                "item_id": "item_live",
                "output_index": 0,
                "content_index": 0,
                "delta": f"word{n} ",
            }
        )
        started = time.perf_counter()
        conversation.apply(event)
        taken.append((time.perf_counter() - started) * 1000)
        QApplication.processEvents()
        painted.append((time.perf_counter() - started) * 1000)
    view.close()
    return percentile(taken, 0.95), statistics.median(painted)


def _streaming_answer_start(previous: str | None) -> list[dict[str, Any]]:
    return [
        {"type": "response.created", "event_id": "e",
         "response": {"id": "resp_live", "status": "in_progress", "output": []}},
        {"type": "conversation.item.added", "event_id": "e", "previous_item_id": previous,
         "item": {"type": "message", "id": "item_live", "role": "assistant",
                  "status": "in_progress", "content": []}},
        {"type": "response.content_part.added", "event_id": "e", "response_id": "resp_live",
         "item_id": "item_live", "output_index": 0, "content_index": 0,
         "part": {"type": "audio", "transcript": ""}},
    ]  # fmt: skip


# Main-loop stalls during a voice turn --------------------------------------------------------


def _stall() -> float | None:
    from realtime_desktop.audio.espeak import espeak_available

    if not espeak_available():
        return None
    import qasync
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        return float(loop.run_until_complete(_voice_turn_stalls()))
    finally:
        loop.close()
        asyncio.set_event_loop(None)


async def _voice_turn_stalls() -> float:
    from realtime_desktop.audio.backends import FakeBackend
    from realtime_desktop.audio.engine import AudioEngine, AudioEngineConfig
    from realtime_desktop.audio.espeak import synthesize
    from realtime_desktop.core.controller import Phase
    from realtime_desktop.storage.secrets import SecretStore
    from realtime_desktop.storage.settings import Settings
    from realtime_desktop.ui.conversation_vm import ConversationViewModel
    from realtime_desktop.ui.main_window import MainWindow

    backend = FakeBackend(sample_rate=48_000, realtime=True)
    vm = ConversationViewModel(
        settings=Settings(),
        secrets=SecretStore(backend=_no_keyring(), environ={}),
        make_engine=lambda settings: AudioEngine(AudioEngineConfig(), backend),
        force_offline=True,
    )
    with tempfile.TemporaryDirectory() as state:
        window = MainWindow(vm, state_file=Path(state) / "window.ini")
        window.show()
        await vm.connect_session()
        gaps: list[float] = []
        done = asyncio.Event()

        async def watch() -> None:
            loop = asyncio.get_running_loop()
            while not done.is_set():
                before = loop.time()
                await asyncio.sleep(0.005)
                gaps.append((loop.time() - before - 0.005) * 1000)

        # Synthesised before the watch starts: espeak-ng blocks, and it is not the app's work.
        speech = synthesize("This sentence measures how long the main loop stalls.", 48_000)
        watcher = asyncio.get_running_loop().create_task(watch())
        backend.feed_microphone(np.concatenate([speech, np.zeros(48_000, np.float32)]))
        phases: set[Phase] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            phases.add(vm.controller.phase)
            if Phase.ASSISTANT_SPEAKING in phases and vm.controller.phase is Phase.LISTENING:
                break
            await asyncio.sleep(0.02)
        done.set()
        await watcher
        await vm.shutdown()  # not measured: the watch has ended
        window.close()
    if Phase.ASSISTANT_SPEAKING not in phases:
        raise RuntimeError("the voice turn was not answered")
    return max(gaps)


def _no_keyring() -> NullKeyring:
    """No key anywhere, so the view model uses the offline server (keyring is untyped)."""
    return NullKeyring()  # type: ignore[no-untyped-call]


# Memory over a long conversation --------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _soak(minutes: float) -> tuple[float, float]:
    import qasync
    from PySide6.QtWidgets import QApplication

    loop = qasync.QEventLoop(QApplication.instance())
    asyncio.set_event_loop(loop)
    try:
        first, last = loop.run_until_complete(_simulated_conversation(minutes))
    finally:
        loop.close()
        asyncio.set_event_loop(None)
    return first, last - first


async def _simulated_conversation(minutes: float) -> tuple[float, float]:
    from realtime_desktop.audio.backends import FakeBackend
    from realtime_desktop.audio.engine import AudioEngine, AudioEngineConfig
    from realtime_desktop.core.event_log import Direction
    from realtime_desktop.core.recorder import ConversationRecorder
    from realtime_desktop.protocol import parse_server_event
    from realtime_desktop.storage.autosave import Autosaver
    from realtime_desktop.storage.conversation import ConversationDocument
    from realtime_desktop.storage.conversation_store import ConversationStore
    from realtime_desktop.storage.secrets import SecretStore
    from realtime_desktop.storage.settings import Settings
    from realtime_desktop.ui.conversation_vm import ConversationViewModel
    from realtime_desktop.ui.main_window import MainWindow

    # Stepped, so audio renders as fast as the machine can; nothing kept of what it rendered
    # (a real device keeps nothing either).
    backend = FakeBackend(sample_rate=48_000, keep_rendered=False)
    engine = AudioEngine(AudioEngineConfig(echo_cancellation=False), backend)
    vm = ConversationViewModel(
        settings=Settings(),
        secrets=SecretStore(backend=_no_keyring(), environ={}),
        make_engine=lambda settings: engine,
    )
    turns_per_minute = round(60 / TURN_S)
    total_turns = max(turns_per_minute, round(minutes * turns_per_minute))
    with tempfile.TemporaryDirectory() as folder:
        window = MainWindow(vm, state_file=Path(folder) / "window.ini")
        window.inspector.show()
        window.show()
        controller = vm.controller
        engine.start()
        document = ConversationDocument()
        autosaver = Autosaver(ConversationStore(Path(folder) / "conversations"), document)
        recorder = ConversationRecorder(controller, document, autosaver.mark_changed)
        after_first_minute = 0.0
        previous: str | None = None
        for turn in range(total_turns):
            for raw in _turn_events(turn, previous):
                controller.handle_server_event(parse_server_event(raw))
                controller.event_log.record(Direction.RECEIVED, raw)
            previous = f"a{turn}"
            backend.step(int(ANSWER_S * 100) + 20)  # play the answer out
            await asyncio.sleep(0)  # let Qt and the autosaver run
            if turn + 1 == turns_per_minute:
                await autosaver.flush()
                gc.collect()
                after_first_minute = _rss_mb()
        await autosaver.flush()
        gc.collect()
        final = _rss_mb()
        recorder.detach()
        await autosaver.close()
        engine.stop()
        window.close()
    return after_first_minute, final


def _turn_events(turn: int, previous: str | None) -> list[dict[str, Any]]:
    """One spoken turn and its spoken answer, as the service sends them."""
    user, answer, response = f"u{turn}", f"a{turn}", f"r{turn}"
    rng = np.random.default_rng(turn)
    audio = (rng.standard_normal(24 * DELTA_MS) * 2000).astype("<i2").tobytes()
    delta = base64.b64encode(audio).decode()
    words = [f"word{turn}_{n}" for n in range(40)]
    part = {"response_id": response, "item_id": answer, "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "input_audio_buffer.speech_started", "event_id": "e", "item_id": user,
         "audio_start_ms": turn * 10_000},
        {"type": "input_audio_buffer.speech_stopped", "event_id": "e", "item_id": user,
         "audio_end_ms": turn * 10_000 + int(SPEECH_S * 1000)},
        {"type": "input_audio_buffer.committed", "event_id": "e", "item_id": user,
         "previous_item_id": previous},
        {"type": "conversation.item.added", "event_id": "e", "previous_item_id": previous,
         "item": {"type": "message", "id": user, "role": "user", "status": "completed",
                  "content": [{"type": "input_audio", "transcript": None}]}},
        {"type": "conversation.item.input_audio_transcription.completed", "event_id": "e",
         "item_id": user, "content_index": 0, "transcript": " ".join(words[:12])},
        {"type": "response.created", "event_id": "e",
         "response": {"id": response, "status": "in_progress", "output": []}},
        {"type": "conversation.item.added", "event_id": "e", "previous_item_id": user,
         "item": {"type": "message", "id": answer, "role": "assistant", "status": "in_progress",
                  "content": []}},
        {"type": "response.content_part.added", "event_id": "e", **part,
         "part": {"type": "audio", "transcript": ""}},
    ]  # fmt: skip
    for n in range(int(ANSWER_S * 1000 / DELTA_MS)):
        events.append(
            {"type": "response.output_audio.delta", "event_id": "e", **part, "delta": delta}
        )
        if n < len(words):
            events.append(
                {"type": "response.output_audio_transcript.delta", "event_id": "e", **part,
                 "delta": words[n] + " "}
            )  # fmt: skip
    events += [
        {"type": "response.output_audio.done", "event_id": "e", **part},
        {"type": "response.output_audio_transcript.done", "event_id": "e", **part,
         "transcript": " ".join(words)},
        {"type": "conversation.item.done", "event_id": "e", "previous_item_id": user,
         "item": {"type": "message", "id": answer, "role": "assistant", "status": "completed",
                  "content": [{"type": "output_audio", "transcript": " ".join(words)}]}},
        {"type": "response.done", "event_id": "e",
         "response": {"id": response, "status": "completed", "output": [],
                      "usage": {"total_tokens": 400, "input_tokens": 300, "output_tokens": 100,
                                "input_token_details": {"text_tokens": 200, "audio_tokens": 100,
                                                        "cached_tokens": 150},
                                "output_token_details": {"text_tokens": 20,
                                                         "audio_tokens": 80}}}},
    ]  # fmt: skip
    return events


__all__ = ["add_arguments", "run"]
