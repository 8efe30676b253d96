"""The GUI thread's collection policy (ui/gc_policy.py)."""

from __future__ import annotations

import gc

from PySide6.QtWidgets import QApplication

from realtime_desktop.ui.gc_policy import MainThreadCollector


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_startup_objects_are_frozen_and_new_cycles_still_collected(qapp: QApplication) -> None:
    collector = MainThreadCollector(qapp)
    try:
        startup = _Cycle()
        collector.freeze_startup_objects()
        # Everything alive at the end of start-up is out of the collector's walk...
        assert gc.get_freeze_count() > 1000
        assert all(o is not startup for o in gc.get_objects())
        # ...while cycles made afterwards are still found and freed.
        later = _Cycle()
        del later
        assert gc.collect() >= 1
        assert not [o for o in gc.get_objects() if isinstance(o, _Cycle)]
    finally:
        collector.stop()
    assert gc.get_freeze_count() == 0
