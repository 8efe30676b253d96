"""Screenshots of the app as a user meets it: ``make screenshots`` (writes ``screenshots/``).

Runs under a virtual X server (``xvfb-run``) so fonts and the style are real. The main window is
the real one on the embedded offline server, with the audio engine on the fake backend's
real-time clock and espeak-ng speech as the microphone: the voice turn, the typed turn and the
tool call in the pictures went over the wire like any other. Then the settings dialog and the
history window (``screenshots_settings.capture``).

    xvfb-run -a -s "-screen 0 1920x1080x24" .venv/bin/python scripts/screenshots.py OUT_DIR
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import PySide6.QtWidgets  # noqa: F401 - imported before qasync so qasync binds to PySide6
import qasync
from keyring.backends.null import Keyring as NullKeyring
from PySide6.QtWidgets import QApplication, QStyleFactory
from screenshots_settings import _dark_palette, _save, _settle
from screenshots_settings import capture_async as capture_settings

from realtime_desktop.audio.backends import FakeBackend
from realtime_desktop.audio.engine import AudioEngine, AudioEngineConfig
from realtime_desktop.audio.espeak import synthesize
from realtime_desktop.core.controller import Phase
from realtime_desktop.storage.secrets import SecretStore
from realtime_desktop.storage.settings import Settings
from realtime_desktop.ui.conversation_vm import ConversationViewModel
from realtime_desktop.ui.main_window import MainWindow

RATE = 48_000


async def _until(condition: Callable[[], bool], what: str) -> None:
    """Polls: the conditions are the app's own state, which has no awaitable of its own."""
    for _ in range(1500):  # 30 s
        if condition():
            return
        await asyncio.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


async def capture_main(out_dir: Path) -> list[Path]:
    saved: list[Path] = []
    backend = FakeBackend(sample_rate=RATE, realtime=True)
    vm = ConversationViewModel(
        settings=Settings(),
        secrets=SecretStore(backend=NullKeyring(), environ={}),  # type: ignore[no-untyped-call]
        make_engine=lambda settings: AudioEngine(AudioEngineConfig(), backend),
        force_offline=True,
    )
    with tempfile.TemporaryDirectory(prefix="realtime-desktop-shots-") as state:
        window = MainWindow(vm, state_file=Path(state) / "window.ini")
        try:
            await _conversation_pictures(vm, window, backend, out_dir, saved)
        finally:
            await vm.shutdown()
            window.close()
    return saved


async def _conversation_pictures(
    vm: ConversationViewModel,
    window: MainWindow,
    backend: FakeBackend,
    out_dir: Path,
    saved: list[Path],
) -> None:
    window.resize(1000, 720)
    window.show()
    await vm.connect_session()
    await _until(lambda: vm.connected, "the offline session")
    await _settle(0.3)
    _save(window, out_dir, "main-1-first-run", saved)

    controller = vm.controller
    speech = synthesize("Hello there. Can you hear me clearly?", RATE)
    backend.feed_microphone(np.concatenate([speech, np.zeros(RATE, np.float32)]))
    await _until(lambda: controller.phase is Phase.ASSISTANT_SPEAKING, "the spoken answer")
    await _settle(1.0)
    _save(window, out_dir, "main-2-assistant-speaking", saved)
    await _until(lambda: controller.phase is Phase.LISTENING, "the answer to end")

    conversation = controller.conversation
    await vm.send_text('/call calculate {"expression": "17 * 23 + 4"}')
    # The tool call's response, then the one that reads the tool's output (395) back.
    await _until(
        lambda: (
            any("395" in item.display_text for item in conversation)
            and conversation.active_response is None
        ),
        "the tool's answer",
    )
    await _settle(0.5)
    _save(window, out_dir, "main-3-conversation", saved)

    window.inspector.show()
    await _settle(0.5)
    _save(window, out_dir, "main-4-inspector", saved)

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    light = app.palette()
    app.setPalette(_dark_palette())
    await _settle(0.3)
    _save(window, out_dir, "main-5-dark", saved)
    app.setPalette(light)

    window.inspector.hide()
    window.resize(window.minimumSizeHint())
    await _settle(0.3)
    _save(window, out_dir, "main-6-smallest-size", saved)


async def capture_all(out_dir: Path) -> list[Path]:
    return [*await capture_main(out_dir), *await capture_settings(out_dir)]


def main(argv: list[str]) -> int:
    out_dir = Path(argv[1]) if len(argv) > 1 else Path("screenshots")
    out_dir.mkdir(parents=True, exist_ok=True)
    app = QApplication(argv[:1])
    # Fusion looks the same everywhere, so the pictures show our layout, not the host's theme.
    app.setStyle(QStyleFactory.create("Fusion"))
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app, already_running=False)
    asyncio.set_event_loop(loop)
    try:
        saved = loop.run_until_complete(capture_all(out_dir))
    finally:
        loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
        asyncio.set_event_loop(None)
    for path in saved:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
