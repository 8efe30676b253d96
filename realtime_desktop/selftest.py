"""``realtime-desktop --self-test``: the whole app, headless, against its own offline server.

Four checks through the real controller, session, server and audio engine:

1. a voice turn — espeak-ng speech into the microphone, the server's VAD ends the turn, the echo
   comes back and is played;
2. a text turn — a typed message answered in spoken audio;
3. a tool call — the built-in calculator, called by the offline server's ``/call`` trigger, and
   the answer reading its result back;
4. a barge-in with truncation — a long answer interrupted while it plays; the truncation point
   sent to the server matches what was heard.

Audio runs on PulseAudio null sinks when a sound server is available or can be started (real
PortAudio streams, real callbacks), else on the engine's fake backend; the report says which.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import platform
import secrets
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

from realtime_desktop import __version__
from realtime_desktop.audio.backends import AudioBackend, FakeBackend, SoundDeviceBackend
from realtime_desktop.audio.engine import AudioEngine, AudioEngineConfig
from realtime_desktop.audio.espeak import EspeakUnavailableError, espeak_available, synthesize
from realtime_desktop.audio.virtual_devices import PulseRig, VirtualDevicesUnavailableError
from realtime_desktop.core import ConnectionSettings, RealtimeError
from realtime_desktop.core.controller import Phase, RealtimeConversation
from realtime_desktop.protocol import RealtimeSessionConfig
from realtime_desktop.server import start_in_thread

log = logging.getLogger(__name__)

CHECK_TIMEOUT_S = 30.0
SAMPLE_RATE = 48_000
BARGE_IN_AFTER_MS = 800.0
LONG_ANSWER = " ".join(
    ["The self-test asks for a long answer so there is time to interrupt it."] * 4
)


@dataclasses.dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str
    seconds: float
    figures: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class SelfTestReport:
    audio: str
    """``pulseaudio-null-sinks`` or ``fake-backend`` (and why)."""
    checks: list[CheckResult]
    version: str = __version__
    python: str = platform.python_version()

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(check.passed for check in self.checks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "version": self.version,
            "python": self.python,
            "audio": self.audio,
            "checks": [dataclasses.asdict(check) for check in self.checks],
        }

    def as_text(self) -> str:
        lines = [f"realtime-desktop {self.version} self-test — audio: {self.audio}"]
        for check in self.checks:
            mark = "PASS" if check.passed else "FAIL"
            lines.append(f"  {mark}  {check.name:<12} {check.detail} ({check.seconds:.1f} s)")
        lines.append("All checks passed." if self.passed else "Some checks FAILED.")
        return "\n".join(lines)


class _AudioRig:
    """Where the microphone audio comes from and where the speaker audio goes."""

    def __init__(self) -> None:
        self.rig: PulseRig | None = None
        self.fake: FakeBackend | None = None
        self.description = ""

    def backend(self) -> AudioBackend:
        try:
            # Sinks of its own, routed for this process only: the user's default speaker and
            # microphone stay as they are, and are not what the check plays into or hears.
            self.rig = PulseRig.private().start()
            self.description = "pulseaudio-null-sinks"
            return SoundDeviceBackend()
        except (VirtualDevicesUnavailableError, OSError) as exc:
            self.fake = FakeBackend(sample_rate=SAMPLE_RATE, realtime=True)
            self.description = f"fake-backend ({exc})"
            return self.fake

    def close(self) -> None:
        """Unloads the rig's sinks."""
        if self.rig is not None:
            self.rig.stop()

    def say(self, samples: np.ndarray) -> Callable[[], None]:
        """Plays ``samples`` (48 kHz) into the app's microphone; returns a stopper."""
        if self.rig is not None:
            feed = self.rig.open_mic_feed(SAMPLE_RATE)

            def write() -> None:
                # The pipe paces writes in real time; from the event loop's thread they would
                # hold the loop (and the uplink) for as long as the speech lasts.
                with contextlib.suppress(OSError, ValueError):  # stopped early
                    feed.write(samples)
                    feed.close_input()

            threading.Thread(target=write, name="self-test-speech", daemon=True).start()
            return feed.stop
        assert self.fake is not None
        self.fake.feed_microphone(samples)
        return lambda: None


async def _until(condition: Callable[[], object], what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _run_check(
    name: str, check: Callable[[], Awaitable[tuple[str, dict[str, Any]]]]
) -> CheckResult:
    started = time.monotonic()
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            detail, figures = await check()
    except (TimeoutError, AssertionError, RealtimeError, EspeakUnavailableError) as exc:
        return CheckResult(name, False, str(exc) or type(exc).__name__, time.monotonic() - started)
    return CheckResult(name, True, detail, time.monotonic() - started, figures)


@contextlib.asynccontextmanager
async def _started(
    conversation: RealtimeConversation, url: str, token: str
) -> AsyncIterator[RealtimeConversation]:
    config = RealtimeSessionConfig.voice_conversation(
        instructions="Offline self-test.", transcription_model=None
    )
    await conversation.start(
        ConnectionSettings(provider="offline", url=url, api_key=token, session_config=config)
    )
    try:
        yield conversation
    finally:
        await conversation.end()


async def _self_test(rig: _AudioRig, backend: AudioBackend) -> list[CheckResult]:
    token = secrets.token_urlsafe(16)
    server = start_in_thread(token=token)
    engine = AudioEngine(AudioEngineConfig(), backend)
    conversation = RealtimeConversation(audio=engine)
    conversation.register_builtin_tools()

    def assistant() -> list[Any]:
        return [item for item in conversation.conversation if item.role == "assistant"]

    def settled() -> bool:
        return conversation.phase is Phase.LISTENING

    async def voice_turn() -> tuple[str, dict[str, Any]]:
        speech = synthesize("This is the realtime desktop self test.", SAMPLE_RATE)
        silence = np.zeros(SAMPLE_RATE, np.float32)
        stop = rig.say(np.concatenate([silence[: SAMPLE_RATE // 4], speech, silence]))
        try:
            await _until(
                lambda: any(i.transcript.startswith("Echo of") for i in assistant()),
                "the echo of the spoken turn",
                CHECK_TIMEOUT_S,
            )
            await _until(
                lambda: bool(conversation.turns) and conversation.turns[-1].latency_ms is not None,
                "the echo to be heard",
                CHECK_TIMEOUT_S,
            )
        finally:
            stop()
        await _until(settled, "playback to finish", CHECK_TIMEOUT_S)
        latency = conversation.turns[-1].latency_ms
        echo = assistant()[-1]
        return (
            f"{echo.transcript}; first audio heard {latency:.0f} ms after the speech ended",
            {"latency_ms": latency, "echo_ms": echo.audio_ms},
        )

    async def text_turn() -> tuple[str, dict[str, Any]]:
        before = len(assistant())
        await conversation.send_text("Self-test text turn")
        await _until(
            lambda: (
                len(assistant()) > before and "Self-test text turn" in assistant()[-1].transcript
            ),
            "the spoken answer",
            CHECK_TIMEOUT_S,
        )
        await _until(settled, "playback to finish", CHECK_TIMEOUT_S)
        answer = assistant()[-1]
        return f"spoken answer of {answer.audio_ms / 1000:.1f} s", {"answer_ms": answer.audio_ms}

    async def tool_call() -> tuple[str, dict[str, Any]]:
        await conversation.send_text('/call calculate {"expression": "6 * 7"}')
        await _until(
            lambda: any(run.finished for run in conversation.executor.history),
            "the calculator to run",
            CHECK_TIMEOUT_S,
        )
        run = conversation.executor.history[-1]
        assert run.ok, f"the tool call ended {run.status.value}: {run.error_message}"
        await _until(lambda: "42" in assistant()[-1].display_text, "the answer with the result", 20)
        await _until(settled, "the answer to finish", CHECK_TIMEOUT_S)
        return f"calculate(6 * 7) = 42 in {run.elapsed() * 1000:.0f} ms", {}

    async def barge_in() -> tuple[str, dict[str, Any]]:
        assert engine is not None
        await conversation.send_text(LONG_ANSWER)
        await _until(lambda: conversation.is_playing, "the long answer to play", CHECK_TIMEOUT_S)
        item_id = engine.playing_item_id
        assert item_id is not None, "nothing was playing"
        await _until(
            lambda: engine.played_ms(item_id) >= BARGE_IN_AFTER_MS, "playback to progress", 10
        )
        await conversation.interrupt()
        await _until(
            lambda: (
                (item := conversation.conversation.item(item_id)) is not None and item.interrupted
            ),
            "the server to confirm the truncation",
            10,
        )
        item = conversation.conversation.item(item_id)
        assert item is not None
        assert item.truncated_at_ms is not None
        await _until(lambda: not conversation.is_playing, "silence after the cut", 1)
        heard = engine.played_ms(item_id)
        error_ms = abs(heard - item.truncated_at_ms)
        assert error_ms <= 20, f"truncated at {item.truncated_at_ms} ms but {heard:.0f} ms heard"
        return (
            f"cut at {item.truncated_at_ms / 1000:.2f} s of {item.audio_ms / 1000:.1f} s; "
            f"truncation within {error_ms:.0f} ms of what was heard",
            {"truncated_at_ms": item.truncated_at_ms, "truncation_error_ms": error_ms},
        )

    results: list[CheckResult] = []
    try:
        async with _started(conversation, server.url, token):
            for name, check in (
                ("voice turn", voice_turn),
                ("text turn", text_turn),
                ("tool call", tool_call),
                ("barge-in", barge_in),
            ):
                results.append(await _run_check(name, check))
    except RealtimeError as exc:
        results.append(CheckResult("connect", False, exc.user_message, 0.0))
    finally:
        server.stop()
    return results


def run_self_test(config_dir: Path | None = None) -> SelfTestReport:
    """Runs every check and returns the report (it never raises for a failed check)."""
    if config_dir is not None:
        config_dir.mkdir(parents=True, exist_ok=True)
    rig = _AudioRig()
    backend = rig.backend()
    try:
        return _report(rig, backend, config_dir)
    finally:
        rig.close()


def _report(rig: _AudioRig, backend: AudioBackend, config_dir: Path | None) -> SelfTestReport:
    if not espeak_available():
        return SelfTestReport(
            rig.description,
            [
                CheckResult(
                    "speech",
                    False,
                    "espeak-ng is needed to make test speech (Debian: apt-get install espeak-ng)",
                    0.0,
                )
            ],
        )
    checks = asyncio.run(_self_test(rig, backend))
    report = SelfTestReport(rig.description, checks)
    if config_dir is not None:
        (config_dir / "self-test.json").write_text(json.dumps(report.as_dict(), indent=2))
    return report
