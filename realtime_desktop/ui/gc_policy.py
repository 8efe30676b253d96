"""Cyclic garbage is collected on the GUI thread only, from a timer.

Python's cyclic collector runs in whichever thread happens to allocate. This app has busy
non-GUI threads (the DSP thread, the offline server, executor workers), so a cycle holding a Qt
object — a closed window's timer, an old event loop's timer object — could be destroyed there:
its Qt timers would then be killed from the wrong thread and the GUI thread later dispatches a
timer event to a dead object (a segfault in ``QTimerInfoList::activateTimers``, reproduced in
the window tests before this policy). It also keeps collector pauses out of the audio threads.

Reference counting still frees ordinary garbage at once, in any thread; only cycles wait for
the next tick, at most one interval.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

COLLECT_INTERVAL_MS = 500


class MainThreadCollector(QObject):
    """Turns automatic collection off and runs the same generational collections on a timer.
    Create it on the GUI thread; :meth:`stop` restores automatic collection."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.setInterval(COLLECT_INTERVAL_MS)
        self._timer.timeout.connect(self.collect)
        self._timer.start()

    def collect(self) -> None:
        """What the automatic collector would have done by now, by its own thresholds."""
        for generation, threshold in enumerate(gc.get_threshold()):
            if gc.get_count()[generation] > threshold:
                gc.collect(generation)

    def freeze_startup_objects(self) -> None:
        """Exempt everything alive now (modules, Qt wrappers, the window) from collection.

        Call once start-up is over. A full collection walks every tracked object while it
        holds the GIL; with the app's start-up objects that took 15-20 ms on this machine, two
        audio blocks during which no PortAudio callback could run. Frozen objects are never
        walked again, so a full collection costs what the session has allocated since.
        """
        gc.collect()
        gc.freeze()

    def stop(self) -> None:
        self._timer.stop()
        gc.unfreeze()
        gc.collect()
        if self._was_enabled:
            gc.enable()
