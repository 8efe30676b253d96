"""Guards the PySide6 pin in pyproject.toml (see ../shared/ENVIRONMENT.md).

PySide6 6.12.0 decrements the refcount of ``None`` on every ``QObject.killTimer``. qasync calls
``killTimer`` for every scheduled callback, so on CPython 3.11 a running app dies within seconds
with ``Fatal Python error: none_dealloc``.
"""

import sys

from PySide6.QtCore import QObject
from pytestqt.qtbot import QtBot

CALLS = 5000


def test_kill_timer_leaves_the_refcount_of_none_alone(qtbot: QtBot) -> None:
    timer_owner = QObject()
    before = sys.getrefcount(None)
    for _ in range(CALLS):
        timer_owner.killTimer(timer_owner.startTimer(60_000))
    drift = sys.getrefcount(None) - before
    # The broken release loses exactly one reference per call (-5000 here); unrelated activity
    # moves the count by a few dozen at most.
    assert abs(drift) < CALLS // 10, f"refcount of None drifted by {drift} over {CALLS} calls"
