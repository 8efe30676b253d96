"""Awaiting Qt signals from the GUI tests' async code (``run_async``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import SignalInstance

RunAsync = Callable[[Coroutine[Any, Any, Any]], Any]


class Emitted:
    """The next emission of a Qt signal, as an awaitable (connect before triggering)."""

    def __init__(self, signal: SignalInstance) -> None:
        self._future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        self._signal = signal
        signal.connect(self._received)

    def _received(self, *args: Any) -> None:
        if not self._future.done():
            self._future.set_result(args)

    async def wait(self, within_s: float = 10.0) -> tuple[Any, ...]:
        try:
            async with asyncio.timeout(within_s):
                return await self._future
        finally:
            self._signal.disconnect(self._received)
