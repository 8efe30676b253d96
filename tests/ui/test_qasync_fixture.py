"""The GUI tests' event loop runs asyncio tasks and Qt events together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot


def test_asyncio_and_qt_run_together(
    qtbot: QtBot, run_async: Callable[[Coroutine[Any, Any, Any]], Any]
) -> None:
    fired: list[str] = []

    async def scenario() -> int:
        QTimer.singleShot(10, lambda: fired.append("qt timer"))
        await asyncio.sleep(0.05)  # Qt events are processed while this waits
        return await asyncio.to_thread(lambda: 42)

    assert run_async(scenario()) == 42
    assert fired == ["qt timer"]
