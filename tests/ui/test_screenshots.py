"""``make screenshots`` keeps working: the main window's pictures come from a real offline
session with a spoken turn and a tool call, so a change that breaks that flow, or leaves a
picture blank, fails here rather than when someone next wants to look."""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtGui import QImage

from realtime_desktop.audio.espeak import espeak_available

sys.path.insert(0, str(Path(__file__).parents[2] / "scripts"))
import screenshots  # a script beside the package, found through sys.path

pytestmark = pytest.mark.skipif(not espeak_available(), reason="espeak-ng is not installed")


def test_main_window_pictures_show_a_whole_conversation(
    run_async: Callable[[Coroutine[Any, Any, Any]], Any], tmp_path: Path
) -> None:
    saved = run_async(screenshots.capture_main(tmp_path))
    names = [path.stem for path in saved]
    assert names == [
        "main-1-first-run",
        "main-2-assistant-speaking",
        "main-3-conversation",
        "main-4-inspector",
        "main-5-dark",
        "main-6-smallest-size",
    ]
    for path in saved:
        assert QImage(str(path)).width() >= 600, path
    light, dark = (
        _brightness(tmp_path / f"{name}.png") for name in ("main-4-inspector", "main-5-dark")
    )
    assert dark < light / 2  # the palette switched live, to every widget


def _brightness(path: Path) -> float:
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_Grayscale8)
    data = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * image.height())
    return float(data.mean())
