"""Fixtures of the GUI tests (offscreen; pytest-qt fails a test on any Qt warning).

``run_async`` runs a coroutine on a qasync event loop bound to the test's QApplication, so a
test can drive asyncio code (the controller, the offline server's client, async storage calls)
while Qt keeps processing events, exactly as the app does.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import PySide6.QtWidgets  # noqa: F401 - imported before qasync so qasync binds to PySide6
import pytest
import qasync
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from realtime_desktop.ui.gc_policy import MainThreadCollector

T = TypeVar("T")

ASYNC_TEST_DEADLINE = 60.0


@pytest.fixture(scope="session", autouse=True)
def application_never_quits(qapp: QApplication) -> None:
    """Closing a test's last window would quit the application, after which Qt stops
    delivering timer events to every later test."""
    qapp.setQuitOnLastWindowClosed(False)


@pytest.fixture(scope="session", autouse=True)
def collect_garbage_on_the_gui_thread(qapp: QApplication) -> Iterator[None]:
    """As the app does (ui/gc_policy.py): no Qt object may be destroyed by a collection that
    happens to run in an audio or server thread."""
    collector = MainThreadCollector(qapp)
    yield
    collector.stop()


@pytest.fixture
def qasync_loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """A qasync loop that counts as running for the whole test, like the app's: whoever spins
    Qt events (``run_async``, ``qtbot.waitUntil``, pytest-qt between phases) also runs asyncio
    callbacks, so no task step ever runs outside a running loop."""
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    _spin_until(lambda: all(task.done() for task in pending), ASYNC_TEST_DEADLINE)
    # qasync's stop() calls QApplication.exit(), after which Qt no longer delivers timer events
    # to any later test; mark the loop stopped instead. It also registered itself as this
    # thread's running loop at construction and only unregisters at the end of run_forever,
    # which never ran here: undo that the same way.
    loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)
    loop.close()  # shuts its worker threads down before Qt could destroy them running
    del loop
    gc.collect()  # the closed loop's Qt objects go now, on this (the GUI) thread


def _spin_until(done: Callable[[], bool], deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not done within {deadline_s} s")
        QTest.qWait(5)


@pytest.fixture
def run_async(
    qasync_loop: qasync.QEventLoop,
) -> Callable[[Coroutine[Any, Any, T]], T]:
    """``run_async(coro)`` runs ``coro`` to completion (with a deadline), spinning Qt events."""

    def run(coro: Coroutine[Any, Any, T]) -> T:
        task = qasync_loop.create_task(coro)
        try:
            _spin_until(task.done, ASYNC_TEST_DEADLINE)
        except TimeoutError:
            task.cancel()
            raise
        return task.result()

    return run
